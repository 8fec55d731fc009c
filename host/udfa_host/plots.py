"""Runs on the PC: PNG plots of a training run (from the JSONL log that 'udfa train' writes)
and of a confusion matrix, with matplotlib's Agg backend (no display needed). The readers
check that a file is what it should be (PlotError, naming the file, if not); matplotlib is
imported only to draw."""
import json
from pathlib import Path


class PlotError(ValueError):
    """A log or evaluation file that is not what 'udfa train' or 'udfa eval --out' writes."""


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _text(path, made_by):
    path = Path(path)
    if not path.is_file():
        raise PlotError("%s: no such file; %s writes it" % (path, made_by))
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise PlotError("%s is not text: name the file %s wrote" % (path, made_by)) from None


def read_log(path):
    """The events of a JSONL training log, oldest first."""
    made_by = "'udfa train --log' (or 'udfa demo')"
    events = []
    for n, line in enumerate(_text(path, made_by).splitlines(), 1):
        if line.strip():
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if not isinstance(event, dict) or "event" not in event:
                raise PlotError("%s line %d is not a udfa training event: name the JSONL log "
                                "%s wrote" % (path, n, made_by))
            events.append(event)
    return events


def read_eval(path):
    """An evaluation written by 'udfa eval --out': a dict with samples, accuracy and a square
    confusion matrix of counts."""
    made_by = "'udfa eval --out'"
    text = _text(path, made_by)
    try:
        result = json.loads(text)
        c = result["confusion"]
        ok = (isinstance(result["samples"], int) and 0 <= result["accuracy"] <= 1 and
              c and all(len(row) == len(c) and all(isinstance(v, int) for v in row)
                        for row in c))
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise PlotError("%s is not a udfa evaluation (samples, accuracy, confusion): name the "
                        "JSON file %s wrote" % (path, made_by))
    return result


def learning_curve(events):
    """(progress points, epoch points): lists of (epochs trained, train accuracy %). A
    progress point is the running accuracy within its epoch; an epoch point the epoch's."""
    points, epochs = [], []
    for e in events:
        if e.get("event") == "progress" and e.get("total"):
            points.append((e["epoch"] + e["done"] / e["total"], e["train_bp"] / 100))
        elif e.get("event") == "epoch":
            epochs.append((e["epoch"] + 1, e["train_bp"] / 100))
    return points, epochs


def plot_learning_curve(events, out, test_accuracy=None, title="udfa training"):
    points, epochs = learning_curve(events)
    if not points and not epochs:
        raise PlotError("the log holds no progress or epoch lines: train for longer, or "
                         "lower --report-every")
    fig, ax = _plt().subplots(figsize=(6, 4))
    if points:
        ax.plot(*zip(*points), ".", color="tab:blue", alpha=0.5, label="train (running)")
    if epochs:
        ax.plot(*zip(*epochs), "o-", color="tab:blue", label="train (epoch)")
    if test_accuracy is not None:
        last = max([p[0] for p in points + epochs] or [1])
        ax.plot([last], [100 * test_accuracy], "s", color="tab:red",
                label="test %.2f%%" % (100 * test_accuracy))
    ax.set_xlabel("epochs")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, out)


def plot_confusion(confusion, out, title="confusion matrix", names=None):
    """confusion: [true][predicted] counts; names: the classes' (default their indices)."""
    import numpy as np

    c = np.asarray(confusion)
    fig, ax = _plt().subplots(figsize=(5.5, 5))
    ax.imshow(c, cmap="Blues")
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            if c[i, j]:
                ax.text(j, i, str(c[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if c[i, j] > c.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(c.shape[1]))
    ax.set_yticks(range(c.shape[0]))
    if names and len(names) == len(c):
        ax.set_xticklabels(names, rotation=90)
        ax.set_yticklabels(names)
    acc = np.trace(c) / max(c.sum(), 1)
    ax.set_title("%s (accuracy %.2f%%)" % (title, 100 * acc))
    return _save(fig, out)


def _save(fig, out):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    _plt().close(fig)
    return out
