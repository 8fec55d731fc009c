# Host training of integer CNNs and LES MLPs (CPython): udfa.les with the numpy kernel and
# numpy conv ops, bit-identical to the plain kernel on a board for the same batches.
#
#   python -m udfa_host.fit_cnn --data DIR --net c32k3p2-c64k3p2-f10 --epochs 10
#   python -m udfa_host.fit_cnn --data DIR --net f100-f50-f10 --rule dfa   (udfa fit's DFA)
# Epoch order: XorShift32(seed ^ epoch) shuffles the sample indices (portable: a board
# replaying the same order gets the same weights).
import argparse
import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from udfa.agent import slower_shift
from udfa.conv import ConvModel, ConvNetwork, parse
from udfa.les import LES
from udfa.rng import XorShift32
from udfa_host import conv_numpy, evaluate, kernels_numpy
from udfa_host.augment import epoch_images
from udfa_host.cli import UsageError, output_file, positive, shift_arg
from udfa_host.fit import fraction, split_validation
from udfa_host.recipes import CNN_RECIPES

EXACT_LIMIT = 1 << 53  # float64 BLAS sums stay exact below this


def epoch_order(n, seed, epoch):
    order = list(range(n))
    XorShift32(seed ^ ((epoch + 1) * 0x9E37)).shuffle(order)
    return np.array(order, dtype=np.int64)


def predict(model, images, batch=500):
    return evaluate.predict(model, images, batch,
                            ConvNetwork(model, kernels_numpy, conv_numpy, batch))


def accuracy(model, images, labels):
    return float((predict(model, images) == np.asarray(labels)).mean())


def new_model(settings, shape, seed=1):
    """A ConvModel of settings["net"] on inputs of shape (H, W, C), Kaiming weights."""
    model = ConvModel(settings["net"], shape, 255, seed)
    # scaling shifts per block and per head (the last: the output layer); the model file
    # stores them
    for b, shift in zip(model.blocks, settings.get("shifts") or ()):
        b.layer.shift = shift
    heads = [b.head for b in model.blocks[:-1]] + [model.out]
    for head, shift in zip(heads, settings.get("head_shifts") or ()):
        head.shift = shift
    model.init_kaiming()
    return model


def trainer(model, settings, lr=None, head_lr=None):
    """The LES trainer of settings (learning-rate shifts lr, head_lr: default the
    settings')."""
    return LES(model, kernels_numpy, conv_numpy, settings["batch"],
               settings["lr_shift"] if lr is None else lr,
               settings.get("head_lr_shift") if head_lr is None else head_lr,
               settings["bw_shift"], settings.get("wd_shift", 0), tuple(settings["target"]),
               EXACT_LIMIT, settings.get("random_round", True))


def check_settings(settings, shape):
    """Refuse a spec or settings that udfa.conv / udfa.les refuse (for the learning rates of
    the last epoch too), before any data is read."""
    slower = (settings["epochs"] - 1) // settings["decay"]
    try:
        trainer(new_model(settings, shape), settings,
                slower_shift(settings["lr_shift"], slower),
                slower_shift(settings.get("head_lr_shift"), slower))
    except ValueError as e:
        raise UsageError("%s on %s: %s; pick another --net, --batch or --lr-shift"
                         % (settings["net"], "x".join(map(str, shape)), e)) from None


def fit(train_x, train_y, test_x, test_y, settings, seed=1, on_epoch=None, threads=1,
        model=None):
    """Train a ConvModel by LES; returns (model, history of per-epoch figures)."""
    shape = train_x.shape[1:] + (1,) if train_x.ndim == 3 else (1, 1, train_x.shape[1])
    if model is None:
        model = new_model(settings, shape, seed)
    B = settings["batch"]
    net = trainer(model, settings)
    x = kernels_numpy.buffer(B, model.n_inputs, "B")
    lab = kernels_numpy.buffer(B, 1, "B")
    history = []
    for epoch in range(settings["epochs"]):
        slower = epoch // settings["decay"]  # the learning rates halve every `decay` epochs
        net.set_lr_shift(slower_shift(settings["lr_shift"], slower),
                         slower_shift(settings.get("head_lr_shift"), slower))
        x_all = epoch_images(train_x, settings.get("augment"), seed, epoch).reshape(
            len(train_x), -1)
        order = epoch_order(len(x_all), seed, epoch)
        right = 0
        start = time.perf_counter()
        with threadpool_limits(threads, "blas"):
            for s in range(0, len(order), B):
                sel = order[s:s + B]
                rows = len(sel)
                x[:rows] = x_all[sel]
                lab[:rows] = train_y[sel]
                net.step(x, lab, rows)
                right += int((net.y[:rows].argmax(axis=1) == lab[:rows]).sum())
        seconds = time.perf_counter() - start
        with threadpool_limits(threads, "blas"):
            test = accuracy(model, test_x, test_y) if test_x is not None else None
        history.append({"epoch": epoch + 1, "test_accuracy": test,
                        "train_accuracy": right / len(order), "seconds": seconds,
                        "samples_per_s": len(order) / seconds})
        if on_epoch:
            on_epoch(history[-1], model)
    return model, history


