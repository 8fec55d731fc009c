# Runs on the PC: training beyond the flash and personalisation, measured through udfa.
"""bench_flash: data from the flash, in rounds and over mpremote mount; personalisation.

Usage:
  python3 tools/bench_flash.py pico [--pty /tmp/flash-bench] [--samples 1995]
                                    [--mount-samples 665] [--personal 500] [--epochs 5]
  python3 tools/bench_flash.py virtual [--samples 60000]

pico: boots an emulated Pico (../shared/pico: the real MicroPython rp2 firmware, cycles
counted; stopped at the end), deploys udfa and measures by the board's clock (its "ms"):
  1. training samples/s from shards pushed once to its flash, the same shards in rounds
     (udfa_host.rounds, a flash budget of two shards) and read from the PC's folder through
     mpremote's mount (the board reads /remote over the serial link), each with the wall time
     that includes the pushes; the weights of the first two must be equal;
  2. personalisation: `udfa fit` pretrains the rp2040 profile's 196-112-10 on the PC on digits
     0-4 of the first 50,000 MNIST training images (14x14); the board then learns all ten
     digits from --personal samples of the last 10,000 (`udfa train --init`, with and without
     --only-last): test accuracy (10,000 test images) before and after, board-clock time and
     the board's free heap while training.
virtual: all of MNIST at 14x14 (60,000 samples, 11.8 MB of shards) on a virtual:rp2040 board,
whose 1.4 MB flash holds about a tenth of it, in rounds; checks the weights equal one host
run over all the shards (numpy kernel). The virtual board's clock is this PC's, not a Pico's.
MNIST is read from ../shared/datasets/mnist (or $UDFA_MNIST).
"""
import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "device"), str(ROOT / "host")]

from udfa import agent, checkpoint  # noqa: E402
from udfa_host import board_train, cli, kernels_numpy, rounds  # noqa: E402
from udfa_host.boards import load_profile  # noqa: E402
from udfa_host.evaluate import evaluate  # noqa: E402
from udfa_host.idx import SPLIT_STEMS, load_images, write_idx  # noqa: E402
from udfa_host.link import Board  # noqa: E402
from udfa_host.pico import EmulatedPico  # noqa: E402
from udfa_host.shards import write_shards  # noqa: E402

MNIST = Path(os.environ.get("UDFA_MNIST", ROOT.parent / "shared" / "datasets" / "mnist"))
PC_SAMPLES = 50000  # the PC pretrains on (part of) the first 50,000; the board's come after
VALIDATION = 5000  # the last training images: the personalisation's learning rate is picked there
LR_SHIFTS = (11, 12, 13, 14, 15)


def weights(model):
    return [bytes(l.W) + bytes(l.b) for l in model.layers]


def run_train(board, profile, paths, work, **kw):
    """udfa train --from through the API; (mode, rounds, events, wall seconds)."""
    started = time.monotonic()
    mode, n, events = rounds.train_from(board, profile, {"epochs": kw.pop("epochs", 1)},
                                        work / "train.jsonl", paths, fresh=True, quiet=True,
                                        **kw)
    return mode, n, events, time.monotonic() - started


def speed(events):
    samples, seconds, _ = cli.training_time(events)
    return samples, seconds, samples / seconds


def lowest_free(events):
    return min(e["free"] for e in events if "free" in e)


def clear_data(board):
    """Remove the board's shards: each run pushes its own (and pays for it)."""
    board.mkdir(board_train.BOARD_DATA, exist_ok=True)
    for e in board.ls(board_train.BOARD_DATA):
        board.rm(board_train.BOARD_DATA + "/" + e.name)


def mount_run(board, folder, samples, profile):
    """Train a fresh model of the profile on shards that the board reads from the PC's
    folder through mpremote's mount; (events, wall seconds)."""
    import json

    t = profile["train"]
    board.soft_reset()
    board.exec("from udfa import agent\nagent.create('m.udfa', [196, 112, 10], seed=1)",
               timeout=120)
    board.soft_reset()
    board._transport.mount_local(str(folder))  # the board's cwd becomes /remote
    events = []
    started = time.monotonic()
    try:
        board.exec_stream(
            "from udfa import agent\nagent.train('train', model='/m.udfa', ckpt='/m-ckpt.udfa',"
            " epochs=1, batch=%d, lr_shift=%d, fresh=True, every=%d, report_every=%d)"
            % (t["batch"], t["lr_shift"], samples, samples),
            lambda line: line.startswith("UDFA ") and events.append(json.loads(line[5:])))
    finally:
        board._transport.umount_local()
    return events, time.monotonic() - started


