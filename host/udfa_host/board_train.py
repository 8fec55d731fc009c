"""Runs on the PC: trains a model on a board and brings the weights back.

train() creates the model on the board (the profile's network: an MLP's layer sizes, trained by
DFA, or a CNN's spec string, trained by LES) unless it is there, writes the job to the board's
train.json and runs it through udfa.autorun, the same code main.py and code.py run at boot.
The board's "UDFA {json}" lines drive a live progress bar and are kept, with the host's clock,
as a JSONL training log for `udfa plot`. The board checkpoints as it goes, so after a reset, a
pulled cable or Ctrl-C, running train() again resumes exactly.
"""
import ast
import json
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from udfa import checkpoint, kernels
from udfa.agent import slower_shift
from udfa.autorun import DONE, ERROR, JOB
from udfa.les import KERNELS as CNN_KERNELS

from . import datasets
from .link import BoardDisconnected, BoardExecError, BoardFileError
from .shards import SUFFIX

BOARD_DATA = "data"  # board folder of the pushed shards
BOARD_MODEL = "model.udfa"  # the untrained model a job starts from
BOARD_CKPT = "ckpt.udfa"
# Keys of a profile's "train" section that go to agent.train (the loop's, DFA's and LES's
# settings); the others build the model.
TRAIN_KEYS = ("epochs", "batch", "lr_shift", "decay", "fb_shift", "fb_range", "target",
              "head_lr_shift", "bw_shift", "wd_shift", "kernel", "every", "report_every",
              "train_layers")
MODEL_KEYS = ("acts", "shifts", "seed", "init")
# the device's largest learning-rate shift (udfa.dfa, udfa.les): rounding offsets < 2^30
MAX_SHIFT = 29
# Board code printing the kernels that import there, of udfa.kernels' names
# Board side of data_network(): the first shard's sample shape and classes, and the samples
# of the N shards PREFIX-000.uds ... (each one's CRC checked).
_SHARD_SHAPE = """from udfa.shard import Shard
n = 0
for i in range(%d):
    with Shard('%s-%%03d.uds' %% i) as s:
        n += s.count
        if not i:
            shape = (s.n_inputs, s.n_classes)
print(repr(shape + (n,)))
"""
_KERNEL_PROBE = """from udfa import kernels
have = []
for name in %r:
    try:
        kernels.load(name)
        have.append(name)
    except ImportError:
        pass
print(repr(have))
"""


class TrainError(RuntimeError):
    pass


def network(profile):
    """agent.create's network arguments for the profile: an MLP's layer sizes, or a CNN's
    spec string and input shape (H, W, C)."""
    net = profile["network"]
    if "spec" in net:
        return {"net": net["spec"], "shape": net["shape"]}
    return {"net": [net["inputs"]] + list(net["hidden"]) + [net["outputs"]]}


def settings(profile, overrides):
    """The profile's train section with the non-None overrides (CLI flags) on top."""
    merged = dict(profile.get("train", {}))
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return merged


def shard_names(board, prefix):
    """Names of the board's shard files PREFIX-*.uds in its data folder (none without one)."""
    try:
        names = [e.name for e in board.ls(BOARD_DATA)]
    except BoardFileError:  # no data folder yet
        return []
    return [n for n in names if n.endswith(SUFFIX) and n.rsplit("-", 1)[0] == prefix]


def board_shards(board, prefix="train"):
    """(P, N): the board path prefix P of the N shards P-000.uds, P-001.uds, ... that the
    agent reads one after the other (a prefix, not a list: a board keeps no list of names in
    RAM)."""
    found = sorted(BOARD_DATA + "/" + n for n in shard_names(board, prefix))
    if not found:
        raise TrainError("board at %s holds no shards %s/%s-*.uds: run 'udfa prepare' and "
                         "'udfa push' first" % (board.port, BOARD_DATA, prefix))
    path = BOARD_DATA + "/" + prefix
    if found != ["%s-%03d.uds" % (path, i) for i in range(len(found))]:
        raise TrainError("board at %s: shards %s-*.uds are not numbered 000 to %03d: push "
                         "with --prune to remove stale ones" % (board.port, path, len(found) - 1))
    return path, len(found)


def data_network(board, profile, prefix, shards, known=None):
    """(network(profile) fitted to the board's `shards` shards PREFIX-*.uds, their samples):
    an MLP takes their inputs and classes around the profile's hidden layers, so a user's own
    data (udfa prepare of a CSV file) trains as MNIST does; a CNN keeps the profile's spec
    and input shape (samples None). known: (inputs, classes, samples) as the PC's copies give
    them, when the board holds only some of the shards (in rounds)."""
    net = network(profile)
    if "shape" in net:
        return net, None
    n_in, n_cls, samples = known or ast.literal_eval(board.exec(
        _SHARD_SHAPE % (shards, prefix), timeout=600).strip())
    return {"net": [n_in] + net["net"][1:-1] + [n_cls]}, samples


