# Host training (CPython): `udfa fit` trains on IDX data with the numpy kernel through the
# board agent's own loop (udfa.agent.train), so the weights equal a board's for the same
# shards and settings. A validation split held out of the training data picks the epoch to
# keep; the test set is evaluated after every epoch and only reported.
import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from udfa import agent, checkpoint
from udfa.dfa import DFA
from udfa.model import Model
from udfa_host import conv_numpy, kernels_numpy
from udfa_host.augment import epoch_images
from udfa_host.cli import UsageError, output_file, positive, shift_arg, widths
from udfa_host.evaluate import evaluate
from udfa_host.idx import load_images
from udfa_host.recipes import RECIPES
from udfa_host.shards import write_shards

SETTINGS = ("hidden", "acts", "batch", "lr_shift", "decay", "fb_shift", "target", "epochs",
            "size", "augment")


def load_data(folder, size):
    """(train images, train labels, test images, test labels) from an IDX folder."""
    return load_images(folder, "train", size) + load_images(folder, "test", size)


def fit(train_x, train_y, test_x, test_y, settings, workdir, seed=1, on_epoch=None,
        validation=0.0):
    """Train epoch by epoch; returns (model, history), history holding one dict of figures per
    epoch; settings may hold "init", the initial weights' range (udfa.agent.create, default
    0: zeros). validation: the fraction of the training data held out (stratified, seeded) to
    pick the epoch whose model is returned; 0 keeps the last epoch's. The test set is only
    reported."""
    work = Path(workdir)
    train_idx, val_idx = split_validation(train_y, validation, seed)
    val_x, val_y = train_x[val_idx], train_y[val_idx]
    train_x, train_y = train_x[train_idx], train_y[train_idx]
    augment = settings.get("augment")

    def write(epoch):  # the epoch's samples (udfa_host.augment), the same counts every epoch
        images = epoch_images(train_x, augment, seed, epoch)
        return [str(p) for p in write_shards(images, train_y, work, "train", 1 << 30)]

    shards = write(0)
    sizes = [train_x[0].size] + list(settings["hidden"]) + [10]
    model_path = str(work / "init.udfa")
    with contextlib.redirect_stdout(io.StringIO()):
        agent.create(model_path, sizes, settings["acts"], settings.get("shifts"), seed,
                     settings.get("init", 0))

    def figures(model, h):
        h["test_accuracy"] = evaluate(model, test_x, test_y)[0]
        if len(val_y):
            h["val_accuracy"] = evaluate(model, val_x, val_y)[0]
        if on_epoch:
            on_epoch(h)
        return h.get("val_accuracy")

    rule = {k: settings[k] for k in ("lr_shift", "fb_shift", "target")}
    return train_epochs(shards, model_path, work, settings["epochs"], settings["batch"],
                        settings["decay"], rule, figures, prepare=write if augment else None)