def pico(args):
    work = Path(tempfile.mkdtemp(prefix="bench-flash-"))
    profile = load_profile("rp2040")
    x, y = load_images(MNIST, "train", 14)
    tx, ty = load_images(MNIST, "test", 14)
    emu = EmulatedPico(args.pty, "micropython", os.environ.get("UDFA_PICO_EMU",
                                                               ROOT.parent / "shared/pico/emu"))
    emu.start(fresh=True)
    try:
        assert cli.main(["deploy", "--board", args.pty, "-q", "--no-entry"]) == 0
        with Board.open(args.pty) as board:
            board.profile = profile
            speeds(board, profile, x, y, work, args)
            personalise(board, profile, x, y, tx, ty, work, args)
    finally:
        emu.stop()
        shutil.rmtree(work)


def speeds(board, profile, x, y, work, args):
    paths = write_shards(x[:args.samples], y[:args.samples], work / "s", "train",
                         profile["shard_bytes"])
    budget = 2 * rounds.stored(paths[0].stat().st_size, 4096)
    print("## %d MNIST14 samples in %d shards of %d bytes; the emulated Pico, rp2040 profile"
          % (args.samples, len(paths), paths[0].stat().st_size))
    print("| data | rounds | train samples/s (board clock) | train s (board) | wall s, pushes "
          "included | lowest free heap |")
    print("|---|---:|---:|---:|---:|---:|")
    found = {}
    for name, budget_ in (("flash (pushed once)", None), ("rounds (flash budget %d B)"
                                                          % budget, budget)):
        clear_data(board)
        mode, n, events, wall = run_train(board, profile, paths, work, budget=budget_)
        samples, seconds, rate = speed(events)
        print("| %s | %d | %.0f | %.1f | %.0f | %d |" % (name, n, rate, seconds, wall,
                                                       lowest_free(events)))
        found[name] = weights(board_train.pull(board, work / "m.udfa")[0])
        sys.stdout.flush()
    print("weights equal (flash vs rounds): %s" % (len(set(map(tuple, found.values()))) == 1))
    clear_data(board)
    one = write_shards(x[:args.mount_samples], y[:args.mount_samples], work / "mnt", "train",
                       profile["shard_bytes"])
    events, wall = mount_run(board, one[0].parent, args.mount_samples, profile)
    samples, seconds, rate = speed(events)
    print("| mpremote mount (%d samples read from the PC) | - | %.0f | %.1f | %.0f | %d |"
          % (samples, rate, seconds, wall, lowest_free(events)))
    sys.stdout.flush()


def host_train(paths, model, settings, work):
    """The board's job run on the PC (numpy kernel, the same bytes); the trained model."""
    ckpt = str(work / "host-ckpt.udfa")
    with contextlib.redirect_stdout(io.StringIO()):  # the agent's reports
        agent.train([str(p) for p in paths], model=str(model), ckpt=ckpt, fresh=True,
                    kernel=kernels_numpy, **{k: settings[k] for k in board_train.TRAIN_KEYS
                                             if k in settings})
    return checkpoint.load(ckpt)[0]