def new_model(board, fresh, init):
    """Whether the job trains a model created for it on the board (not init's, nor the
    board's model resumed)."""
    return init is None and (fresh or not board.exists(BOARD_MODEL))


def job_epochs(board, setup, overrides, samples, resumed):
    """The job's epochs, decided once for the model's life: --epochs; else, for a new MLP on
    `samples` samples, datasets.auto_epochs' (own data learns over more epochs than MNIST);
    else, when the board's model is `resumed`, its last job's (after a reset, and in every
    round, it keeps the epochs it started with); else the profile's."""
    if overrides.get("epochs") is not None:
        return overrides["epochs"]
    if samples:
        return datasets.auto_epochs(samples)
    for name in (JOB, DONE) if resumed else ():  # interrupted, or returned (or waiting)
        if board.exists(name):
            try:
                return int(json.loads(board.get(name))["epochs"])
            except (ValueError, KeyError, TypeError):
                break
    return setup.get("epochs", 1)


def check_shifts(setup):
    """Refuse learning-rate shifts that the decay (one halving every `decay` epochs) would
    carry past the device's limit before the last epoch: the board would stop there."""
    epochs, decay = setup.get("epochs", 1), setup.get("decay", 10)
    slower = (epochs - 1) // decay
    for key in ("lr_shift", "head_lr_shift"):
        last = slower_shift(setup.get(key), slower)
        if last is not None and max([last] if isinstance(last, int) else last) > MAX_SHIFT:
            raise TrainError("%s %s reaches %s by epoch %d (the rate halves every %d "
                             "epochs), past the device's limit %d: lower --lr-shift or --epochs"
                             % (key, setup[key], last, epochs, decay, MAX_SHIFT))


def check_kernel(board, name, conv):
    """Refuse a kernel the board cannot train with (it lacks ulab, or viper on CircuitPython;
    a CNN trains on viper or plain), naming the ones it has, before any job is written."""
    try:
        have = ast.literal_eval(board.exec(_KERNEL_PROBE % (kernels.PREFERENCE,), timeout=60)
                                .strip())
    except (BoardExecError, ValueError, SyntaxError) as e:
        raise TrainError("board at %s could not load its kernels (%s): run 'udfa deploy'"
                         % (board.port, e)) from None
    usable = [k for k in have if k in CNN_KERNELS] if conv else have
    if name not in have:
        raise TrainError("board at %s has no %s kernel (its firmware has %s): pass --kernel "
                         "%s, or leave --kernel out for the fastest"
                         % (board.port, name, ", ".join(have) or "none", " or ".join(usable)))
    if name not in usable:
        raise TrainError("a CNN trains with the %s kernel, not %s: pass --kernel %s, or leave "
                         "--kernel out for the fastest" % (" or ".join(CNN_KERNELS), name,
                                                           " or ".join(usable)))


def check_deployed(board):
    if not board.exists("lib/udfa"):
        raise TrainError("board at %s has no udfa package in lib/udfa: run 'udfa deploy' first"
                         % board.port)


def board_map(prefix):
    """The board path of the input map of the shards PREFIX-*.uds (udfa push puts it)."""
    return prefix + ".udfp"


def create_model(board, net, setup, shards=None):
    """Write a fresh model file on the board (agent.create) from network(profile) and the
    model keys of setup, with the input map of the shards PREFIX-*.uds if they have one."""
    kw = dict(net, **{k: setup[k] for k in MODEL_KEYS if k in setup})
    if shards and board.exists(board_map(shards)):
        kw["prep"] = board_map(shards)
    board.exec("from udfa import agent\nagent.create(%r, **%r)" % (BOARD_MODEL, kw), timeout=60)


def previous_failure(board):
    """The error of the board's last job if it raised (udfa.autorun then retired it, so the
    board does not fail again at every boot), reported once; None if it did not."""
    if not board.exists(ERROR):
        return None
    text = board.get(ERROR).decode("utf-8", "replace").strip()
    board.rm(ERROR)
    return text


def write_job(board, job):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / JOB
        path.write_text(json.dumps(job))
        board.put(path, JOB)


