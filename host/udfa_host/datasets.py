# Runs on the PC: reads a labelled dataset from wherever a user has it (a CSV file with a
# header row, .npy / .npz arrays, an MNIST-format IDX folder, numpy arrays from Python) into
# one shape, and checks that it fits a board's profile. Every refusal is one line naming the
# file, the row and column, or the limit (DataError, which the CLI prints in one line).
import csv
from pathlib import Path

import numpy as np

from udfa.shard import MAX_INPUTS

from .idx import DataError, load_images, load_split

MAX_CLASSES = 255  # a shard's label is a byte
LABEL_NAMES = ("label", "class", "target", "y")  # the label column when --label is not given


class Dataset:
    """x: (N, H, W, C) uint8 images or (N, n) real/integer features; y: (N,) class indices
    0..k-1; classes: the k class names (str), in index order; source: names it in errors."""

    def __init__(self, x, y, classes, source):
        self.x, self.y, self.classes, self.source = x, y, list(classes), source

    @property
    def shape(self):
        """(H, W, C) of one sample: features are (1, n, 1)."""
        return tuple(self.x.shape[1:]) if self.x.ndim == 4 else (1, self.x.shape[1], 1)

    @property
    def n_inputs(self):
        return int(np.prod(self.shape))

    def take(self, rows):
        return Dataset(self.x[rows], self.y[rows], self.classes, self.source)

    def __len__(self):
        return len(self.y)


def class_indices(labels, source, classes=None):
    """(indices, class names) of labels: the sorted distinct values (as scikit-learn's
    classes_), or the given `classes`, which every label must be one of."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not len(labels):
        raise DataError("%s: labels of shape %s; give one label per sample"
                        % (source, labels.shape))
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        raise DataError("%s: label of sample %d is NaN; give every sample a label"
                        % (source, int(np.flatnonzero(np.isnan(labels))[0])))
    if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)  # 5.0 is class "5"
    found, idx = np.unique(labels, return_inverse=True)
    if classes is None:
        classes = found
    else:
        classes = np.asarray(classes)
        pos = np.searchsorted(classes, found)
        bad = [v for v, p in zip(found, pos) if p >= len(classes) or classes[p] != v]
        if bad:
            raise DataError("%s: label %r is not one of the classes %s"
                            % (source, bad[0], list(classes)))
        idx = pos[idx]
    if len(classes) > MAX_CLASSES:
        raise DataError("%s: %d classes, a board's model holds at most %d"
                        % (source, len(classes), MAX_CLASSES))
    return idx.astype(np.int64), [str(c) for c in classes]


def from_arrays(x, y, source="the data", classes=None):
    """A Dataset of numpy-like x (N, features) or (N, H, W[, C]) and labels y (N,)."""
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] != np.shape(y)[0]:
        raise DataError("%s: samples of shape %s and %d labels; give x as (samples, features) "
                        "and one label per sample" % (source, x.shape, np.shape(y)[0]))
    if x.dtype.kind not in "iufb":
        raise DataError("%s: the samples are %s, not numbers; convert them to numbers"
                        % (source, x.dtype))
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        r, c = np.argwhere(~np.isfinite(x).reshape(len(x), -1))[0]
        raise DataError("%s: sample %d, feature %d is %s; fill in or drop missing values"
                        % (source, r, c, x.reshape(len(x), -1)[r, c]))
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim == 4 and x.dtype != np.uint8:
        x = x.reshape(len(x), -1)  # real-valued images: features, mapped by udfa.prep
    if x.ndim > 4:
        raise DataError("%s: samples of shape %s; give (H, W, C) images or feature vectors"
                        % (source, x.shape[1:]))
    idx, names = class_indices(y, source, classes)
    data = Dataset(x, idx, names, source)
    if data.n_inputs > MAX_INPUTS:
        raise DataError("%s: %d inputs per sample, a model takes at most %d"
                        % (source, data.n_inputs, MAX_INPUTS))
    return data


def _number(text, row, name, path):
    try:
        v = float(text)
    except ValueError:
        raise DataError("%s: row %d, column %r: %r is not a number; fix the value or drop the "
                        "column" % (path, row, name, text)) from None
    if v != v or v in (float("inf"), float("-inf")):
        raise DataError("%s: row %d, column %r is %s; fill in or drop missing values"
                        % (path, row, name, text.strip()))
    return v


def read_csv(path, label=None):
    """A Dataset of a CSV file: a header row, one column of labels (`label`, or the first
    column named label/class/target/y, or the last column), every other column a number."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError:
        raise DataError("%s: not a text file; name a CSV file with a header row" % path)
    rows = [r for r in rows if any(cell.strip() for cell in r)]  # blank lines
    if len(rows) < 2:
        raise DataError("%s: %d rows; need a header row and at least one sample"
                        % (path, len(rows)))
    header = [h.strip() for h in rows[0]]
    if label is None:
        lower = [h.lower() for h in header]
        label = next((header[lower.index(n)] for n in LABEL_NAMES if n in lower), header[-1])
    if label not in header:
        raise DataError("%s: no column %r; the columns are %s" % (path, label, ", ".join(header)))
    col = header.index(label)
    features = [i for i in range(len(header)) if i != col]
    if not features:
        raise DataError("%s: only the label column %r; add feature columns" % (path, label))
    x = np.empty((len(rows) - 1, len(features)))
    y = []
    for r, row in enumerate(rows[1:]):
        line = r + 2  # the file's line number: the header is line 1
        if len(row) != len(header):
            raise DataError("%s: row %d has %d columns, the header %d; fix that row"
                            % (path, line, len(row), len(header)))
        y.append(row[col].strip())
        if not y[-1]:
            raise DataError("%s: row %d has no label in column %r" % (path, line, label))
        x[r] = [_number(row[i], line, header[i], path) for i in features]
    labels = np.array(y)
    try:  # numeric labels sort as numbers (2 before 10)
        labels = labels.astype(np.float64)
    except ValueError:
        pass
    if len(np.unique(labels)) < 2:
        raise DataError("%s: column %r holds one class only (%r); a classifier needs two or "
                        "more: check --label" % (path, label, str(labels[0])))
    return from_arrays(x, labels, str(path))