def personalise(board, profile, x, y, tx, ty, work, args):
    pc = np.flatnonzero(y[:PC_SAMPLES] < 5)
    idx = work / "pc-idx"
    idx.mkdir()
    for split, (images, labels) in {"train": (x[pc], y[pc]), "test": (tx, ty)}.items():
        stem_x, stem_y = SPLIT_STEMS[split]
        # fit reads 28x28 or 14x14 IDX files: 14x14 ones are taken as they are
        write_idx(idx / (stem_x + ".gz"), images)
        write_idx(idx / (stem_y + ".gz"), labels)
    fit_args = ["fit", "--data", str(idx), "--recipe", "mnist14-rp2040", "--size", "14",
                "--epochs", str(args.pc_epochs), "--out", str(work / "pc.udfa")]
    print("\n## personalisation: udfa %s" % " ".join(fit_args[1:]))
    assert cli.main(fit_args) == 0
    model = cli.load_model_file(work / "pc.udfa")
    board_idx = PC_SAMPLES + np.arange(args.personal)
    paths = write_shards(x[board_idx], y[board_idx], work / "b", "train",
                         profile["shard_bytes"])
    vx, vy = x[-VALIDATION:], y[-VALIDATION:]  # training images that neither side learns

    def acc(m, images=tx, labels=ty):
        a, conf = evaluate(m, images, labels)
        old = np.trace(conf[:5, :5]) / conf[:5].sum()
        new = np.trace(conf[5:, 5:]) / conf[5:].sum()
        return a, "%.2f %% (digits 0-4: %.2f %%, 5-9: %.2f %%)" % (100 * a, 100 * old,
                                                                  100 * new)

    print("PC model (%d samples of digits 0-4): test %s" % (len(pc), acc(model)[1]))
    print("| on the board | lr_shift (validation) | test accuracy after | train s (board "
          "clock) | samples/s | lowest free heap | = host |")
    print("|---|---|---|---:|---:|---:|---|")
    for label, layers in (("all layers", None), ("--only-last", [-1])):
        # the learning rate: picked on held-out training images, on the PC (the same bytes)
        tried = {}
        for shift in LR_SHIFTS:
            train = dict(profile["train"], train_layers=layers, lr_shift=shift,
                         epochs=args.epochs)
            tried[shift] = acc(host_train(paths, work / "pc.udfa", train, work), vx, vy)[0]
        shift = max(tried, key=tried.get)
        train = dict(profile["train"], train_layers=layers, lr_shift=shift)
        clear_data(board)
        _, _, events, wall = run_train(board, dict(profile, train=train), paths, work,
                                       init=work / "pc.udfa", epochs=args.epochs)
        samples, seconds, rate = speed(events)
        m = board_train.pull(board, work / "p.udfa")[0]
        same = weights(m) == weights(host_train(paths, work / "pc.udfa", dict(
            train, epochs=args.epochs), work))
        print("| %s, %d samples x %d epochs | %d (%.2f %%) | %s | %.1f | %.0f | %d | %s |"
              % (label, args.personal, args.epochs, shift, 100 * tried[shift], acc(m)[1],
                 seconds, rate, lowest_free(events), same))
        sys.stdout.flush()


def virtual(args):
    work = Path(tempfile.mkdtemp(prefix="bench-flash-"))
    x, y = load_images(MNIST, "train", 14)
    profile = load_profile("rp2040")
    paths = write_shards(x[:args.samples], y[:args.samples], work / "s", "train",
                         profile["shard_bytes"])
    total = sum(p.stat().st_size for p in paths)
    print("## %d MNIST14 samples, %d shards, %d bytes; virtual:rp2040 (flash %d bytes)"
          % (args.samples, len(paths), total, profile["flash_bytes"]))
    try:
        assert cli.main(["deploy", "--board", "virtual:rp2040", "--virtual-dir",
                         str(work / "v"), "-q", "--no-entry"]) == 0
        with Board.open("virtual:rp2040", state_dir=str(work / "v")) as board:
            mode, n, events, wall = run_train(board, profile, paths, work)
            samples, seconds, rate = speed(events)
            model = board_train.pull(board, work / "m.udfa")[0]
        t = profile["train"]
        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):  # the agent's reports
            agent.create(str(work / "h.udfa"), [196, 112, 10], t["acts"])
            agent.train([str(p) for p in paths], model=str(work / "h.udfa"),
                        ckpt=str(work / "hc.udfa"), epochs=1, fresh=True,
                        kernel=kernels_numpy, **{k: t[k] for k in board_train.TRAIN_KEYS
                                                 if k in t and k != "epochs"})
        host = time.monotonic() - started
        same = weights(model) == weights(checkpoint.load(str(work / "hc.udfa"))[0])
        print("%s: %d rounds, %d samples, %.0f samples/s by the virtual board's clock (x86 "
              "unix port), %.0f s wall with the pushes; host single run %.0f s; weights "
              "equal: %s" % (mode, n, samples, rate, wall, host, same))
    finally:
        shutil.rmtree(work)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="where", required=True)
    a = sub.add_parser("pico")
    a.add_argument("--pty", default="/tmp/flash-bench")
    a.add_argument("--samples", type=int, default=1995)
    a.add_argument("--mount-samples", type=int, default=665)
    a.add_argument("--personal", type=int, default=500)
    a.add_argument("--epochs", type=int, default=5)
    a.add_argument("--pc-epochs", type=int, default=5)
    v = sub.add_parser("virtual")
    v.add_argument("--samples", type=int, default=60000)
    args = p.parse_args()
    pico(args) if args.where == "pico" else virtual(args)


if __name__ == "__main__":
    main()
