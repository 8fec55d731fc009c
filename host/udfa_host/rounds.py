"""Runs on the PC: trains a board on the PC's shards, in rounds when they outgrow its flash.

train_from() measures the room the board's file system has for shards (os.statvfs on the
board; a virtual board's flash is its profile's flash_bytes). When every shard fits, they are
pushed once and trained on as 'udfa push' and 'udfa train' would. When they do not, the job
names every shard's sample count and the board trains on those it holds (udfa.feed), stopping
with a checkpoint and a "wait" report at the first one missing. The PC then removes the shards
behind, pushes the next ones in the order the board reads them (udfa.feed.epoch_order: this
epoch's, then the next epochs'), as many as fit, and runs the job again. The board resumes from
its checkpoint exactly (same batches, same rounding offsets), so the weights equal one run over
all the shards with the same settings. Only the shards cross the wire; nothing comes back but
the reports.
"""
import contextlib
import io
import tempfile
from pathlib import Path

from udfa import agent
from udfa.autorun import DONE, JOB
from udfa.feed import epoch_order
from udfa.model import load
from udfa.shard import Shard

from . import board_train, sync
from .board_train import BOARD_CKPT, BOARD_DATA, TrainError
from .push import push, verified_crc
from .preprocess import MAP_NAME
from .shards import SUFFIX

# the job's own files on the board, which reserve() makes room for
JOB_FILES = (board_train.BOARD_MODEL, BOARD_CKPT, BOARD_CKPT + ".old", BOARD_CKPT + ".new",
             JOB, DONE)
# littlefs (a Pico's MicroPython) stores a file in whole blocks, and its metadata in more
VIRTUAL_BLOCK = 4096
CKPT_STATE = 4096  # a checkpoint's JSON state (counts included) stays under this


class LocalShards:
    """The PC's shards PREFIX-000.uds, -001, ...: paths, sample counts, sizes, and their
    samples' (inputs, classes), from each one's header."""

    def __init__(self, paths):
        self.paths = sorted(Path(p) for p in paths)
        if not self.paths:
            raise TrainError("no shards to train on: make some with 'udfa prepare'")
        self.prefix = self.paths[0].name.rsplit("-", 1)[0]
        want = ["%s-%03d%s" % (self.prefix, i, SUFFIX) for i in range(len(self.paths))]
        if [p.name for p in self.paths] != want:
            raise TrainError("shards %s-*.uds are not one set numbered 000 to %03d: pass the "
                             "files of one 'udfa prepare'" % (self.prefix, len(want) - 1))
        self.counts, self.sizes, shapes = [], [], set()
        for p in self.paths:
            with Shard(str(p), verify=False) as s:  # push checks the CRC before sending
                self.counts.append(s.count)
                shapes.add((s.n_inputs, s.n_classes))
            self.sizes.append(p.stat().st_size)
        if len(shapes) != 1:
            raise TrainError("shards %s-*.uds differ in inputs or classes: %s"
                             % (self.prefix, sorted(shapes)))
        self.shape = shapes.pop()
        self.input_map = self.paths[0].parent / MAP_NAME  # 'udfa prepare' wrote it (own data)
        if not self.input_map.is_file():
            self.input_map = None


def flash_space(board):
    """(block size, bytes free) of the board's file system: statvfs there; a virtual board's
    flash is its profile's flash_bytes less what its folder holds, in littlefs blocks."""
    if board.vboard is None:
        space = sync.fs_space(board)
        if space is None:
            raise TrainError("board at %s cannot tell its free flash (no os.statvfs): push "
                             "the shards with 'udfa push' and train on them" % board.port)
        return space
    used = sum(stored(p.stat().st_size, VIRTUAL_BLOCK)
               for p in Path(board.vboard.root).rglob("*") if p.is_file())
    return VIRTUAL_BLOCK, board.profile["flash_bytes"] - used


