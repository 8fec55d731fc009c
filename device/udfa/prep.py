# Input preprocessing (device and host): turns a raw integer reading into the uint8 inputs a
# model takes, by the per-feature map the host fitted on the training data
# (udfa_host.preprocess), stored in the model file's optional trailing section.
#
# The rule, feature by feature (integers only; `>>` floors everywhere):
#     u8 = min(255, ((clamp(x, lo, hi) - lo) * mul) >> sh)
# x is the reading as a fixed-point integer with `frac` fraction bits: x = round(v * 2^frac)
# for a real value v (frac 0 for integer readings such as an ADC count: x is the reading).
# Bounds (the host fits them, read() checks them): |lo|, |hi| < 2^29, 0 <= hi - lo and
# (hi - lo) * mul < 2^30, sh <= 30; so every intermediate is a small int on a 32-bit board.
#
# Section layout, after the model's CRC in a model file, and between the model and the
# training state in a checkpoint (udfa.checkpoint; a reader that does not know it stops
# before it):
#   "UDFP", version u8, frac u8, n u16, height u16, width u16, channels u8, n_classes u8,
#   names_len u16 (HEAD_LEN = 16 bytes), then lo, hi, mul as n int32 each, sh as n bytes,
#   the class names as UTF-8 joined by "\n", and the CRC-32 of all of it.
# read() checks the sizes and the CRC before it allocates the arrays.
import struct
from array import array

from udfa.checksum import crc32

MAGIC = b"UDFP"
VERSION = 1
_HEAD = "<4sBBHHHBBH"
HEAD_LEN = 16  # struct.calcsize(_HEAD)
VALUE_LIMIT = 1 << 29  # |lo|, |hi| below this
PRODUCT_LIMIT = 1 << 30  # (hi - lo) * mul below this: a small int
MAX_FEATURES = 65535
MAX_NAMES = 8192  # bytes of class names
MAX_SHIFT = 30
CHUNK = 64


class Prep:
    """The per-feature map of n features; shape (H, W, C) of the model's input, class names
    (a list of str, or None)."""

    def __init__(self, n, frac=0, shape=None, names=None):
        if not 0 < n <= MAX_FEATURES or not 0 <= frac <= MAX_SHIFT:
            raise ValueError("prep: %d features with %d fraction bits, not 1..%d and 0..%d"
                             % (n, frac, MAX_FEATURES, MAX_SHIFT))
        self.n = n
        self.frac = frac
        self.shape = shape or (1, n, 1)
        self.names = names
        self.lo = array("i", bytes(4 * n))
        self.hi = array("i", bytes(4 * n))
        self.mul = array("i", bytes(4 * n))
        self.sh = bytearray(n)

    def apply(self, x, out):
        """Map one reading x (n ints, fixed-point with self.frac fraction bits) into out (a
        bytearray or 'B' buffer of n). Allocates nothing: every value is a small int."""
        lo = self.lo  # one name a line: a 4-tuple unpacking would allocate its tuple
        hi = self.hi
        mul = self.mul
        sh = self.sh
        for i in range(self.n):
            v = x[i]
            if v <= lo[i]:
                out[i] = 0
                continue
            if v > hi[i]:
                v = hi[i]
            v = ((v - lo[i]) * mul[i]) >> sh[i]
            out[i] = 255 if v > 255 else v

    def check(self, path):
        """Raise ValueError naming path unless every field is within the rule's bounds."""
        for i in range(self.n):
            lo, hi, mul = self.lo[i], self.hi[i], self.mul[i]
            if not (-VALUE_LIMIT < lo <= hi < VALUE_LIMIT) or mul < 0 or self.sh[i] > MAX_SHIFT \
                    or (mul and hi - lo >= PRODUCT_LIMIT // mul):
                raise ValueError("%s: input map of feature %d is out of bounds (lo %d, hi %d, "
                                 "mul %d, sh %d); write the model again with udfa"
                                 % (path, i, lo, hi, mul, self.sh[i]))

    def _names_bytes(self):
        return "\n".join(self.names).encode() if self.names else b""

    def write(self, f):
        names = self._names_bytes()
        if len(names) > MAX_NAMES or len(self.names or ()) > 255 or b"\n" in b"".join(
                n.encode() for n in self.names or ()):
            raise ValueError("prep: class names of %d bytes (at most %d, 255 names, no line "
                             "breaks in a name)" % (len(names), MAX_NAMES))
        h, w, c = self.shape
        head = struct.pack(_HEAD, MAGIC, VERSION, self.frac, self.n, h, w, c,
                           len(self.names or ()), len(names))
        crc = 0
        for part in (head, self.lo, self.hi, self.mul, self.sh, names):
            f.write(part)
            crc = crc32(part, crc)
        f.write(struct.pack("<I", crc & 0xFFFFFFFF))


def body_len(n, names_len):
    return 13 * n + names_len  # lo, hi, mul int32 and sh u8 per feature; names


def read(f, path):
    """The Prep of the section at f's position, or None (f left there) when none starts there
    (an older model file ends at its CRC; a checkpoint's state may follow the model). Leaves
    f after the section. ValueError names path when the section is damaged: its sizes and
    CRC are checked before anything of its size is allocated."""
    start = f.tell()
    head = f.read(HEAD_LEN)
    if head[:4] != MAGIC:  # nothing, or a checkpoint's state: no input map
        f.seek(start)
        return None
    if len(head) < HEAD_LEN:
        raise ValueError("%s: input map section truncated; copy the file again" % path)
    _m, version, frac, n, h, w, c, n_classes, names_len = struct.unpack(_HEAD, head)
    if version != VERSION or not 0 < n <= MAX_FEATURES or names_len > MAX_NAMES \
            or frac > MAX_SHIFT or h * w * c != n:
        raise ValueError("%s: input map section version %d, %d features of shape %dx%dx%d, "
                         "%d bytes of names: not one this udfa reads; update udfa or write "
                         "the model again" % (path, version, n, h, w, c, names_len))
    left = f.seek(0, 2) - start - HEAD_LEN
    need = body_len(n, names_len) + 4
    if left < need:  # more is a checkpoint's state, which checks its own length
        raise ValueError("%s: input map section holds %d bytes, its header says %d; the file "
                         "is damaged, copy it again" % (path, left, need))
    f.seek(start + HEAD_LEN)
    crc = crc32(head)
    buf = bytearray(CHUNK)
    todo = need - 4
    while todo:
        part = memoryview(buf)[:min(CHUNK, todo)]
        f.readinto(part)
        crc = crc32(part, crc)
        todo -= len(part)
    if struct.unpack("<I", f.read(4))[0] != crc & 0xFFFFFFFF:
        raise ValueError("%s: input map section CRC mismatch; the file is damaged, copy it "
                         "again" % path)
    f.seek(start + HEAD_LEN)
    p = Prep(n, frac, (h, w, c))
    for a in (p.lo, p.hi, p.mul, p.sh):
        f.readinto(a)
    if names_len:
        p.names = f.read(names_len).decode().split("\n")
        if len(p.names) != n_classes:
            raise ValueError("%s: %d class names, the header says %d; write the model again"
                             % (path, len(p.names), n_classes))
    f.read(4)
    p.check(path)
    return p
