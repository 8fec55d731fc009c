# Fuzz the file readers (runs everywhere; the suite runs it under CPython and each MicroPython,
# tools/fuzz.py for longer): damaged copies of a data shard, model files of both versions (an
# MLP, v1, and a CNN, v2) and checkpoints of each, as bit flips, changed bytes, truncations,
# appended bytes, header fields set to extremes (with the CRC left stale or made to match),
# torn writes (a 4 KB flash page written up to some byte, garbage after it) and, for
# checkpoints, training states of the wrong form under a matching CRC.
# Every outcome must be one of
#   ok        the file is read and equals the CRC-valid original
#   refused   the project's own error (ShardError, ModelError)
#   valid     a CRC-matching edit that reads back consistently (the model writes back the
#             same bytes; the state works as the agent uses it)
#   fallback  a checkpoint refused, restore() took the valid older one beside it
# and any other outcome is BAD: a line per variant says what happened.
# Usage: fuzz_readers.py [seed [variants per kind and mutation [kinds]]]
import gc
import json
import os
import struct
import sys

from udfa import checkpoint
from udfa import model as model_file
from udfa.checksum import crc32
from udfa.conv import ConvModel
from udfa.model import Model, ModelError
from udfa.rng import XorShift32
from udfa.shard import Shard, ShardError

import synth

PAGE = 4096  # a flash page: what a power cut leaves half written
TMP = "_fuzz_%s_%d.tmp" % (sys.implementation.name, sys.maxsize & 0xFFFF)
MUTATIONS = ("flip", "byte", "cut", "extend", "field", "fixcrc", "torn", "state")
STATE = {"epoch": 1, "next": 32, "seen": 232, "rounding": [4660, 22136],
         "config": {"shards": "data/train", "model": "model.udfa", "batch": 8, "decay": 10,
                    "lr_shift": 14, "fb_shift": 6, "fb_range": 127, "target": [127, -127]}}
# what a state field is set to in a "state" variant (JSON text; CRC made to match)
STATE_VALUES = (b"-1", b'"7"', b"[]", b"{}", b"null", b"true", b"2.5", b"1099511627776",
                b"[1]", b'[1, "a"]', b"[70000, 1]")


def _quiet(*args):
    pass


checkpoint.print = _quiet  # restore() names each damaged file it passes over: not here


def le(data, offset, size, value):
    for i in range(size):
        data[offset + i] = (value >> (8 * i)) & 0xFF


def set_crc(data, end):
    """Make the CRC-32 stored at data[end:end+4] match data[:end]."""
    le(data, end, 4, crc32(memoryview(data)[:end]) & 0xFFFFFFFF)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


# ---- the originals, and where their header fields are: [(offset, size)] ----------------

def mlp():
    m = Model([196, 24, 10], ["tanh", "tanh"], seed=5)
    m.init_uniform(50)
    return m


def cnn():
    m = ConvModel("c8k3p2-c16k3p2-f10", (14, 14, 1), 255, 3)
    m.init_kaiming()
    return m


def model_fields(m, data):
    """Header, layer table (and a v2 model's shape and spec) fields; the model's length."""
    fields = [(4, 1), (5, 1), (6, 2), (8, 4)]
    table = 12
    if data[4] == 2:
        fields += [(12, 2), (14, 2), (16, 2), (18, 1)]
        fields += [(19 + i, 1) for i in range(data[18])]  # the spec's characters
        table = 19 + data[18]
    for k in range(len(m.layers)):
        o = table + 8 * k
        fields += [(o, 2), (o + 2, 2), (o + 4, 1), (o + 5, 1)]
    return fields, table + 8 * len(m.layers) + m.weights_bytes()


