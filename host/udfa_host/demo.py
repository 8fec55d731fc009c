"""Runs on the PC: `udfa demo`, the whole board workflow on the shipped MNIST subset.

prepare (14x14 shards) -> deploy -> push -> train on the board (virtual RP2040 by default, with
the fastest kernel it has) -> pull -> evaluate on the shipped test subset on the PC -> plots,
a C header. Everything lands in one folder; the virtual board's flash is kept there too, so a
second run skips the files the board already holds.
"""
import json
import time

from udfa.conv import ConvModel

from . import board_train, deploy, plots, push
from .cli import board_profile, data_folder, open_board, output_folder, side_for, summarize
from .evaluate import evaluate
from .export import export
from .idx import load_images
from .shards import write_shards


def run(args):
    data_folder(args.data)  # checked before a board is opened
    out = output_folder(args.out, "demo's files")
    out.mkdir(parents=True, exist_ok=True)
    if args.virtual_dir is None:
        args.virtual_dir = str(out / "board")
    timings = {}
    clock = [time.monotonic()]

    def lap(step):
        now = time.monotonic()
        timings[step] = now - clock[0]
        clock[0] = now

    print("udfa demo: working in %s" % out)
    with open_board(args) as board:
        profile = board_profile(args, board)
        size = side_for(profile["network"]["inputs"])
        images, labels = load_images(args.data, "train", size, args.samples)
        for old in (out / "shards").glob("train-*.uds"):
            old.unlink()
        shards = write_shards(images, labels, out / "shards", "train", profile["shard_bytes"])
        test_x, test_y = load_images(args.data, "test", size)
        print("1/6 prepared %d training samples %dx%d in %d shards" % (len(labels), size, size,
                                                                       len(shards)))
        lap("prepare")
        sent, skipped = deploy.deploy(board, quiet=args.quiet)
        print("2/6 deployed udfa to %s (%d files sent, %d already there)"
              % (args.board, len(sent), len(skipped)))
        lap("deploy")
        sent, skipped, _ = push.push(board, shards, prune=True, quiet=args.quiet)
        print("3/6 pushed %d shards (%d already there)" % (len(sent), len(skipped)))
        lap("push")
        log = out / "train.jsonl"
        events = board_train.train(board, profile, {"epochs": args.epochs, "kernel": args.kernel},
                                   log, fresh=True, quiet=args.quiet)
        print("4/6 trained on the board: %s" % summarize(events, board.vboard is not None))
        lap("train")
        model, state = board_train.pull(board, out / "model.udfa")
        print("5/6 pulled the weights (CRC verified): %s" % (out / "model.udfa"))
        lap("pull")
    accuracy, confusion = evaluate(model, test_x, test_y)
    (out / "eval.json").write_text(json.dumps({
        "model": str(out / "model.udfa"), "samples": len(test_y), "accuracy": accuracy,
        "confusion": confusion.tolist()}) + "\n")
    curve = plots.plot_learning_curve(plots.read_log(log), out / "learning_curve.png", accuracy,
                                      "udfa on %s: %s" % (args.board, model.describe()))
    matrix = plots.plot_confusion(confusion, out / "confusion.png",
                                  "test set, %d samples" % len(test_y))
    # export writes MLPs only
    header = "none: a CNN" if isinstance(model, ConvModel) else export(model, out / "model.h")
    lap("evaluate")
    print("6/6 test accuracy: %.2f%% (%d samples of %s)" % (100 * accuracy, len(test_y),
                                                           args.data))
    print("seconds per step: " + ", ".join("%s %.1f" % kv for kv in timings.items()))
    print("plots: %s, %s\nmodel: %s (C header %s), training log: %s"
          % (curve, matrix, out / "model.udfa", header, log))
    return {"accuracy": accuracy, "events": events, "timings": timings}
