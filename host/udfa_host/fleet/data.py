"""Runs on the PC: a fleet's data, the training samples to split per board and the test set.

An IDX folder (MNIST's format): its train split, at the profile's image side, and its test
split for the server's test accuracy. A file of a user's own data (datasets.load: a CSV with a
header row, .npy or .npz): a stratified, seeded share (--test-part) held out as the test set,
the integer input map (preprocess.fit) fitted on the rest and applied to both, and written
with the test set to OUT/test.npz; the network takes the data's inputs and classes around the
profile's hidden layers, and the global model carries the input map (a board then turns raw
readings into the bytes it learned from).
"""
from pathlib import Path

import numpy as np

from .. import datasets, preprocess
from ..cli import UsageError, side_for
from ..fit import split_validation
from ..idx import load_images

TEST = "test.npz"


class FleetData:
    """x, y: the training samples (uint8) and labels; sizes: the network's layer sizes;
    test: the run config's entries naming the test set; prep: the input map, or None."""

    def __init__(self, x, y, sizes, test, prep=None):
        self.x, self.y, self.sizes, self.test, self.prep = x, y, sizes, test, prep


def load(args, profile, out):
    net = profile["network"]
    hidden = list(net["hidden"])
    if Path(args.data).is_dir():
        size = side_for(net["inputs"])
        x, y = load_images(args.data, "train", size, args.samples)
        return FleetData(x, y, [net["inputs"]] + hidden + [net["outputs"]],
                         {"test-data": str(args.data), "size": size})
    data = datasets.load(args.data, args.label, limit=args.samples)
    sizes = datasets.check_fits(data, profile, hidden)
    train, test = split_validation(data.y, args.test_part, args.seed)
    if not len(test) or not len(train):
        raise UsageError("%s: %d samples leave no test set at --test-part %g: use more data "
                         "or a larger part" % (args.data, len(data), args.test_part))
    prep = preprocess.fit(data.x[train], data.shape, data.classes)
    x = preprocess.apply(prep, data.x).reshape((len(data),) + data.shape)  # as shards hold
    np.savez(out / TEST, x=x[test], y=data.y[test].astype(np.uint8))
    return FleetData(x[train], data.y[train], sizes, {"test-data": str(out / TEST)}, prep)


def test_set(config):
    """(inputs, labels) of the run config's test set (TEST or an IDX folder), or None."""
    where = config.get("test-data")
    if not where:
        return None
    if str(where).endswith(".npz"):
        with np.load(str(where)) as f:
            return f["x"], f["y"]
    return load_images(str(where), "test", int(config["size"]))