def train(board, profile, overrides, log_path, shards="train", fresh=False, quiet=False,
          on_event=None, init=None, counts=None, shape=None):
    """Train on the board; returns the events of this run. overrides: CLI settings (None =
    the profile's). on_event(event dict) sees every report as it arrives. init: a model file
    of the PC's (e.g. trained there) that the board starts from, fresh, instead of a new one:
    the board then personalises it on its own shards. counts: every shard's sample count
    when the board holds only some of them (training in rounds, udfa_host.rounds: it stops
    with a "wait" event at the first one missing), and shape their (inputs, classes)."""
    setup = settings(profile, overrides)
    check_shifts(setup)
    check_deployed(board)
    failed = previous_failure(board)
    if failed:
        print("udfa: the board's previous training job failed with %s; it was retired so "
              "the board stays reachable after a reset. Starting a new job (its checkpoint "
              "is kept)" % failed, file=sys.stderr)
    if overrides.get("kernel"):
        check_kernel(board, overrides["kernel"], "spec" in profile["network"])
    job = {k: setup[k] for k in TRAIN_KEYS if k in setup}
    if "kernel" not in job and profile.get("backends"):
        job["kernel"] = list(profile["backends"])  # the order measured for this board
    if counts is None:
        prefix, n_shards = board_shards(board, shards)
        known = None
    else:
        prefix, n_shards = BOARD_DATA + "/" + shards, len(counts)
        job["counts"] = list(counts)
        known = tuple(shape) + (sum(counts),)
    job.update(shards=prefix, model=BOARD_MODEL, ckpt=BOARD_CKPT)
    new = new_model(board, fresh, init)
    net, samples = data_network(board, profile, prefix, n_shards, known) if new else (None, None)
    job["epochs"] = job_epochs(board, setup, overrides, samples, not new and init is None)
    check_shifts(job)
    write_job(board, job)
    if init is not None:
        board.put(init, BOARD_MODEL)
        fresh = True  # from that model, not from an earlier run's checkpoint
    elif new:
        board.soft_reset()
        create_model(board, net, setup, prefix)
    board.soft_reset()  # training gets the whole heap, in one piece
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    events = []
    per_epoch = [0]  # samples in one epoch, from the start event
    started = time.monotonic()
    bar = tqdm(total=0, unit="sample", desc="train", disable=quiet, dynamic_ncols=True)

    def on_line(line):
        if not line.startswith("UDFA "):
            if line.strip():
                bar.write("board: " + line)
            return
        try:
            event = json.loads(line[5:])
        except ValueError:
            bar.write("board: " + line)
            return
        event["t"] = round(time.monotonic() - started, 3)
        events.append(event)
        log.write(json.dumps(event) + "\n")
        log.flush()
        _advance(bar, event, job["epochs"], per_epoch)
        if on_event:
            on_event(event)

    with open(log_path, "w" if fresh else "a") as log:
        try:
            board.exec_stream("from udfa import autorun\nautorun.run(fresh=%r)" % fresh,
                              on_line)
        except BoardDisconnected as e:
            raise BoardDisconnected(
                "%s; training stopped at %s; the board's checkpoint keeps the progress: run "
                "'udfa train' again (without --fresh) to resume" % (e, _where(events))) from None
        finally:
            bar.close()
    return events


def _advance(bar, event, epochs, per_epoch):
    kind = event["event"]
    if kind == "start":
        per_epoch[0] = event["samples"]
        bar.total = event["samples"] * epochs
        bar.n = event["epoch"] * event["samples"] + event["next"]
        bar.set_postfix_str("%s %s" % (event["net"], event["kernel"]))
    elif kind == "progress":
        bar.n = event["epoch"] * event["total"] + event["done"]
        bar.set_postfix_str("epoch %d train %.2f%%" % (event["epoch"] + 1,
                                                        event["train_bp"] / 100))
    elif kind == "epoch":
        bar.n = (event["epoch"] + 1) * per_epoch[0]
        bar.write("epoch %d: train accuracy %.2f%%" % (event["epoch"] + 1,
                                                      event["train_bp"] / 100))
    bar.refresh()


def _where(events):
    for e in reversed(events):
        if e["event"] in ("progress", "start"):
            return "epoch %d, sample %d" % (e["epoch"] + 1, e.get("done", e.get("next", 0)))
    return "the start"


def pull(board, out_path, ckpt=BOARD_CKPT):
    """Copy the board's newest valid checkpoint, verify its CRCs, write its model to
    out_path; returns (model, state)."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "ckpt.udfa"
        # PATH.new outlives a save only when a reset cut it short, and may then be the newest;
        # PATH.old (one save older) is fetched only when neither of the others is valid.
        for suffixes in (("", ".new"), (".old",)):
            for suffix in suffixes:
                if board.exists(ckpt + suffix):
                    Path(str(local) + suffix).write_bytes(board.get(ckpt + suffix))
            found = checkpoint.restore(str(local))
            if found:
                break
    if found is None:
        raise TrainError("board at %s has no valid checkpoint %s: run 'udfa train' first"
                         % (board.port, ckpt))
    model, state = found
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(out_path))
    return model, state
