# Board agent (device): what the host calls over the REPL (through mpremote) to create,
# train and evaluate a model on the shards in the board's file system. `shards` is a list
# of paths or a prefix P naming P-000.uds, P-001.uds, ... (see feed.ShardFeed).
#
# Every report is one line "UDFA {json}" so the host can follow training live.
# Training checkpoints every `every` samples and at each epoch end; a call after a reset
# resumes from the newest valid checkpoint, with the same batches, so the final weights
# equal those of an uninterrupted run.
import gc
import json

from udfa import checkpoint, kernels
from udfa.dfa import DFA
from udfa.feed import ShardFeed
from udfa.metrics import Confusion
from udfa.model import Model, load
from udfa.network import Network


def free_heap():
    """Free heap bytes after a collection, or -1 where the port cannot tell (CPython)."""
    gc.collect()
    return gc.mem_free() if hasattr(gc, "mem_free") else -1


def report(event, fields):
    fields["event"] = event
    print("UDFA", json.dumps(fields))


def create(path, sizes, acts, shifts=None, seed=1, init=0):
    """Write a fresh model file (zero or uniform random weights)."""
    model = Model(sizes, acts, shifts, 255, seed)
    model.init_uniform(init)
    model.save(path)
    report("created", {"model": path, "net": model.describe(), "bytes": model.weights_bytes()})


def train(shards, model="model.udfa", epochs=1, batch=16, lr_shift=14, decay=10, fb_shift=6,
          fb_range=127, target=(127, -127), kernel=None, ckpt="ckpt.udfa", every=2000,
          report_every=500, fresh=False):
    config = {"shards": shards, "model": model, "batch": batch, "lr_shift": lr_shift,
              "decay": decay, "fb_shift": fb_shift, "fb_range": fb_range,
              "target": list(target)}
    found = None if fresh else checkpoint.restore(ckpt)
    if found:
        net_model, state = found
        if state["config"] != config:
            raise ValueError("checkpoint %s was made with other settings %r; train with "
                             "fresh=True to start over" % (ckpt, state["config"]))
    else:
        net_model = load(model)
        state = {"epoch": 0, "next": 0, "seen": 0, "config": config, "rounding": None}
    k = kernels.load(kernel)
    feed = ShardFeed(shards, k, batch, net_model.n_inputs, net_model.n_classes)
    net = DFA(net_model, k, batch, lr_shift, fb_shift, fb_range, target)
    if state["rounding"]:  # resume the rounding offsets where the checkpoint left them
        net.rounding.hi, net.rounding.lo = state["rounding"]
    conf = Confusion(net_model.n_classes)
    report("start", {"net": net_model.describe(), "kernel": k.__name__, "samples": feed.total,
                     "epoch": state["epoch"], "next": state["next"], "free": free_heap()})
    while state["epoch"] < epochs:
        epoch = state["epoch"]
        net.set_lr_shift(lr_shift + epoch // decay)
        conf.clear()
        done = state["next"]
        for rows in feed.batches(net_model.seed, epoch, done):
            net.step(feed.x, feed.labels, rows)
            k.argmax(net.a[-1], rows, net_model.n_classes, net.pred)
            conf.add(feed.labels, net.pred, rows)
            done += rows
            state["seen"] += rows
            if done % report_every < rows:
                report("progress", {"epoch": epoch, "done": done, "total": feed.total,
                                    "train_bp": conf.basis_points()})
            if done % every < rows and done < feed.total:
                state["next"] = done
                save(ckpt, net, state)
        state["epoch"] = epoch + 1
        state["next"] = 0
        save(ckpt, net, state)
        report("epoch", {"epoch": epoch, "train_bp": conf.basis_points(),
                         "free": free_heap()})
    report("done", {"ckpt": ckpt, "epochs": state["epoch"], "seen": state["seen"]})


def save(ckpt, net, state):
    state["rounding"] = [net.rounding.hi, net.rounding.lo]
    checkpoint.save(ckpt, net.model, state)


def evaluate(shards, model="ckpt.udfa", batch=16, kernel=None):
    """Accuracy and confusion matrix of a model (or checkpoint) on shards."""
    found = checkpoint.restore(model)
    net_model = found[0] if found else load(model)
    k = kernels.load(kernel)
    feed = ShardFeed(shards, k, batch, net_model.n_inputs, net_model.n_classes)
    net = Network(net_model, k, batch)
    conf = Confusion(net_model.n_classes)
    for rows in feed.batches(0, 0):
        conf.add(feed.labels, net.predict(feed.x, rows), rows)
    report("eval", {"accuracy_bp": conf.basis_points(), "total": conf.total(),
                    "confusion": conf.rows()})
