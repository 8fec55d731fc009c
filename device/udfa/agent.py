# Board agent (device): what the host calls over the REPL (through mpremote) to create,
# train and evaluate a model on the shards in the board's file system. `shards` is a list
# of paths or a prefix P naming P-000.uds, P-001.uds, ... (see feed.ShardFeed).
#
# The model picks the training rule: an MLP (udfa.model.Model, model file version 1) learns
# by direct feedback alignment (udfa.dfa), a CNN (udfa.conv.ConvModel, version 2) by local
# error signals (udfa.les). One loop trains both; the few things that differ (settings,
# building the trainer, learning-rate decay, where predictions come from) are the small
# functions below train(). udfa.conv and udfa.les are imported only for a CNN.
#
# Every report is one line "UDFA {json}" so the host can follow training live; "ms" in it is
# the board's clock.
# Training checkpoints every `every` samples and at each epoch end; a call after a reset
# resumes from the newest valid checkpoint, with the same batches and rounding offsets, so
# the final weights equal those of an uninterrupted run.
# Training in rounds (counts given: more shards than the flash holds, udfa_host.rounds): when
# the next shard is not on the board, training stops after its last full batch with a
# checkpoint and a "wait" report naming that shard; run again once the host has pushed it, it
# goes on as if the shard had been there all along.
import gc
import json

from udfa import checkpoint, clock, kernels
from udfa.dfa import DFA
from udfa.feed import ShardFeed, ShardMissing
from udfa.metrics import Confusion
from udfa.model import Model, load
from udfa.network import Network

# Each rule's settings (agent.train's keywords beyond the loop's) with their defaults; a
# checkpoint records them all, and a resumed run must be given the same.
# train_layers: the DFA layers that learn (None: all; [-1]: the output layer alone).
DFA_SETTINGS = {"lr_shift": 14, "fb_shift": 6, "fb_range": 127, "target": [127, -127],
                "train_layers": None}
LES_SETTINGS = {"lr_shift": 20, "head_lr_shift": None, "bw_shift": 10, "wd_shift": 0,
                "target": [64, 0]}


def free_heap():
    """Free heap bytes after a collection, or -1 where the port cannot tell (CPython)."""
    gc.collect()
    return gc.mem_free() if hasattr(gc, "mem_free") else -1


def report(event, fields):
    fields["event"] = event
    fields["ms"] = clock.ms()  # the board's own clock: its speed, whatever the host's
    print("UDFA", json.dumps(fields))


def create(path, net, acts=None, shifts=None, seed=1, init=0, shape=None, prep=None):
    """Write a fresh model file. net: an MLP's layer sizes, e.g. [196, 112, 10] (acts: one
    activation per layer, default tanh; weights zero, or uniform in +-init), which trains by
    DFA; or a CNN's spec string, e.g. "c8k3p2-c16k3p2-c32k3p2-f10" on inputs of `shape`
    (H, W, C), which trains by LES (Kaiming-uniform weights from the seed: LES needs random
    ones). prep: the path of an input map (udfa.prep, written by 'udfa prepare' beside the
    shards), stored in the model file so the model maps raw readings as it was trained."""
    if isinstance(net, str):
        if shape is None or acts or shifts or init:
            raise ValueError("a conv model takes its input shape (H, W, C) and a seed, not "
                             "acts, shifts or init")
        from udfa.conv import ConvModel
        model = ConvModel(net, shape, 255, seed)
        model.init_kaiming()
    else:
        model = Model(net, acts or ["tanh"] * (len(net) - 1), shifts, 255, seed)
        model.init_uniform(init)
    if prep:
        model.prep = _read_prep(prep, model)
    model.save(path)
    report("created", {"model": path, "net": model.describe(), "bytes": model.weights_bytes()})


def _read_prep(path, model):
    from udfa import prep

    with open(path, "rb") as f:
        found = prep.read(f, path)
    if found is None or found.n != model.n_inputs or found.names and \
            len(found.names) != model.n_classes:
        raise ValueError("%s is not an input map of %d features and %d classes: prepare the "
                         "data again" % (path, model.n_inputs, model.n_classes))
    return found


