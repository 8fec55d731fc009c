# Model (device and host): fully connected integer layers, their storage and the model file.
#
# Layer k computes  h = x W + BIAS_INPUT * b,  z = clamp(h >> shift, -128, 127),  a = act(z).
# W is int16, stored input-major (W[i * n_out + j]) so a zero input skips a whole row.
# Bound: |x| <= in_max and |W|, |b| <= wmax with
#     wmax = min(32767, (2^30 - 1) // (n_in * in_max + BIAS_INPUT))
# so |h| < 2^30: every pre-activation is a small int on a 32-bit board.
#
# Scale: a weight of 2^WEIGHT_BITS stands for 1.0, an input pixel of 256 and an activation
# of 128 stand for 1.0, and PocketTanh's unit slope maps z = 64 to 1.0. So the shift that
# puts h on the activation's scale is WEIGHT_BITS + 2 for pixel inputs and WEIGHT_BITS + 1
# for 8-bit activations, whatever the fan-in (default_shift).
#
# Reading a file (read()) trusts nothing before its CRC: check() reads the header and layer
# table into a few small buffers, bounds the sizes (MAX_WEIGHTS, the file's length) and
# streams the whole model through the CRC-32; only then are the fields checked and the
# layers allocated. Anything wrong raises ModelError naming the file and what to do.
import struct

from udfa import pocket
from udfa.alloc import zeros
from udfa.checksum import crc32
from udfa.rng import XorShift32

SMALL_INT_MAX = (1 << 30) - 1  # MicroPython small ints on 32-bit ports
WEIGHT_BITS = 12
MAGIC = b"UDFM"
VERSION = 1
_HEADER = "<4sBBHI"  # magic, version, n_layers, in_max, seed
_LAYER = "<HHBBH"  # n_in, n_out, activation id, shift, reserved
HEADER_LEN = 12  # struct.calcsize(_HEADER)
LAYER_LEN = 8  # struct.calcsize(_LAYER)
# Hard limits a file must meet before anything is allocated for it. MAX_WEIGHTS bounds the
# weights and biases of one model (2^24, 32 MB: every file offset stays a small int on a
# 32-bit board; the largest host recipe, 784-1024-10, has 814K); MAX_SHIFT keeps every
# scaling shift below a 32-bit word (viper shifts wrap beyond it).
MAX_WEIGHTS = 1 << 24
MAX_SHIFT = 30
CHUNK = 256  # bytes of RAM the CRC check streams a file through
RECOPY = "re-copy it or use an older checkpoint"


class ModelError(ValueError):
    """A model or checkpoint file that cannot be used. The message names the file, says what
    is wrong and what to do; `reason` says what is wrong in a few words ("CRC mismatch")."""

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = reason or message


