# Checkpoints (device and host): a model plus its training state, written atomically.
#
# A checkpoint file is a model file followed by the state: u16 length, JSON text, CRC-32.
# save() writes PATH.new completely, then moves PATH to PATH.old and PATH.new to PATH
# (two renames, because FAT cannot rename over a file). A reset at any point leaves at
# least one complete checkpoint; restore() takes the valid one with the most progress.
import json
import os
import struct

from udfa import model as model_file
from udfa.checksum import crc32


def save(path, model, state):
    data = json.dumps(state).encode()
    new = path + ".new"
    with open(new, "wb") as f:
        model.write(f)
        f.write(struct.pack("<HI", len(data), crc32(data) & 0xFFFFFFFF))
        f.write(data)
    _remove(path + ".old")
    try:
        os.rename(path, path + ".old")
    except OSError:
        pass  # first checkpoint: nothing to keep
    os.rename(new, path)


def load(path):
    """(model, state) from one checkpoint file; ModelError if it is damaged."""
    try:
        f = open(path, "rb")
    except OSError:
        raise model_file.ModelError("checkpoint %s not found" % path)
    with f:
        model = model_file.read(f, path)
        head = f.read(6)
        if len(head) != 6:
            raise model_file.ModelError("checkpoint %s has no training state" % path)
        size, crc = struct.unpack("<HI", head)
        data = f.read(size)
        if len(data) != size or crc32(data) & 0xFFFFFFFF != crc:
            raise model_file.ModelError("checkpoint %s: training state damaged" % path)
    return model, json.loads(data)


def restore(path, progress_key="seen"):
    """The (model, state) of the newest valid checkpoint among PATH, .new and .old, or None."""
    best = None
    for candidate in (path, path + ".new", path + ".old"):
        try:
            found = load(candidate)
        except (model_file.ModelError, ValueError):
            continue
        if best is None or found[1][progress_key] > best[1][progress_key]:
            best = found
    return best


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