def train(shards, model="model.udfa", epochs=1, batch=16, decay=10, kernel=None,
          ckpt="ckpt.udfa", every=2000, report_every=500, fresh=False, ops=None,
          counts=None, **settings):
    """Train the model (or resume its checkpoint) for `epochs` epochs in all. settings: the
    rule's (DFA_SETTINGS for an MLP, LES_SETTINGS for a CNN: lr_shift there is one shift or
    one per block); every learning rate halves (shift + 1) each `decay` epochs. kernel: a
    name, a module or a list of names in order of preference (default: the fastest here; a
    CNN trains on native, viper or plain, not ulab);
    ops: a CNN's conv ops (default: the kernel's, udfa.conv.default_ops; the host passes
    udfa_host.conv_numpy with its numpy kernel); counts: every shard's sample count, to
    train on shards that come to the board in rounds (udfa.feed.ShardFeed)."""
    # a damaged newest checkpoint falls back to an older one; when checkpoint files exist but
    # none is usable, stop rather than silently start again at epoch 0
    found = None if fresh else checkpoint.restore(
        ckpt, todo="train with fresh=True ('udfa train --fresh') to start over",
        required=checkpoint.STATE_FIELDS)
    net_model = found[0] if found else load(model)
    conv = _is_conv(net_model)
    settings = _settings(conv, settings, ckpt if found else model)
    config = {"shards": shards, "model": model, "batch": batch, "decay": decay}
    if counts is not None:
        config["counts"] = counts
    config.update(settings)
    if found:
        state = found[1]
        saved = _settings(conv, {}, ckpt)  # a setting newer than the checkpoint: its default
        saved.update(state["config"])
        if saved != config:
            raise ValueError("checkpoint %s was made with other settings %r; train with "
                             "fresh=True to start over" % (ckpt, state["config"]))
        state["config"] = config
    else:
        state = {"epoch": 0, "next": 0, "seen": 0, "config": config, "rounding": None}
    k = _kernel(kernel, conv)
    feed = ShardFeed(shards, k, batch, net_model.n_inputs, net_model.n_classes, counts)
    net = _trainer(net_model, k, ops, batch, settings)
    if fresh:  # training starts now: an older run's checkpoints must not outlive it
        checkpoint.discard(ckpt)
    if state["rounding"]:  # resume the rounding offsets where the checkpoint left them
        net.rounding.hi, net.rounding.lo = state["rounding"]
    y = net.y if conv else net.a[-1]  # the output layer's activations after each step
    conf = Confusion(net_model.n_classes)
    report("start", {"net": net_model.describe(), "rule": "les" if conv else "dfa",
                     "kernel": k.__name__, "samples": feed.total, "epoch": state["epoch"],
                     "next": state["next"], "free": free_heap()})
    try:
        while state["epoch"] < epochs:
            epoch = state["epoch"]
            _set_rates(net, settings, epoch // decay)
            conf.clear()
            done = state["next"]
            for rows in feed.batches(net_model.seed, epoch, done):
                net.step(feed.x, feed.labels, rows)
                k.argmax(y, rows, net_model.n_classes, net.pred)
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
    except ShardMissing as e:  # in rounds: the host brings that shard, then runs us again
        state["next"] = done
        save(ckpt, net, state)
        report("wait", {"epoch": state["epoch"], "next": done, "shard": e.args[1],
                        "seen": state["seen"], "seed": net_model.seed})
        return
    report("done", {"ckpt": ckpt, "epochs": state["epoch"], "seen": state["seen"]})


def _is_conv(model):
    return hasattr(model, "blocks")  # a ConvModel; no import of udfa.conv for an MLP


def _settings(conv, given, path):
    """The rule's settings: its defaults with `given` on top (tuples as lists, as a
    checkpoint's JSON gives them back). path: the model's file, for errors."""
    s = dict(LES_SETTINGS if conv else DFA_SETTINGS)
    for name in given:
        if name not in s:
            raise ValueError("%s holds %s, which takes no setting %r (it takes %s); to "
                             "train the other kind, start over with a fresh model ('udfa "
                             "train --fresh')" % (path, "a CNN, trained by LES" if conv else
                                                  "an MLP, trained by DFA", name,
                                                  ", ".join(sorted(s))))
        v = given[name]
        s[name] = list(v) if isinstance(v, tuple) else v
    return s


def _kernel(kernel, conv, training=True):
    """The kernel module: `kernel` (a name, a module, or a list of names to try in order, e.g.
    a board profile's backends), or the fastest here. A CNN trains with native, viper or
    plain (udfa.les.KERNELS; ulab is refused: its float32 'i' buffers do not fit the conv
    ops) and predicts with any kernel, ulab included."""
    preference = kernels.PREFERENCE
    if isinstance(kernel, list):
        preference, kernel = kernel, None
    if conv and training:
        from udfa import les
        if kernel is not None:
            les.check_kernel(kernel)
        preference = [k for k in preference if k in les.KERNELS]
    return kernels.load(kernel, preference)


def _trainer(model, k, ops, batch, settings):
    """The rule's trainer; the settings are keywords of its constructor."""
    if _is_conv(model):
        from udfa.les import LES
        return LES(model, k, ops, batch, **settings)
    return DFA(model, k, batch, **settings)


def _set_rates(net, s, slower):
    """Learning rates `slower` halvings below the settings' (the decay): for LES, every
    block's and every head's (head_lr_shift None: as the blocks)."""
    if "head_lr_shift" in s:
        net.set_lr_shift(slower_shift(s["lr_shift"], slower),
                         slower_shift(s["head_lr_shift"], slower))
    else:
        net.set_lr_shift(slower_shift(s["lr_shift"], slower))


def slower_shift(shift, n):
    """A learning-rate shift (an int, one per block, or None) n halvings slower."""
    if shift is None:
        return None
    return shift + n if isinstance(shift, int) else [v + n for v in shift]


def save(ckpt, net, state):
    state["rounding"] = [net.rounding.hi, net.rounding.lo]
    checkpoint.save(ckpt, net.model, state)


def evaluate(shards, model="ckpt.udfa", batch=None, kernel=None):
    """Accuracy and confusion matrix of a model (or checkpoint) on shards. batch: samples per
    forward pass, default 16 for an MLP and 1 for a CNN (whose buffers hold every position)."""
    found = checkpoint.restore(model)  # None for a plain model file: load() reads it
    net_model = found[0] if found else load(model)
    conv = _is_conv(net_model)
    batch = batch or (1 if conv else 16)
    k = _kernel(kernel, conv, False)
    feed = ShardFeed(shards, k, batch, net_model.n_inputs, net_model.n_classes)
    if conv:
        from udfa.conv import ConvNetwork
        net = ConvNetwork(net_model, k, None, batch)
    else:
        net = Network(net_model, k, batch)
    conf = Confusion(net_model.n_classes)
    for rows in feed.batches(0, 0):
        conf.add(feed.labels, net.predict(feed.x, rows), rows)
    report("eval", {"accuracy_bp": conf.basis_points(), "total": conf.total(),
                    "confusion": conf.rows()})
