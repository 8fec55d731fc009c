#!/usr/bin/env python3
"""Accuracy benchmark (host) under the honest protocol: trains a recipe (DFA: `udfa fit`'s,
LES: `udfa fit-cnn`'s) once per seed; each seed holds out its own stratified validation split
of the training set, which alone picks the epoch kept; the test set is only reported. Prints
per-epoch test %, each seed's kept epoch and its test %, mean +- std over the seeds, and
seconds per epoch. Integer-only training and evaluation (numpy kernel, bit-exact with the
board's plain kernel). Usage:

    python3 tools/bench_accuracy.py --data ../shared/datasets/mnist --recipe pocketnn
    python3 tools/bench_accuracy.py --data ../shared/datasets/mnist --recipe mnist14-cnn \\
        --seeds 1 --set epochs=4
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("device", "host")]

from udfa_host import fit, fit_cnn  # noqa: E402
from udfa_host.idx import DataError  # noqa: E402
from udfa_host.recipes import CNN_RECIPES, RECIPES  # noqa: E402


def setting(text):
    """KEY=VALUE, VALUE in JSON (e.g. fb_shift=7, target=[127,-127], shifts=[15,13,13])."""
    key, sep, value = text.partition("=")
    try:
        if key and sep:
            return key, json.loads(value)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("%r: give KEY=JSON, e.g. fb_shift=7" % text)


def train_seed(recipe, settings, data, seed, validation, limit):
    """One seed's run; its history (per-epoch dicts with test and validation accuracy)."""
    train_x, train_y, test_x, test_y = data
    if limit:
        train_x, train_y = train_x[:limit], train_y[:limit]
    if recipe in RECIPES:
        with tempfile.TemporaryDirectory(prefix="udfa-bench-") as work:
            return fit.fit(train_x, train_y, test_x, test_y, settings, work, seed,
                           validation=validation)[1]
    train_idx, val_idx = fit.split_validation(train_y, validation, seed)

    def on_epoch(h, model):
        h["val_accuracy"] = fit_cnn.accuracy(model, train_x[val_idx], train_y[val_idx])

    return fit_cnn.fit(train_x[train_idx], train_y[train_idx], test_x, test_y, settings, seed,
                       on_epoch)[1]


def summary(values):
    values = np.asarray(values) * 100
    return "%.2f +- %.2f" % (values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="folder with the IDX files (gz or plain)")
    p.add_argument("--recipe", required=True, choices=sorted(RECIPES) + sorted(CNN_RECIPES))
    p.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--set", type=setting, action="append", default=[], metavar="KEY=JSON",
                   help="override a recipe setting (repeatable), e.g. --set epochs=20")
    p.add_argument("--validation", type=fit.fraction, default=0.1)
    p.add_argument("--limit", type=int, help="train on the first N samples (screening)")
    p.add_argument("--log", help="JSONL file for every seed's per-epoch figures")
    a = p.parse_args(argv)
    if not a.validation:
        p.error("the protocol needs a validation split (--validation > 0)")
    settings = dict(RECIPES.get(a.recipe) or CNN_RECIPES[a.recipe])
    known = set(fit.SETTINGS + ("shifts", "init") if a.recipe in RECIPES else fit_cnn.SETTINGS)
    unknown = sorted(set(dict(a.set)) - known)
    if unknown:
        p.error("--set %s: not a setting of this recipe (it takes %s)"
                % (", ".join(unknown), ", ".join(sorted(known))))
    settings.update(dict(a.set))
    print("%s: %s" % (a.recipe, json.dumps(settings, sort_keys=True)), flush=True)
    try:
        data = fit.load_data(a.data, settings["size"])
    except DataError as e:
        p.error(str(e))
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    runs = []
    for seed in seeds:
        history = train_seed(a.recipe, settings, data, seed, a.validation, a.limit)
        kept = fit.kept_epoch(history)
        runs.append((history, kept))
        print("seed %d: test %% per epoch %s; kept epoch %d (val %.2f): test %.2f %%; "
              "%.1f s/epoch" % (seed, " ".join("%.2f" % (100 * h["test_accuracy"])
                                                for h in history),
                                kept["epoch"], 100 * kept["val_accuracy"],
                                100 * kept["test_accuracy"], seconds(history)), flush=True)
        if a.log:
            with open(a.log, "a") as log:
                for h in history:
                    log.write(json.dumps(dict(h, recipe=a.recipe, seed=seed,
                                              settings=settings)) + "\n")
    epochs = min(len(h) for h, _ in runs)
    print("\n| epoch | test %% (mean +- std of %d seeds) | val %% |\n|---|---|---|" % len(seeds))
    for e in range(epochs):
        print("| %d | %s | %s |" % (e + 1, summary([h[e]["test_accuracy"] for h, _ in runs]),
                                    summary([h[e]["val_accuracy"] for h, _ in runs])))
    print("\nkept (validation-selected) test %%: %s (seeds %s: %s; epochs %s); last epoch: %s; "
          "%.1f s/epoch" % (summary([k["test_accuracy"] for _, k in runs]),
                            ",".join(map(str, seeds)),
                            " ".join("%.2f" % (100 * k["test_accuracy"]) for _, k in runs),
                            ",".join(str(k["epoch"]) for _, k in runs),
                            summary([h[-1]["test_accuracy"] for h, _ in runs]),
                            np.mean([seconds(h) for h, _ in runs])))


def seconds(history):
    return float(np.mean([h["seconds"] for h in history]))


if __name__ == "__main__":
    main()