SETTINGS = ("net", "batch", "shifts", "head_shifts", "lr_shift", "head_lr_shift", "bw_shift",
            "wd_shift", "target", "decay", "epochs", "augment", "size")


def add_arguments(p):
    p.add_argument("--data", required=True, help="folder with the IDX files (gz or plain)")
    p.add_argument("--recipe", default="mnist-cnn", choices=sorted(CNN_RECIPES),
                   help="network and settings (host/udfa_host/recipes.py CNN_RECIPES)")
    p.add_argument("--net", help="architecture spec, e.g. c32k3p2-c64k3p2-f10 or f100-f50-f10")
    p.add_argument("--rule", default="les", choices=("les", "dfa"),
                   help="les (any spec) or dfa (dense specs only: runs udfa fit)")
    for key in ("epochs", "batch", "decay"):
        p.add_argument("--" + key, type=positive)
    for key in ("lr-shift", "head-lr-shift", "bw-shift", "wd-shift"):
        p.add_argument("--" + key, type=shift_arg)
    p.add_argument("--size", type=int, choices=(28, 14))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--validation", type=fraction, default=0.1,
                   help="fraction of the training data held out to pick the epoch whose "
                   "model is written (stratified; default 0.1; 0: the last epoch)")
    p.add_argument("--limit", type=positive, help="train on the first N samples only")
    p.add_argument("--test-limit", type=positive, help="evaluate on the first N test samples")
    p.add_argument("--threads", type=positive, default=1, help="BLAS threads")
    p.add_argument("--out", default="model.udfa", help="model file to write (each epoch)")
    p.add_argument("--log", help="JSONL file for the per-epoch figures")


def settings_from(args):
    settings = dict(CNN_RECIPES[args.recipe])
    for key in SETTINGS:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    return settings


def _run_dfa(args, settings):
    """A dense spec under DFA: the existing `udfa fit` with the spec's hidden widths."""
    from udfa_host import fit as dfa_fit
    widths = [p[1] for p in parse(settings["net"])]
    dfa_args = argparse.Namespace(data=args.data, recipe="mnist", epochs=args.epochs,
                                  hidden=widths[:-1], size=args.size,
                                  lr_shift=args.lr_shift, seed=args.seed, limit=args.limit,
                                  out=args.out, log=args.log, validation=args.validation)
    return dfa_fit.run(dfa_args)


def run(args):
    from udfa_host.fit import load_data
    settings = settings_from(args)
    try:
        layers = parse(settings["net"])
    except ValueError as e:
        hint = "" if "e.g." in str(e) else ": use cNkKpPgG blocks, then fN (e.g. c16k3p2-f10)"
        raise UsageError("--net %s: %s%s" % (settings["net"], e, hint)) from None
    if args.rule == "dfa":
        if any(p[0] != 0 for p in layers):
            raise UsageError("--rule dfa trains dense specs only (fN-...); use --rule les")
        return _run_dfa(args, settings)
    check_settings(settings, (settings["size"], settings["size"], 1))
    output_file(args.out, "model")
    if args.log:
        output_file(args.log, "log")
    train_x, train_y, test_x, test_y = load_data(args.data, settings["size"])
    if args.limit:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]
    train_idx, val_idx = split_validation(train_y, args.validation, args.seed)
    val_x, val_y = train_x[val_idx], train_y[val_idx]
    train_x, train_y = train_x[train_idx], train_y[train_idx]
    if args.test_limit:
        test_x, test_y = test_x[:args.test_limit], test_y[:args.test_limit]
    print("udfa fit-cnn: LES %s on %s, %d training samples, %s" % (
        settings["net"], "x".join(map(str, train_x.shape[1:])), len(train_x),
        ", ".join("%s=%s" % (k, settings.get(k)) for k in SETTINGS[1:-1])), flush=True)
    log = open(args.log, "a") if args.log else None

    kept = {}

    def on_epoch(h, model):
        if len(val_y):
            h["val_accuracy"] = accuracy(model, val_x, val_y)
        print("epoch %3d  test %.2f%%  %strain %.2f%%  %7.1f s  %6.0f samples/s" % (
            h["epoch"], 100 * h["test_accuracy"],
            "val %.2f%%  " % (100 * h["val_accuracy"]) if len(val_y) else "",
            100 * h["train_accuracy"], h["seconds"], h["samples_per_s"]), flush=True)
        if not kept or h.get("val_accuracy", 1) >= kept.get("val_accuracy", 1):
            kept.update(h)  # the validation split picks the epoch written (ties: the later)
            model.save(args.out)
        if log:
            log.write(json.dumps(dict(h, net=settings["net"], recipe=args.recipe)) + "\n")
            log.flush()

    model, history = fit(train_x, train_y, test_x, test_y, settings, args.seed, on_epoch,
                         args.threads)
    print("kept epoch %d (%s): test accuracy %.2f%%; model written to %s (%d bytes of "
          "weights for inference)" % (
              kept["epoch"], "picked on the validation split" if len(val_y) else "the last",
              100 * kept["test_accuracy"], args.out, model.inference_bytes()))
    return history


def main(argv=None):
    """`udfa fit-cnn`, with the command's checks and one-line errors; the exit code."""
    from udfa_host import cli

    return cli.main(["fit-cnn"] + list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