class Dense:
    def __init__(self, n_in, n_out, act, shift, in_max):
        if not 0 < n_in < 65536 or not 0 < n_out < 65536:
            raise ValueError("layer size %dx%d out of range" % (n_in, n_out))
        self.n_in = n_in
        self.n_out = n_out
        self.act = act
        self.shift = shift
        self.in_max = in_max
        self.wmax = min(32767, SMALL_INT_MAX // (n_in * in_max + pocket.BIAS_INPUT))
        self.W = zeros("h", n_in * n_out)
        self.b = zeros("h", n_out)
        self.values, self.slopes = pocket.tables(act)


def default_shift(in_max):
    return WEIGHT_BITS + (2 if in_max > 127 else 1)


class Model:
    """A stack of Dense layers. in_max: the largest input value (255 for pixels)."""

    def __init__(self, sizes, acts, shifts=None, in_max=255, seed=1):
        if shifts is None:
            shifts = [default_shift(in_max)] + [default_shift(127)] * (len(sizes) - 2)
        if len(acts) != len(sizes) - 1 or len(shifts) != len(sizes) - 1:
            raise ValueError("need one activation and one shift per layer")
        self.sizes = tuple(sizes)
        self.in_max = in_max
        self.seed = seed
        self.layers = []
        for k in range(len(sizes) - 1):
            self.layers.append(Dense(sizes[k], sizes[k + 1], acts[k], shifts[k], in_max))
            in_max = 127  # pocket activations are 8-bit

    @property
    def n_inputs(self):
        return self.sizes[0]

    @property
    def n_classes(self):
        return self.sizes[-1]

    def init_uniform(self, r):
        """Weights uniform in [-r, r] without 0, from the model seed (r = 0 keeps zeros)."""
        if r <= 0:
            return
        rng = XorShift32(self.seed ^ 0x5EED)
        for layer in self.layers:
            W = layer.W
            for i in range(len(W)):
                W[i] = rng.nonzero(min(r, layer.wmax))

    def describe(self):
        return "-".join(str(n) for n in self.sizes) + " " + ",".join(
            l.act for l in self.layers)

    def weights_bytes(self):
        return sum(2 * (len(l.W) + len(l.b)) for l in self.layers)

    def save(self, path):
        with open(path, "wb") as f:
            self.write(f)
            if getattr(self, "prep", None):  # its input map (udfa.prep), as a trailing section
                self.prep.write(f)

    def write(self, f):
        """Write the model file: header, layers, int16 little-endian weights, CRC-32."""
        crc = _write(f, struct.pack(_HEADER, MAGIC, VERSION, len(self.layers), self.in_max,
                                    self.seed), 0)
        write_layers(f, self.layers, crc)


def write_layers(f, layers, crc):
    """Write the layer table, every layer's weights and biases, and the CRC-32 of the file."""
    for l in layers:
        crc = _write(f, struct.pack(_LAYER, l.n_in, l.n_out, pocket.ACTIVATIONS[l.act][0],
                                    l.shift, 0), crc)
    for l in layers:
        crc = _write(f, l.W, crc)
        crc = _write(f, l.b, crc)
    f.write(struct.pack("<I", crc & 0xFFFFFFFF))


def _write(f, data, crc):
    f.write(data)
    return crc32(data, crc)


def fail(path, reason, todo=RECOPY, what="model"):
    """Raise the ModelError "model PATH is damaged (REASON): TODO"."""
    raise ModelError("%s %s is damaged (%s): %s" % (what, path, reason, todo), reason)


def _read(f, data, crc, path, size=None):
    """readinto `data` (size bytes: pass it for arrays wider than a byte), updating the CRC."""
    if f.readinto(data) != (len(data) if size is None else size):
        fail(path, "truncated")
    return crc32(data, crc)


def stream_crc(f, n, buf, crc, path):
    """The CRC of the next n bytes of f, streamed through buf (nothing else is allocated)."""
    size = len(buf)
    while n:
        if n < size:
            buf = memoryview(buf)[:n]
            size = n
        crc = _read(f, buf, crc, path)
        n -= size
    return crc


def check(f, path):
    """Check the model that starts at f's position before anything is allocated for it: its
    header, its layer sizes against MAX_WEIGHTS and the file's length, and its CRC-32,
    streamed through CHUNK bytes. Leaves f where it was; returns (version, model length)."""
    start = f.tell()
    left = f.seek(0, 2) - start
    f.seek(start)
    if left < HEADER_LEN:
        fail(path, "truncated: %d bytes, shorter than a model header" % left)
    head = bytearray(HEADER_LEN)
    buf = bytearray(CHUNK)
    crc = _read(f, head, 0, path)
    magic, version, n_layers, _in_max, _seed = struct.unpack(_HEADER, head)
    if magic != MAGIC:
        raise ModelError("%s is not a udfa model file (bad magic): name a file written by "
                         "udfa" % path, "not a model file")
    if version not in (VERSION, 2):
        fail(path, "version %d; this udfa reads versions %d and 2" % (version, VERSION),
             "re-copy it, or update udfa")
    used = HEADER_LEN + n_layers * LAYER_LEN
    if version == 2:  # input shape (6 bytes), spec length (1) and spec
        crc = stream_crc(f, 7, buf, crc, path)
        used += 7 + buf[6]
        crc = stream_crc(f, buf[6], buf, crc, path)
    rec = memoryview(buf)[:LAYER_LEN]
    weights = 0
    for k in range(n_layers):
        crc = _read(f, rec, crc, path)
        n_in, n_out = struct.unpack("<HH", rec[:4])
        # n_in + 1 <= room // n_out keeps the sum below MAX_WEIGHTS and a small int
        if not n_in or not n_out or n_in + 1 > (MAX_WEIGHTS - weights) // n_out:
            fail(path, "layer %d is %dx%d, more than %d weights in all or empty"
                 % (k, n_in, n_out, MAX_WEIGHTS))
        weights += n_out * (n_in + 1)
    length = used + 2 * weights + 4
    if left < length:
        fail(path, "truncated: %d bytes, its layer table needs %d" % (left, length))
    crc = stream_crc(f, 2 * weights, buf, crc, path)
    _check_crc(f, crc, path)
    f.seek(start)
    return version, length


def _check_crc(f, crc, path):
    """Compare the CRC-32 stored next in f with crc."""
    tail = f.read(4)
    if len(tail) != 4:
        fail(path, "truncated")
    # u32: a big int on a 32-bit board when >= 2^30; compared once per file
    if struct.unpack("<I", tail)[0] != crc & 0xFFFFFFFF:
        fail(path, "CRC mismatch")


def load(path):
    """Read a model file written by Model.save; a damaged file raises ModelError."""
    try:
        f = open(path, "rb")
    except OSError:
        raise ModelError("model %s not found: name an existing model file, or create one "
                         "(agent.create, 'udfa train --fresh')" % path, "not found")
    with f:
        model = read(f, path)
        found = read_prep(f, path)
        if found:
            model.prep = found
        return model


def read_prep(f, path):
    """The input map (udfa.prep) that may follow a model in f, or None (f left there);
    ModelError if it is damaged. udfa.prep is imported only for a model that has one."""
    start = f.tell()
    magic = f.read(4)
    f.seek(start)
    if magic != b"UDFP":
        return None
    from udfa import prep
    try:
        return prep.read(f, path)
    except ValueError as e:
        raise ModelError("model " + str(e), "input map damaged")


def read(f, path):
    """Read one model from the open file f (path names it in errors): check() first, so a
    damaged file is refused (ModelError) before its layers are allocated. Leaves f at the end
    of the model."""
    version, length = check(f, path)
    head = bytearray(HEADER_LEN)
    crc = _read(f, head, 0, path)
    _magic, _version, n_layers, in_max, seed = struct.unpack(_HEADER, head)
    if not 0 < in_max < 256:  # inputs are bytes
        fail(path, "largest input %d, not 1..255" % in_max, "write it again with udfa")
    try:
        if version == 2:  # conv / LES models (udfa.conv): same header, extended layer table
            from udfa.conv import read_body
            model, crc = read_body(f, path, n_layers, in_max, seed, crc)
        else:
            model, crc = _read_mlp(f, path, n_layers, in_max, seed, crc)
    except MemoryError:
        raise ModelError("model %s needs %d bytes of RAM for its weights, more than is free: "
                         "use a smaller network" % (path, length), "too large for this board")
    return read_weights(f, model, crc, path)


def read_table(f, n_layers, crc, path):
    """The layer table [(n_in, n_out, activation, shift)] (fields checked), and the CRC."""
    table = []
    rec = bytearray(LAYER_LEN)
    for k in range(n_layers):
        crc = _read(f, rec, crc, path)
        n_in, n_out, act, shift, _r = struct.unpack(_LAYER, rec)
        if act not in pocket.NAMES or shift > MAX_SHIFT:
            fail(path, "layer %d has activation %d and shift %d (at most %d)"
                 % (k, act, shift, MAX_SHIFT), "write it again with udfa")
        table.append((n_in, n_out, pocket.NAMES[act], shift))
    return table, crc


def _read_mlp(f, path, n_layers, in_max, seed, crc):
    """The Model of a version-1 file (layers allocated, weights not yet read), and the CRC."""
    table, crc = read_table(f, n_layers, crc, path)
    if not table:
        fail(path, "no layers", "write it again with udfa")
    sizes = [table[0][0]]
    for n_in, n_out, _act, _shift in table:
        if n_in != sizes[-1]:
            fail(path, "layer sizes do not chain (%d outputs, then %d inputs)"
                 % (sizes[-1], n_in), "write it again with udfa")
        sizes.append(n_out)
    model = Model(sizes, [t[2] for t in table], [t[3] for t in table], in_max, seed)
    return model, crc


def read_weights(f, model, crc, path):
    """Read every layer's weights and biases into model, check the trailing CRC again (the
    file may have changed since check()) and every weight against its layer's limit."""
    for l in model.layers:
        crc = _read(f, l.W, crc, path, 2 * len(l.W))
        crc = _read(f, l.b, crc, path, 2 * len(l.b))
    _check_crc(f, crc, path)
    for k, l in enumerate(model.layers):
        for a in (l.W, l.b):
            if max(a) > l.wmax or min(a) < -l.wmax:
                fail(path, "layer %d has weights beyond +-%d" % (k, l.wmax),
                     "write it again with udfa")
    return model