def shard_bytes(n, n_in, n_cls, seed):
    x, labels = synth.dataset(n, n_in, n_cls, seed)
    head = struct.pack("<4sBBHIHHBB6x", b"UDSH", 1, 0, 24, n, 14, n_in // 14, 1, n_cls)
    data = bytearray(head)
    for s in range(n):
        data.append(labels[s])
        data.extend(x[s * n_in:(s + 1) * n_in])
    data.extend(bytes(4))
    set_crc(data, len(data) - 4)
    return data


class Kind:
    """One file format under test: its original bytes, fields, and how to read and judge."""

    def __init__(self, name):
        self.name = name
        self.model = None
        self.old = None  # a checkpoint's older, valid sibling (PATH.old), for restore()
        if name == "shard":
            self.data = shard_bytes(30, 196, 10, 7)
            self.fields = [(4, 1), (5, 1), (6, 2), (8, 4), (12, 2), (14, 2), (16, 1), (17, 1),
                           (24, 1)]
            self.crc_at = len(self.data) - 4
            self.print = self.fingerprint(self.data)
            return
        self.model = mlp() if name.endswith("mlp") else cnn()
        if name.startswith("ckpt"):
            checkpoint.save(TMP, self.model, STATE)
            self.data = bytearray(read_file(TMP))
            older = dict(STATE)
            older["seen"] = 200
            older["next"] = 0
            checkpoint.save(TMP, self.model, older)
            self.old = read_file(TMP)
            os.remove(TMP + ".old")
            self.old_print = self.fingerprint(self.old)
        else:
            self.model.save(TMP)
            self.data = bytearray(read_file(TMP))
        self.fields, self.crc_at = model_fields(self.model, self.data)
        self.print = self.fingerprint(self.data)

    def fingerprint(self, data):
        write(TMP, data)
        return self.read()

    def read(self):
        """What the reader makes of TMP: a fingerprint of its content (raises its errors)."""
        if self.name == "shard":
            with Shard(TMP) as s:
                buf = bytearray(s.n_inputs)
                crc = 0
                for _ in range(s.count):
                    crc = crc32(buf, crc32(bytes([s.read_next(buf)]), crc))
                return (s.count, s.n_inputs, crc & 0xFFFFFFFF)
        if self.old is None:
            m = model_file.load(TMP)
            return (m.describe(), m.seed, m.in_max, synth.weights_crc(m), writes_back(m))
        # as agent.train: the newest valid checkpoint, with the fields the agent uses
        if hasattr(checkpoint, "STATE_FIELDS"):
            found = checkpoint.restore(TMP, todo="start over",
                                       required=checkpoint.STATE_FIELDS)
        else:  # udfa before the readers checked states
            found = checkpoint.restore(TMP)
        if found is None:
            raise ModelError("no valid checkpoint")
        m, state = found
        use_state(state)
        return (m.describe(), synth.weights_crc(m), json.dumps(state))

    def variant(self, how, rng):
        """A damaged copy of the original (bytearray), or None where `how` does not apply."""
        data = bytearray(self.data)
        n = len(data)
        if how == "flip":
            for _ in range(1 + rng.below(3)):
                data[rng.below(n)] ^= 1 << rng.below(8)
        elif how == "byte":
            data[rng.below(n)] = (0, 0xFF, rng.below(256))[rng.below(3)]
        elif how == "cut":
            data = data[:rng.below(n)]
        elif how == "extend":
            data.extend(bytes([rng.below(256) for _ in range(1 + rng.below(8))]))
        elif how in ("field", "fixcrc"):
            offset, size = self.fields[rng.below(len(self.fields))]
            top = (1 << (8 * size)) - 1
            choices = (0, 1, top, top - 1, 0xFFFF, rng.below(1 << min(8 * size, 16)),
                       ord("0"), ord("p"))
            le(data, offset, size, choices[rng.below(len(choices))])
            if how == "fixcrc":
                set_crc(data, self.crc_at)
        elif how == "torn":  # a page written up to `cut`, garbage to the page's end
            page = rng.below((n + PAGE - 1) // PAGE) * PAGE
            cut = page + rng.below(min(PAGE, n - page))
            fill = rng.below(4)
            for i in range(cut, min(n, page + PAGE)):
                if fill == 3 and self.old is not None and i < len(self.old):
                    data[i] = self.old[i]  # the page's stale content from the older save
                else:
                    data[i] = (0xFF, 0, rng.below(256), 0xA5)[fill]
        elif how == "state":
            if self.old is None:
                return None
            data = data[:self.crc_at + 4]
            text = json.dumps(STATE).encode()
            name = ("epoch", "next", "seen", "rounding", "config")[rng.below(5)]
            value = STATE_VALUES[rng.below(len(STATE_VALUES))]
            start = text.find(('"%s": ' % name).encode()) + len(name) + 4
            end = start + len(json.dumps(STATE[name]))
            text = text[:start] + value + text[end:]
            if rng.below(4) == 0:  # or garbage bytes: not UTF-8, not JSON
                text = bytes([rng.below(256) for _ in range(1 + rng.below(20))])
            data.extend(struct.pack("<HI", len(text), crc32(text) & 0xFFFFFFFF))
            data.extend(text)
        return data

    def judge(self, data, crc_matches):
        """The outcome class of reading `data` at TMP (PATH.old beside it for a checkpoint)."""
        write(TMP, data)
        if self.old is not None:
            write(TMP + ".old", self.old)
        try:
            got = self.read()
        except (ShardError, ModelError):
            return "refused", None
        except Exception as e:  # what the fuzzer is looking for
            return "BAD", "%s: %s" % (type(e).__name__, e)
        if got == self.print:
            return "ok", None
        if self.old is not None and got == self.old_print:
            return "fallback", None
        if crc_matches:
            return "valid", None
        return "BAD", "accepted a damaged file as %r" % (got,)


def writes_back(m):
    """CRC of the model as written again (equal to the file's for a consistent reader)."""
    m.save(TMP + ".w")
    data = read_file(TMP + ".w")
    os.remove(TMP + ".w")
    return crc32(data) & 0xFFFFFFFF


def use_state(state):
    """What agent.train does with a restored state: a state it cannot use raises here."""
    if state["config"] != STATE["config"]:
        pass
    epoch = state["epoch"]
    done = state["next"]
    seed = 5 ^ ((epoch + 1) << 16)  # feed.batches
    for _ in range(done, done + 1):
        pass
    state["seen"] += 8
    if state["rounding"]:
        r = XorShift32(seed)
        r.hi, r.lo = state["rounding"]
        r.next30()
    return epoch < 3


def run(seed, count, kinds):
    total = {}
    for k, name in enumerate(kinds):
        kind = Kind(name)
        for m, how in enumerate(MUTATIONS):
            rng = XorShift32(seed * 7919 + k * 131 + m)
            counts = {}
            for v in range(count):
                gc.collect()  # a board-sized heap: the copies of the file must not fragment it
                data = kind.variant(how, rng)
                if data is None:
                    break
                outcome, detail = kind.judge(data, how in ("fixcrc", "state"))
                counts[outcome] = counts.get(outcome, 0) + 1
                total[outcome] = total.get(outcome, 0) + 1
                if detail:
                    print("BAD %s %s seed %d #%d: %s" % (name, how, seed, v, detail))
            if counts:
                print("%s %s: %s" % (name, how, " ".join(
                    "%s %d" % (c, counts[c]) for c in sorted(counts))))
        del kind
    for p in (TMP, TMP + ".old", TMP + ".new"):
        try:
            os.remove(p)
        except OSError:
            pass
    print("total: %s" % " ".join("%s %d" % (c, total[c]) for c in sorted(total)))


if __name__ == "__main__":
    a = sys.argv[1:]
    run(int(a[0]) if a else 1, int(a[1]) if len(a) > 1 else 5,
        a[2].split(",") if len(a) > 2 else ("shard", "mlp", "cnn", "ckpt-mlp", "ckpt-cnn"))
