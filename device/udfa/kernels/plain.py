# Plain-loop kernel (device and host): the executable specification every backend must match.
#
# Buffers are flat arrays, row-major (row r of a rows x cols buffer starts at r * cols).
# Rounding rules, shared by every kernel:
#   forward:  z = h >> shift (floor), then clamped to -128..127
#   deltas:   d = (g * slope) >> shift (floor)
#   updates:  W -= (acc + offset) >> lr_shift, clamped to +-wmax; the trainer picks the
#             rounding offset in 0..2^lr_shift-1 (random per batch: unbiased rounding)
# Bounds are checked once by the trainer (dfa.check_bounds), not here.
from array import array

from udfa.pocket import BIAS_INPUT

_ITEMSIZE = {"B": 1, "b": 1, "h": 2, "i": 4}
_acc = array("i")  # per-output accumulator, grown by bind()


def buffer(rows, cols, typecode):
    return array(typecode, bytes(_ITEMSIZE[typecode] * rows * cols))


def row(buf, r, cols):
    """A writable view of row r of a buffer (made once, outside the hot loop)."""
    return memoryview(buf)[r * cols:(r + 1) * cols]


def matrix(data, rows, cols):
    """This kernel's view of a flat row-major array: the array itself."""
    return data


def check_weights(layer, kernel):
    """Refuse a layer with |W| or |b| above its bound: the machine-word kernels (viper,
    native) would wrap past 2^31 where plain's Python ints would not."""
    w = layer.wmax
    for arr in (layer.W, layer.b):
        for v in arr:
            if v > w or v < -w:
                raise ValueError("a weight of %d exceeds the layer bound %d: the %s kernel "
                                 "would wrap (re-initialise or re-train the model)"
                                 % (v, w, kernel))


def bind(layer):
    """Prepare a layer for this kernel; returns the handle the other functions take."""
    global _acc
    if len(_acc) < layer.n_out:
        _acc = buffer(1, layer.n_out, "i")
    return layer


def forward(L, x, rows, a, s):
    """a = act(clamp((x W + 127 b) >> shift)); s = its slope (skipped when s is None)."""
    n_in = L.n_in
    n_out = L.n_out
    W = L.W
    b = L.b
    shift = L.shift
    values = L.values
    slopes = L.slopes
    h = _acc
    for r in range(rows):
        xo = r * n_in
        for j in range(n_out):
            h[j] = BIAS_INPUT * b[j]
        for i in range(n_in):
            v = x[xo + i]
            if v:
                wo = i * n_out
                for j in range(n_out):
                    h[j] += v * W[wo + j]
        ao = r * n_out
        for j in range(n_out):
            z = h[j] >> shift
            if z < -128:
                z = -128
            elif z > 127:
                z = 127
            a[ao + j] = values[z + 128]
            if s is not None:
                s[ao + j] = slopes[z + 128]


def output_delta(L, y, s, labels, rows, hi, lo, e, d):
    """e = y - target (hi for the label, lo elsewhere); d = e * slope."""
    n = L.n_out
    for r in range(rows):
        t = labels[r]
        o = r * n
        for j in range(n):
            ev = y[o + j] - (hi if j == t else lo)
            e[o + j] = ev
            d[o + j] = ev * s[o + j]


def hidden_delta(L, e, R, n_cls, s, rows, shift, d):
    """d = ((e R) * slope) >> shift, R: n_cls x n_out fixed feedback matrix."""
    n = L.n_out
    for r in range(rows):
        eo = r * n_cls
        do = r * n
        for j in range(n):
            d[do + j] = 0
        for c in range(n_cls):
            ev = e[eo + c]
            if ev:
                ro = c * n
                for j in range(n):
                    d[do + j] += ev * R[ro + j]
        for j in range(n):
            d[do + j] = (d[do + j] * s[do + j]) >> shift


def _apply(W, wo, acc, n, offset, lr_shift, wmax):
    for j in range(n):
        w = W[wo + j] - ((acc[j] + offset) >> lr_shift)
        if w > wmax:
            w = wmax
        elif w < -wmax:
            w = -wmax
        W[wo + j] = w


def update(L, x, d, rows, lr_shift, offset):
    """W -= (x^T d + offset) >> lr_shift, b likewise with the constant input 127; clamped."""
    n_in = L.n_in
    n_out = L.n_out
    acc = _acc
    for i in range(n_in):
        for j in range(n_out):
            acc[j] = 0
        used = False
        for r in range(rows):
            v = x[r * n_in + i]
            if v:
                used = True
                do = r * n_out
                for j in range(n_out):
                    acc[j] += v * d[do + j]
        if used:  # an all-zero input column leaves acc at 0: offset < 2^lr_shift, no change
            _apply(L.W, i * n_out, acc, n_out, offset, lr_shift, L.wmax)
    for j in range(n_out):
        acc[j] = 0
    for r in range(rows):
        do = r * n_out
        for j in range(n_out):
            acc[j] += d[do + j]
    for j in range(n_out):
        acc[j] *= BIAS_INPUT
    _apply(L.b, 0, acc, n_out, offset, lr_shift, L.wmax)


def argmax(y, rows, n, out):
    """out[r] = index of the largest y in row r (the first one on ties)."""
    for r in range(rows):
        o = r * n
        best = 0
        for j in range(1, n):
            if y[o + j] > y[o + best]:
                best = j
        out[r] = best