def split_validation(labels, fraction, seed):
    """(train indices, validation indices): `fraction` of each class's samples, drawn with the
    seed, held out (none when fraction is 0 or a class has a single sample)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        take = int(round(fraction * len(idx))) if len(idx) > 1 else 0
        val.append(rng.permutation(idx)[:take])
    val = np.sort(np.concatenate(val)) if val else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), val), val


def train_epochs(shards, model_path, work, epochs, batch, decay, rule, figures=None,
                 patience=None, prepare=None):
    """Train the model file model_path on shards through the board agent's own loop
    (udfa.agent.train) with the numpy kernel, one epoch at a time (each resumes the agent's
    checkpoint: identical to one run of `epochs`). rule: the rule's settings (agent's
    DFA_SETTINGS, or LES_SETTINGS for a CNN / LES model). figures(model, h): adds its figures
    to the epoch's dict h and returns the score to maximize (validation accuracy) or None.
    Returns (model, history): the model of the best-scoring epoch (the later of equals; the
    last without scores), stopping early after `patience` epochs without a better score.
    prepare(epoch) rewrites the shards before each epoch after the first (augmentation)."""
    ckpt = str(Path(work) / "ckpt.udfa")
    ops = conv_numpy if "bw_shift" in rule else None
    history, best, best_score = [], None, None
    for epoch in range(epochs):
        if prepare and epoch:
            prepare(epoch)
        lines = io.StringIO()
        start = time.perf_counter()
        # one BLAS thread: mini-batch products are too small to share, and spare threads
        # spinning on a busy 2-core machine made an epoch 10x slower (measured)
        with contextlib.redirect_stdout(lines), threadpool_limits(1, "blas"):
            agent.train(shards, model_path, epoch + 1, batch, decay, kernel=kernels_numpy,
                        ckpt=ckpt, every=1 << 29, report_every=1 << 29, fresh=epoch == 0,
                        ops=ops, **rule)
        seconds = time.perf_counter() - start
        model, _ = checkpoint.load(ckpt)
        report = [json.loads(l[5:]) for l in lines.getvalue().splitlines()
                  if l.startswith("UDFA ")]
        samples = [r["samples"] for r in report if r["event"] == "start"][-1]
        train_bp = [r["train_bp"] for r in report if r["event"] == "epoch"][-1]
        h = {"epoch": epoch + 1, "train_accuracy": train_bp / 10000, "seconds": seconds,
             "samples_per_s": samples / seconds}
        history.append(h)
        score = figures(model, h) if figures else None
        if score is None or best_score is None or score >= best_score:  # ties: the later
            best, best_score = (model, h["epoch"]), score
        elif patience and h["epoch"] - best[1] >= patience:
            break
    return best[0], history


def kept_epoch(history):
    """The epoch train_epochs keeps: the best validation accuracy (ties: the later), or the
    last when there is no validation split."""
    if "val_accuracy" not in history[0]:
        return history[-1]
    return max(history[::-1], key=lambda h: h["val_accuracy"])


def add_arguments(p):
    p.add_argument("--data", required=True, help="folder with the IDX files (gz or plain)")
    p.add_argument("--recipe", default="mnist", choices=sorted(RECIPES),
                   help="network and settings (see host/udfa_host/recipes.py)")
    p.add_argument("--epochs", type=positive)
    p.add_argument("--hidden", type=widths, help="hidden widths, e.g. 256,128")
    p.add_argument("--size", type=int, choices=(28, 14))
    p.add_argument("--lr-shift", type=shift_arg)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--validation", type=fraction, default=0.1,
                   help="fraction of the training data held out to pick the epoch to keep "
                   "(stratified; default 0.1; 0: keep the last epoch)")
    p.add_argument("--limit", type=positive, help="train on the first N samples only")
    p.add_argument("--out", default="model.udfa", help="model file to write")
    p.add_argument("--log", help="JSONL file for the per-epoch figures")


def fraction(text):
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError("%r: give a fraction from 0 up to (not) 1, e.g. 0.1"
                                         % text)
    return v


def settings_from(args):
    settings = dict(RECIPES[args.recipe])
    for key in ("epochs", "size", "lr_shift"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.hidden:
        settings["hidden"] = list(args.hidden)
        settings["acts"] = [settings["acts"][0]] * (len(settings["hidden"]) + 1)
        settings.pop("shifts", None)
    return settings


def check_settings(settings):
    """Refuse settings the training rule refuses (udfa.dfa's bounds), for the learning rate
    of the last epoch too, before any data is read."""
    sizes = [settings["size"] ** 2] + list(settings["hidden"]) + [10]
    last = agent.slower_shift(settings["lr_shift"], (settings["epochs"] - 1) // settings["decay"])
    try:
        model = Model(sizes, settings["acts"], settings.get("shifts"), 255, 1)
        DFA(model, kernels_numpy, settings["batch"], last, settings["fb_shift"],
            target=settings["target"])
    except ValueError as e:
        raise UsageError("%s with lr_shift %d by epoch %d: %s; pick another --lr-shift, "
                         "--hidden or --epochs" % ("-".join(map(str, sizes)), last,
                                                   settings["epochs"], e)) from None


def run(args):
    settings = settings_from(args)
    check_settings(settings)
    output_file(args.out, "model")
    if args.log:
        output_file(args.log, "log")
    train_x, train_y, test_x, test_y = load_data(args.data, settings["size"])
    if args.limit:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]
    sizes = [train_x[0].size] + settings["hidden"] + [10]
    print("udfa fit: %s, %d training samples (%d%% held out to pick the epoch), %s" % (
        "-".join(map(str, sizes)), len(train_x), round(100 * args.validation),
        ", ".join("%s=%s" % (k, settings[k]) for k in SETTINGS
                  if k in settings and k not in ("hidden", "size"))))
    log = open(args.log, "a") if args.log else None

    def on_epoch(h):
        print("epoch %3d  test %.2f%%  %strain %.2f%%  %6.1f s  %6.0f samples/s" % (
            h["epoch"], 100 * h["test_accuracy"],
            "val %.2f%%  " % (100 * h["val_accuracy"]) if "val_accuracy" in h else "",
            100 * h["train_accuracy"], h["seconds"], h["samples_per_s"]), flush=True)
        if log:
            log.write(json.dumps(dict(h, recipe=args.recipe)) + "\n")
            log.flush()

    with tempfile.TemporaryDirectory(prefix="udfa-fit-") as work:
        model, history = fit(train_x, train_y, test_x, test_y, settings, work, args.seed,
                             on_epoch=on_epoch, validation=args.validation)
    model.save(args.out)
    kept = kept_epoch(history)
    how = ("picked on the validation split (%.2f%%)" % (100 * kept["val_accuracy"])
           if args.validation else "the last")
    print("kept epoch %d, %s: test accuracy %.2f%%; model written to %s"
          % (kept["epoch"], how, 100 * kept["test_accuracy"], args.out))
    return history
