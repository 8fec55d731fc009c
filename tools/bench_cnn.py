# Accuracy and speed benchmark of LES training on the host (PC only): runs udfa_host.fit_cnn
# recipes one after another (one training process: 2-core machines) and appends each epoch's
# figures to a JSONL log. Example (the commands in docs/RESULTS.md):
#   nice -n 10 python tools/bench_cnn.py --datasets /work/shared/datasets mnist-cnn fashion-cnn
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "device"), str(ROOT / "host")]

from udfa_host import fit_cnn  # noqa: E402
from udfa_host.recipes import CNN_RECIPES  # noqa: E402

DATA = {"fashion-cnn": "fashion-mnist"}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("recipes", nargs="+", choices=sorted(CNN_RECIPES))
    p.add_argument("--datasets", required=True, help="folder holding mnist/ and fashion-mnist/")
    p.add_argument("--epochs", type=int)
    p.add_argument("--limit", type=int, help="train on the first N samples (screening)")
    p.add_argument("--log", default="bench_cnn.jsonl")
    p.add_argument("--out-dir", default=".")
    a = p.parse_args(argv)
    for name in a.recipes:
        args = ["--data", str(Path(a.datasets) / DATA.get(name, "mnist")), "--recipe", name,
                "--log", a.log, "--out", str(Path(a.out_dir) / (name + ".udfa"))]
        if a.epochs:
            args += ["--epochs", str(a.epochs)]
        if a.limit:
            args += ["--limit", str(a.limit)]
        fit_cnn.main(args)


if __name__ == "__main__":
    main()
