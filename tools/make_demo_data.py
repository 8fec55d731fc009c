# Runs on the PC: rebuilds data/mnist-demo/ (the first 4000 training and 1000 test samples of
# MNIST, IDX gz) from a folder holding the full MNIST IDX files. Same input, same bytes out.
"""Usage: python3 tools/make_demo_data.py MNIST_FOLDER [--out data/mnist-demo]"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "host"))

from udfa_host.idx import SPLIT_STEMS, load_split, write_idx  # noqa: E402

DEMO_COUNTS = {"train": 4000, "test": 1000}


def make_demo(src, out):
    out.mkdir(parents=True, exist_ok=True)
    for split, count in DEMO_COUNTS.items():
        images, labels = load_split(src, split)
        image_stem, label_stem = SPLIT_STEMS[split]
        write_idx(out / (image_stem + ".gz"), images[:count])
        write_idx(out / (label_stem + ".gz"), labels[:count])
        print("%s: %d of %d samples -> %s" % (split, count, len(images), out))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", type=Path, help="folder with the full MNIST IDX files")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "mnist-demo")
    args = parser.parse_args()
    make_demo(args.src, args.out)


if __name__ == "__main__":
    main()
