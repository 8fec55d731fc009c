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
import struct
from array import array

from udfa import pocket
from udfa.checksum import crc32
from udfa.rng import XorShift32

SMALL_INT_MAX = (1 << 30) - 1  # MicroPython small ints on 32-bit ports
WEIGHT_BITS = 12
MAGIC = b"UDFM"
VERSION = 1
_HEADER = "<4sBBHI"  # magic, version, n_layers, in_max, seed
_LAYER = "<HHBBH"  # n_in, n_out, activation id, shift, reserved


class ModelError(ValueError):
    pass


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
        self.W = array("h", bytes(2 * n_in * n_out))
        self.b = array("h", bytes(2 * n_out))
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


def _read(f, data, crc, path, size=None):
    """readinto `data` (size bytes: pass it for arrays wider than a byte), updating the CRC."""
    if f.readinto(data) != (len(data) if size is None else size):
        raise ModelError("model %s is truncated: re-copy it or use an older checkpoint" % path)
    return crc32(data, crc)


def load(path):
    """Read a model file written by Model.save; a damaged file raises ModelError."""
    try:
        f = open(path, "rb")
    except OSError:
        raise ModelError("model %s not found" % path)
    with f:
        return read(f, path)


def read(f, path):
    """Read one model from the open file f (path names it in errors)."""
    head = bytearray(struct.calcsize(_HEADER))
    crc = _read(f, head, 0, path)
    magic, version, n_layers, in_max, seed = struct.unpack(_HEADER, head)
    if magic != MAGIC:
        raise ModelError("%s is not a udfa model file (bad magic)" % path)
    if version == 2:  # conv / LES models (udfa.conv): same header, extended layer table
        from udfa.conv import read_body
        return read_body(f, path, n_layers, in_max, seed, crc)
    if version != VERSION:
        raise ModelError("model %s has version %d; this udfa reads versions %d and 2"
                         % (path, version, VERSION))
    sizes, acts, shifts = [], [], []
    rec = bytearray(struct.calcsize(_LAYER))
    for _ in range(n_layers):
        crc = _read(f, rec, crc, path)
        n_in, n_out, act, shift, _r = struct.unpack(_LAYER, rec)
        if act not in pocket.NAMES or (sizes and sizes[-1] != n_in):
            raise ModelError("model %s has an invalid layer table" % path)
        if not sizes:
            sizes.append(n_in)
        sizes.append(n_out)
        acts.append(pocket.NAMES[act])
        shifts.append(shift)
    return read_weights(f, Model(sizes, acts, shifts, in_max, seed), crc, path)


def read_weights(f, model, crc, path):
    """Read every layer's weights and biases into model, then check the trailing CRC."""
    for l in model.layers:
        crc = _read(f, l.W, crc, path, 2 * len(l.W))
        crc = _read(f, l.b, crc, path, 2 * len(l.b))
    tail = f.read(4)
    if len(tail) != 4:
        raise ModelError("model %s is truncated: re-copy it or use an older checkpoint" % path)
    if struct.unpack("<I", tail)[0] != crc & 0xFFFFFFFF:
        raise ModelError("model %s is damaged (CRC mismatch): re-copy it or use an "
                         "older checkpoint" % path)
    return model
