#!/usr/bin/env python3
"""Accuracy benchmark (host): trains recipes with `udfa fit` and prints test accuracy and
seconds per epoch. Integer-only training and evaluation (numpy kernel, bit-exact with the
board's plain kernel). Usage:

    python3 tools/bench_accuracy.py --data ../shared/datasets/mnist --recipe mnist
    python3 tools/bench_accuracy.py --data ../shared/datasets/fashion-mnist --recipe fashion
"""
import argparse
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("device", "host")]

from udfa_host import fit  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    fit.add_arguments(p)
    args = p.parse_args()
    history = fit.run(args)
    print("\n| epoch | test % | train % | s/epoch | samples/s |\n|---|---|---|---|---|")
    for h in history:
        print("| %d | %.2f | %.2f | %.1f | %.0f |" % (
            h["epoch"], 100 * h["test_accuracy"], 100 * h["train_accuracy"], h["seconds"],
            h["samples_per_s"]))


if __name__ == "__main__":
    main()