def read_numpy(path, label=None):
    """A Dataset of an .npz file holding X (or x) and y, or of an .npy array of rows whose
    label is column `label` (an index, default the last)."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError("%s: not a numpy file (%s); save it with numpy.save or savez" % (path, e))
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.shape[1] < 2:
            raise DataError("%s: an array of shape %s; an .npy file holds rows of features and "
                            "a label column (or use .npz with X and y)" % (path, data.shape))
        col = data.shape[1] - 1 if label is None else int(label)
        return from_arrays(np.delete(data, col, axis=1), data[:, col], str(path))
    keys = {k.lower(): k for k in data.files}
    if "x" not in keys or "y" not in keys:
        raise DataError("%s holds %s; an .npz file needs arrays X and y (np.savez(path, X=..., "
                        "y=...))" % (path, ", ".join(data.files) or "nothing"))
    return from_arrays(data[keys["x"]], data[keys["y"]], str(path))


def load(source, label=None, split="train", size=None, limit=None):
    """The Dataset at `source`: a .csv, .npy or .npz file, or an IDX folder (its `split`,
    images of side `size`, default the files' own). limit: the first N samples only."""
    path = Path(source)
    if path.is_dir():
        if label is not None:
            raise DataError("%s is an IDX folder: its labels are its label file; leave "
                            "--label out" % path)
        images, labels = load_split(path, split)
        if limit:
            images, labels = images[:limit], labels[:limit]
        if size:
            images, labels = load_images(path, split, size, limit)
        data = from_arrays(images, labels, str(path), classes=np.arange(10))
    elif not path.is_file():
        raise DataError("%s: no such folder or file; name an IDX folder or a .csv, .npy or .npz "
                        "file" % path)
    elif path.suffix.lower() == ".csv":
        data = read_csv(path, label)
    elif path.suffix.lower() in (".npy", ".npz"):
        data = read_numpy(path, label)
    else:
        raise DataError("%s: a %s file; udfa reads .csv (with a header row), .npy, .npz and "
                        "IDX folders" % (path, path.suffix or "suffix-less"))
    return data.take(slice(limit)) if limit else data


def check_fits(data, profile, hidden):
    """Refuse a dataset a board of `profile` cannot train on with hidden widths `hidden`: its
    inputs, its classes, the weights against the board's heap (the profile's own network's
    weights show what its heap holds)."""
    sizes = [data.n_inputs] + list(hidden) + [len(data.classes)]
    need = weight_bytes(sizes)
    budget = weights_budget(profile)
    if need > budget:
        raise DataError("%s: a %s network needs %d bytes of weights, the %s profile's heap "
                        "holds %d; use fewer hidden units or fewer features"
                        % (data.source, "-".join(map(str, sizes)), need, profile["name"],
                           budget))
    return sizes


def weight_bytes(sizes):
    return sum(2 * (a + 1) * b for a, b in zip(sizes, sizes[1:]))


def weights_budget(profile):
    """Bytes of weights a board of `profile` trains: its own default network's weights (sized
    to train within its heap), or a quarter of the heap for a profile without an MLP."""
    net = profile["network"]
    if "hidden" in net:
        return weight_bytes([net["inputs"]] + list(net["hidden"]) + [net["outputs"]])
    return profile["heap_bytes"] // 4


def auto_epochs(n_samples):
    """Epochs when none are given: about 60,000 sample presentations, 10 to 100 epochs (10
    for MNIST's 60,000, as the board profiles)."""
    return int(min(100, max(10, -(-60000 // max(1, n_samples)))))


def auto_hidden(n_inputs, n_classes, budget=None):
    """The hidden width when none is given: 2 x (inputs + classes), within 32..256, and
    within `budget` bytes of weights."""
    width = min(256, max(32, 2 * (n_inputs + n_classes)))
    if budget is not None:
        width = min(width, max(1, budget // (2 * (n_inputs + 1 + n_classes)) - 1))
    return width
