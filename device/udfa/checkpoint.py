# Checkpoints (device and host): a model plus its training state, written atomically.
#
# A checkpoint file is a model file (with its input map, udfa.prep, if it has one)
# followed by the state: u16 length, CRC-32, JSON text.
# save() writes PATH.new completely, then moves PATH to PATH.old and PATH.new to PATH
# (two renames, because FAT cannot rename over a file). A reset at any point leaves at
# least one complete checkpoint; restore() takes the valid one with the most progress and
# says which files it passed over as damaged.
import json
import os
import struct

from udfa import model as model_file
from udfa.checksum import crc32
from udfa.files import exists, remove
from udfa.model import ModelError

MAX_STATE = 16384  # bytes of JSON state; read only after the file's length and CRC match
SMALL_INT_MAX = model_file.SMALL_INT_MAX
# The agent's state fields and the check each value must pass (counters: small ints >= 0);
# load() checks the type of each one present and that every `required` one is.
_COUNT = (int, SMALL_INT_MAX)
STATE_FIELDS = {"epoch": _COUNT, "next": _COUNT, "seen": _COUNT, "config": (dict, None),
                "rounding": (list, 0xFFFF)}


def save(path, model, state):
    """Write the checkpoint. When writing fails (a full flash: OSError 28), PATH.new is
    removed and the error raised: PATH and PATH.old stay as they were."""
    data = json.dumps(state).encode()
    new = path + ".new"
    try:
        with open(new, "wb") as f:
            model.write(f)
            if getattr(model, "prep", None):
                model.prep.write(f)
            f.write(struct.pack("<HI", len(data), crc32(data) & 0xFFFFFFFF))
            f.write(data)
    except OSError:
        remove(new)
        raise
    remove(path + ".old")
    try:
        os.rename(path, path + ".old")
    except OSError:
        pass  # first checkpoint: nothing to keep
    os.rename(new, path)


def load(path, required=(), with_model=True):
    """(model, state) from one checkpoint file; ModelError if it is missing or damaged (before
    anything is allocated for a damaged part) or its state lacks a `required` field.
    with_model False: (None, state), every CRC checked but no layer allocated."""
    try:
        f = open(path, "rb")
    except OSError:
        raise ModelError("checkpoint %s not found" % path, "not found")
    with f:
        if with_model:
            model = model_file.read(f, path)
        else:
            model = None
            f.seek(model_file.check(f, path)[1])
        found = model_file.read_prep(f, path)  # a state cannot start like an input map:
        if model is not None and found is not None:  # its size would be over MAX_STATE
            model.prep = found
        head = f.read(6)
        if len(head) != 6:
            _fail(path, "no training state: a model file, not a checkpoint")
        size, crc = struct.unpack("<HI", head)
        start = f.tell()
        left = f.seek(0, 2) - start
        f.seek(start)
        if size > MAX_STATE or size != left:
            _fail(path, "training state of %d bytes, %d in the file" % (size, left))
        got = model_file.stream_crc(f, size, bytearray(model_file.CHUNK), 0, path)
        if got & 0xFFFFFFFF != crc:
            _fail(path, "training state CRC mismatch")
        f.seek(start)
        data = f.read(size)
    try:
        state = json.loads(data)
    except ValueError:  # UnicodeError and JSON syntax errors alike
        state = None
    check_state(state, path, required)
    return model, state


def check_state(state, path, required=()):
    """ModelError unless state is a dict whose STATE_FIELDS hold values of their types, and
    which has every field named in `required`."""
    if not isinstance(state, dict):
        _fail(path, "training state is not a JSON object")
    for name in required:
        if name not in state:
            _fail(path, "training state has no field %r" % name)
    for name in STATE_FIELDS:
        kind, limit = STATE_FIELDS[name]
        v = state.get(name)
        if v is None and (name == "rounding" or name not in state):
            continue  # rounding: no update made yet
        if kind is int:
            ok = _count(v, limit)
        elif kind is list:  # rounding: the two 16-bit halves of the rounding PRNG
            ok = isinstance(v, list) and len(v) == 2 and all(_count(x, limit) for x in v)
        else:
            ok = isinstance(v, kind)
        if not ok:
            _fail(path, "training state field %r is %r" % (name, v))


def _count(v, limit):
    """v is an int (not a bool: CPython counts True as 1, MicroPython does not) in 0..limit."""
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= limit


def _fail(path, reason):
    model_file.fail(path, reason, "train with fresh=True ('udfa train --fresh') to start "
                    "over, or use an older checkpoint", "checkpoint")


def restore(path, progress_key="seen", todo=None, required=()):
    """The (model, state) of the valid checkpoint with the most progress among PATH, .new and
    .old (state fields: `required` and progress_key); prints one line naming the files it
    passed over as damaged. None when no valid one is found, or, given `todo` (what the user
    should do), ModelError when some exist but none is valid."""
    best = None  # the state with the most progress, and its file
    damaged = []
    for candidate in (path, path + ".new", path + ".old"):
        if not exists(candidate):
            continue
        try:  # states only: one model at a time in RAM, not three
            state = load(candidate, tuple(required) + (progress_key,), False)[1]
        except ModelError as e:
            damaged.append("%s is damaged (%s)" % (candidate, e.reason))
            continue
        if best is None or state[progress_key] > best[0][progress_key]:
            best = state, candidate
    if best is None:
        if damaged and todo:
            raise ModelError("no usable checkpoint: %s; %s" % (", ".join(damaged), todo),
                             "no usable checkpoint")
        return None
    if damaged:
        print("udfa: %s: resuming from %s" % (", ".join(damaged), best[1]))
    return load(best[1], tuple(required) + (progress_key,))

def discard(path):
    """Remove PATH, .new and .old: a run that starts over must not resume, nor be evaluated,
    from an earlier run's checkpoint that had made more progress."""
    for suffix in ("", ".new", ".old"):
        remove(path + suffix)


