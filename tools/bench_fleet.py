#!/usr/bin/env python3
"""Fleet benchmark: N boards (default 4 virtual RP2040s) learn 14x14 MNIST together on Flower
(`udfa fleet`), IID and non-IID, against one board trained on all the data with the same
sample visits (a fleet of one `host` node: averaging one reply is the identity, and the host's
numpy kernel gives a board's weights). Prints test accuracy per round, bytes moved per round,
seconds per round and the rounds each run needs to reach --target % test accuracy. Usage:

    python3 tools/bench_fleet.py --data ../shared/datasets/mnist --rounds 5
    python3 tools/bench_fleet.py --data ../shared/datasets/mnist --boards "virtual:rp2040 x8" \
        --rounds 15
    python3 tools/bench_fleet.py --sklearn digits --boards "virtual:rp2040 x8" --rounds 15
    python3 tools/bench_fleet.py --pico /tmp/my-pico --samples 400 --rounds 2

--pico PORT: instead, one fleet of the emulated Pico at PORT ('udfa board start --pico ...')
and one `host` node, IID; prints each round's training time by the board's clock (its train
log's reports) beside the round's wall-clock seconds.

--sklearn NAME: one of scikit-learn's datasets as a user's own data (an .npz file, read by
udfa_host.datasets: 20 % of each class held out as the test set, the input map fitted on the
rest).
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("device", "host")]

from udfa_host import cli  # noqa: E402
from udfa_host.fleet import run, server  # noqa: E402


def fleet(work, name, boards, split, a):
    out = Path(work) / name
    argv = ["--boards"] + boards + ["--data", str(a.data), "--split", split, "--rounds",
                                    str(a.rounds), "--epochs", str(a.epochs), "--out", str(out),
                                    "--profile", a.profile, "--engine", a.engine, "-q"]
    if a.samples:
        argv += ["--samples", str(a.samples)]
    p = cli.Parser(prog="udfa fleet")
    run.add_arguments(p)
    run.run(p.parse_args(argv))
    return [json.loads(l) for l in (out / server.LOG).read_text().splitlines()]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=cli.DEMO_DATA)
    p.add_argument("--sklearn", help="instead of --data: scikit-learn's dataset NAME (digits, "
                   "breast_cancer, ...) as own data")
    p.add_argument("--boards", default="virtual:rp2040 x4")
    p.add_argument("--profile", default="rp2040")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=1, help="epochs per board per round")
    p.add_argument("--samples", type=int, help="only the first N training samples")
    p.add_argument("--engine", default="local", choices=("local", "deployment", "simulation"),
                   help="Flower's in-process grid (default), its Deployment Engine or its "
                   "simulation engine (host nodes)")
    p.add_argument("--target", type=float, default=95.0, help="test accuracy %% to reach")
    p.add_argument("--pico", metavar="PORT", help="one round-by-round fleet of the emulated "
                   "Pico at PORT and a host node")
    a = p.parse_args()
    boards = a.boards.split()
    with tempfile.TemporaryDirectory(prefix="udfa-bench-fleet-") as work:
        if a.pico:
            return pico(work, a)
        if a.sklearn:
            a.data = sklearn_npz(a.sklearn, Path(work))
        runs = {"iid": fleet(work, "iid", boards, "iid", a),
                "noniid:2": fleet(work, "noniid", boards, "noniid:2", a),
                "one board, all data": fleet(work, "one", ["host"], "iid", a)}
    n = len(run.board_list(boards))
    print("\n%s, %d rounds of %d epochs, %s\n" % (" ".join(boards), a.rounds, a.epochs,
                                                  a.sklearn or a.data))
    names = list(runs)
    print("| round | " + " | ".join("%s test %%" % k for k in names) +
          " | bytes/round (fleet) | s/round iid | s/round non-IID |")
    print("|---" * (len(names) + 4) + "|")
    for r in range(a.rounds):
        print("| %d | %s | %d | %.1f | %.1f |" % (
            r + 1, " | ".join("%.2f" % (100 * runs[k][r]["test-accuracy"]) for k in names),
            runs["iid"][r]["bytes"], runs["iid"][r]["seconds"],
            runs["noniid:2"][r]["seconds"]))
    print("\nrounds to %.2f %%: %s" % (a.target, "; ".join(
        "%s %s" % (k, reached(runs[k], a.target)) for k in names)))
    print("seconds a round after the first (median): %s" % "; ".join(
        "%s %.1f" % (k, median([row["seconds"] for row in runs[k][1:]] or [0])) for k in names))
    per_board = runs["iid"][0]["bytes"] // (2 * n)
    print("bytes/round = the model (%d bytes of int16 weights) down to each of %d boards and "
          "back up from each" % (per_board, n))


def pico(work, a):
    rows = fleet(work, "pico", [a.pico, "host"], "iid", a)
    log = Path(work) / "pico" / "nodes" / "0" / "train.jsonl"
    events = [json.loads(l) for l in log.read_text().splitlines()]
    starts = [e for e in events if e["event"] == "start"]
    dones = [e for e in events if e["event"] == "done"]
    print("\n%s (emulated Pico) + host, %d rounds of %d epochs, %s\n"
          % (a.pico, a.rounds, a.epochs, a.data))
    print("| round | test % | Pico: sample visits | Pico: job, board clock s | Pico: training "
          "(start to done), board clock s | Pico: samples/s training | bytes/round | round, "
          "wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for row, start, done in zip(rows, starts, dones):
        train_ms = max(1, done["ms"] - start["ms"])
        print("| %d | %.2f | %d | %.2f | %.2f | %.0f | %d | %.1f |" % (
            row["round"], 100 * row["test-accuracy"], done["seen"], done["ms"] / 1000,
            train_ms / 1000, 1000 * done["seen"] / train_ms, row["bytes"], row["seconds"]))
    print("\njob: the board's training job from its start (loading the model and the shards' "
          "index) to its last checkpoint, by its own clock (ticks_ms)")


def sklearn_npz(name, work):
    import numpy as np
    from sklearn import datasets

    x, y = getattr(datasets, "load_" + name)(return_X_y=True)
    path = work / (name + ".npz")
    np.savez(path, x=x, y=y)
    return path


def reached(rows, target):
    for row in rows:
        if 100 * row["test-accuracy"] >= target:
            return str(row["round"])
    return "not in %d" % len(rows)


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


if __name__ == "__main__":
    main()
