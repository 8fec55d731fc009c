# Host training (CPython): `udfa fit` trains on IDX data with the numpy kernel through the
# board agent's own loop (udfa.agent.train), so the weights equal a board's for the same
# shards and settings. It evaluates the test set after every epoch.
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from udfa import agent, checkpoint
from udfa.dfa import DFA
from udfa.model import Model
from udfa_host import kernels_numpy
from udfa_host.cli import UsageError, output_file, positive, shift_arg, widths
from udfa_host.evaluate import evaluate
from udfa_host.idx import load_images
from udfa_host.recipes import RECIPES
from udfa_host.shards import write_shards

SETTINGS = ("hidden", "acts", "batch", "lr_shift", "decay", "fb_shift", "target", "epochs",
            "size")


def load_data(folder, size):
    """(train images, train labels, test images, test labels) from an IDX folder."""
    return load_images(folder, "train", size) + load_images(folder, "test", size)


def fit(train_x, train_y, test_x, test_y, settings, workdir, seed=1, init=0, on_epoch=None):
    """Train epoch by epoch (each resumes the agent's checkpoint: identical to one run);
    returns (model, history), history holding one dict of figures per epoch."""
    work = Path(workdir)
    shards = [str(p) for p in write_shards(train_x, train_y, work, "train", 1 << 30)]
    sizes = [train_x[0].size] + list(settings["hidden"]) + [10]
    model_path, ckpt = str(work / "init.udfa"), str(work / "ckpt.udfa")
    with contextlib.redirect_stdout(io.StringIO()):
        agent.create(model_path, sizes, settings["acts"], settings.get("shifts"), seed, init)
    history = []
    for epoch in range(settings["epochs"]):
        lines = io.StringIO()
        start = time.perf_counter()
        # one BLAS thread: mini-batch products are too small to share, and spare threads
        # spinning on a busy 2-core machine made an epoch 10x slower (measured)
        with contextlib.redirect_stdout(lines), threadpool_limits(1, "blas"):
            agent.train(shards, model_path, epoch + 1, settings["batch"], settings["decay"],
                        lr_shift=settings["lr_shift"], fb_shift=settings["fb_shift"],
                        target=settings["target"], kernel=kernels_numpy, ckpt=ckpt,
                        every=1 << 29, report_every=1 << 29, fresh=epoch == 0)
        seconds = time.perf_counter() - start
        model, _ = checkpoint.load(ckpt)
        accuracy, _ = evaluate(model, test_x, test_y)
        report = [json.loads(l[5:]) for l in lines.getvalue().splitlines()
                  if l.startswith("UDFA ")]
        train_bp = [r["train_bp"] for r in report if r["event"] == "epoch"][-1]
        history.append({"epoch": epoch + 1, "test_accuracy": accuracy,
                        "train_accuracy": train_bp / 10000, "seconds": seconds,
                        "samples_per_s": len(train_x) / seconds})
        if on_epoch:
            on_epoch(history[-1])
    return model, history


def add_arguments(p):
    p.add_argument("--data", required=True, help="folder with the IDX files (gz or plain)")
    p.add_argument("--recipe", default="mnist", choices=sorted(RECIPES),
                   help="network and settings (see host/udfa_host/recipes.py)")
    p.add_argument("--epochs", type=positive)
    p.add_argument("--hidden", type=widths, help="hidden widths, e.g. 256,128")
    p.add_argument("--size", type=int, choices=(28, 14))
    p.add_argument("--lr-shift", type=shift_arg)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--limit", type=positive, help="train on the first N samples only")
    p.add_argument("--out", default="model.udfa", help="model file to write")
    p.add_argument("--log", help="JSONL file for the per-epoch figures")


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
    print("udfa fit: %s, %d training samples, %s" % (
        "-".join(map(str, sizes)), len(train_x),
        ", ".join("%s=%s" % (k, settings[k]) for k in SETTINGS if k not in ("hidden", "size"))))
    log = open(args.log, "a") if args.log else None

    def on_epoch(h):
        print("epoch %3d  test %.2f%%  train %.2f%%  %6.1f s  %6.0f samples/s" % (
            h["epoch"], 100 * h["test_accuracy"], 100 * h["train_accuracy"], h["seconds"],
            h["samples_per_s"]), flush=True)
        if log:
            log.write(json.dumps(dict(h, recipe=args.recipe)) + "\n")
            log.flush()

    with tempfile.TemporaryDirectory(prefix="udfa-fit-") as work:
        model, history = fit(train_x, train_y, test_x, test_y, settings, work, args.seed,
                             on_epoch=on_epoch)
    model.save(args.out)
    best = max(history, key=lambda h: h["test_accuracy"])
    print("best test accuracy %.2f%% (epoch %d); model written to %s"
          % (100 * best["test_accuracy"], best["epoch"], args.out))
    return history