def stored(size, block):
    """Flash a file of `size` bytes takes: whole blocks, and one more for its metadata."""
    return (-(-size // block) + 1) * block


def job_model(board, profile, setup, local, init):
    """(bytes, seed) of the model file the job starts from: init's, or the one the board
    would create (made here by the device's own agent.create: the same file, with the input
    map that goes with the shards if they have one)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.udfa"
        if init is not None:
            path = Path(init)
        else:
            net, _ = board_train.data_network(board, profile, None, None,
                                              tuple(local.shape) + (0,))
            kw = dict(net, **{k: setup[k] for k in board_train.MODEL_KEYS if k in setup})
            if local.input_map:
                kw["prep"] = str(local.input_map)
            with contextlib.redirect_stdout(io.StringIO()):  # its "created" report
                agent.create(str(path), **kw)
        return path.stat().st_size, load(str(path)).seed


def reserve(model_size, local, block):
    """Flash the job takes besides the shards: the model, three checkpoint copies (a save
    holds PATH, .old and .new for a moment), two job files (train.json and the last
    round's, retired) and the shards' input map if they have one."""
    return (stored(model_size, block) + 3 * stored(model_size + CKPT_STATE, block) +
            2 * stored(len(str(local.counts)) + 1024, block) +
            (stored(local.input_map.stat().st_size, block) if local.input_map else 0))


def room(board, local, reserved, budget=None):
    """(block size, bytes the shards may take): the free flash, plus what the board's copies
    of these shards take (they may go) and what the job's files take now (`reserved` counts
    them), less `reserved`; at most `budget` if given."""
    block, free = flash_space(board)
    there = set(board_train.shard_names(board, local.prefix))
    held = [board.size(BOARD_DATA + "/" + p.name) for p in local.paths if p.name in there]
    held += [board.size(name) for name in JOB_FILES]
    space = free + sum(stored(n, block) for n in held if n is not None) - reserved
    return block, space if budget is None else min(space, budget)


def plan(local, block, space, seed, epoch, done, epochs):
    """The shards of the next round: from the one holding sample `done` of this epoch's order
    (the board resumes there: a batch may span two shards) on, in the order the board reads
    them (the rest of this epoch's, then the next epochs'), as many as fit `space`."""
    chosen, used = [], 0
    order = list(range(len(local.counts)))
    for e in range(epoch, epochs):
        epoch_order(seed, e, order)
        first = 0
        while e == epoch and done >= local.counts[order[first]]:
            done -= local.counts[order[first]]
            first += 1
        for i in order[first:]:
            if i in chosen:
                continue
            cost = stored(local.sizes[i], block)
            if used + cost > space:
                return chosen
            chosen.append(i)
            used += cost
    return chosen


def swap(board, local, chosen, quiet):
    """Make the board hold exactly the chosen shards of the set: remove the others first,
    then push the chosen ones it lacks."""
    keep = {local.paths[i].name for i in chosen}
    for name in board_train.shard_names(board, local.prefix):
        if name not in keep:
            board.rm(BOARD_DATA + "/" + name)
    if chosen:
        push(board, [local.paths[i] for i in chosen], quiet=quiet)


def drop_stale(board, local):
    """Remove the board's shards of this set that are not the PC's (another data set of the
    same names, a damaged copy): a round must never train on them. Copies that are the
    same (a resumed run's) stay."""
    names = board_train.shard_names(board, local.prefix)
    ours = {p.name: p for p in local.paths}
    found = sync.file_crcs(board, [BOARD_DATA + "/" + n for n in names], tail=4)
    for name, there in zip(names, found):
        want = verified_crc(ours[name]) if name in ours else None
        if want is None or there is None or there[1] != want or \
                there[2] != want.to_bytes(4, "little"):
            board.rm(BOARD_DATA + "/" + name)


def train_from(board, profile, overrides, log_path, paths, fresh=False, quiet=False,
               on_event=None, init=None, budget=None):
    """Train the board on the PC's shard files `paths`: all pushed at once when they fit its
    flash (mode "flash"), else in rounds (mode "rounds"). budget: at most this many bytes of
    flash for shards. Returns (mode, rounds, events)."""
    local = LocalShards(paths)
    setup = board_train.settings(profile, overrides)
    new = board_train.new_model(board, fresh, init)
    samples = board_train.data_network(board, profile, None, None,
                                       tuple(local.shape) + (sum(local.counts),))[1]
    epochs = board_train.job_epochs(board, setup, overrides, samples if new else None,
                                    not new and init is None)
    overrides = dict(overrides, epochs=epochs)  # every round's, as planned here
    block, _ = flash_space(board)
    size, seed = job_model(board, profile, setup, local, init)
    reserved = reserve(size, local, block)
    block, space = room(board, local, reserved, budget)
    run = dict(log_path=log_path, shards=local.prefix, quiet=quiet, on_event=on_event)
    if sum(stored(s, block) for s in local.sizes) <= space:
        push(board, local.paths, prune=True, quiet=quiet)
        return "flash", 1, board_train.train(board, profile, overrides, fresh=fresh,
                                             init=init, **run)
    drop_stale(board, local)
    if fresh or init is not None:  # from the start: the first shards go before the first round
        swap(board, local, plan(local, block, space, seed, 0, 0, epochs), quiet)
    events, rounds, last = [], 0, None
    while True:  # a resumed run's first round finds where the board is (epoch, sample)
        found = board_train.train(board, profile, overrides, fresh=fresh and not rounds,
                                  init=init if not rounds else None, counts=local.counts,
                                  shape=local.shape, **run)
        events += found
        rounds += 1
        wait = found[-1] if found and found[-1]["event"] == "wait" else None
        if wait is None:
            return "rounds", rounds, events
        where = (wait["epoch"], wait["next"], wait["shard"])
        if where == last:
            raise TrainError("board at %s still lacks shard %d after it was pushed"
                             % (board.port, wait["shard"]))
        last = where
        space = room(board, local, reserved, budget)[1]
        chosen = plan(local, block, space, wait["seed"], wait["epoch"], wait["next"], epochs)
        if wait["shard"] not in chosen:  # not even the shard it waits for fits
            beside = (" beside %s (one batch takes samples of both)"
                      % local.paths[chosen[0]].name if chosen else "")
            raise TrainError("shard %s (%d bytes) does not fit the board's free flash (%d "
                             "bytes for shards)%s: prepare smaller shards, or free the flash"
                             % (local.paths[wait["shard"]].name, local.sizes[wait["shard"]],
                                max(space, 0), beside))
        swap(board, local, chosen, quiet)
