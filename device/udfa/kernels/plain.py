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
_acc = array("i")  # per-output sums of a forward or a feedback, grown by bind()
# the nonzero terms of a sum: their offsets into the other operand and their values; grown by
# bind() to n_in, and to the rows of an update or the classes of a feedback on the first call
_off = [0]
_val = [0]


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


def _grow(n):
    global _off, _val
    if len(_off) < n:
        _off = [0] * n
        _val = [0] * n


def _shifted(M):
    """(M, M[1:], .., M[7:]) as views of M: M7[o] reads M[o + 7] without the addition, an
    eighth of a multiply-accumulate's time on MicroPython. Made once per buffer (handles
    keep them), since making them allocates."""
    mv = memoryview(M)
    return (M, mv[1:], mv[2:], mv[3:], mv[4:], mv[5:], mv[6:], mv[7:])


class Handle:
    """What every kernel's bind() hands out at least: the layer's arrays and sizes, under the
    names the conv ops read (plain, native and viper extend it)."""

    def __init__(self, layer):
        self.layer = layer
        self.n_in = layer.n_in
        self.n_out = layer.n_out
        self.W = layer.W
        self.b = layer.b
        self.values = layer.values
        self.slopes = layer.slopes
        self.wmax = layer.wmax
        self.shift = min(layer.shift, 31)  # model files hold shifts <= 30


class Layer(Handle):
    """The handle bind() returns: a Handle and the shifted views of the buffers its sums
    read: the weights, the bias, and the last feedback matrix and deltas passed in (the same
    ones every step)."""

    def __init__(self, layer):
        Handle.__init__(self, layer)
        self.Wv = _shifted(layer.W)
        self.bv = _shifted(layer.b)
        self.R = self.Rv = self.d = self.dv = None


def bind(layer):
    """Prepare a layer for this kernel; returns the handle the other functions take."""
    global _acc
    if len(_acc) < layer.n_out:
        _acc = buffer(1, layer.n_out, "i")
    _grow(layer.n_in)
    return Layer(layer)


def _sums(Mv, off, val, k, n, out, Wv, wo, rnd, lr_shift, wmax):
    """out[j] = sum of val[t] * M[off[t] + j] over t < k, for j < n (Mv = _shifted(M)); or,
    for an update (Wv = _shifted(W), not None), W[wo + j] -= (that sum + rnd) >> lr_shift,
    clamped to +-wmax.
    Eight outputs a pass, their sums in local variables, and an update's sums never go
    through memory: on MicroPython an array subscript costs about as much as the rest of a
    multiply-accumulate, and a loop iteration as much again (measured on the emulated
    Pico); this takes half the time of one output at a time."""
    M, M1, M2, M3, M4, M5, M6, M7 = Mv
    if Wv is not None:
        W, W1, W2, W3, W4, W5, W6, W7 = Wv
    low = -wmax
    full = n - n % 8
    for j in range(0, full, 8):
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = rnd  # an update's rounding offset, else 0
        for t in range(k):
            v = val[t]
            o = off[t] + j
            s0 += v * M[o]
            s1 += v * M1[o]
            s2 += v * M2[o]
            s3 += v * M3[o]
            s4 += v * M4[o]
            s5 += v * M5[o]
            s6 += v * M6[o]
            s7 += v * M7[o]
        if Wv is None:
            out[j] = s0
            out[j + 1] = s1
            out[j + 2] = s2
            out[j + 3] = s3
            out[j + 4] = s4
            out[j + 5] = s5
            out[j + 6] = s6
            out[j + 7] = s7
            continue
        o = wo + j
        w = W[o] - (s0 >> lr_shift)
        W[o] = wmax if w > wmax else low if w < low else w
        w = W1[o] - (s1 >> lr_shift)
        W1[o] = wmax if w > wmax else low if w < low else w
        w = W2[o] - (s2 >> lr_shift)
        W2[o] = wmax if w > wmax else low if w < low else w
        w = W3[o] - (s3 >> lr_shift)
        W3[o] = wmax if w > wmax else low if w < low else w
        w = W4[o] - (s4 >> lr_shift)
        W4[o] = wmax if w > wmax else low if w < low else w
        w = W5[o] - (s5 >> lr_shift)
        W5[o] = wmax if w > wmax else low if w < low else w
        w = W6[o] - (s6 >> lr_shift)
        W6[o] = wmax if w > wmax else low if w < low else w
        w = W7[o] - (s7 >> lr_shift)
        W7[o] = wmax if w > wmax else low if w < low else w
    for j in range(full, n):
        s0 = rnd
        for t in range(k):
            s0 += val[t] * M[off[t] + j]
        if Wv is None:
            out[j] = s0
        else:
            w = W[wo + j] - (s0 >> lr_shift)
            W[wo + j] = wmax if w > wmax else low if w < low else w


def forward(L, x, rows, a, s):
    """a = act(clamp((x W + 127 b) >> shift)); s = its slope (skipped when s is None)."""
    n_in = L.n_in
    n_out = L.n_out
    Wv = L.Wv
    b = L.b
    shift = L.shift
    values = L.values
    slopes = L.slopes
    h = _acc
    off = _off
    val = _val
    bias = BIAS_INPUT  # a local: a global costs a dictionary look-up on MicroPython
    for r in range(rows):
        xo = r * n_in
        k = 0
        for p in range(xo, xo + n_in):  # zero inputs add nothing: skipped
            v = x[p]
            if v:
                off[k] = (p - xo) * n_out
                val[k] = v
                k += 1
        _sums(Wv, off, val, k, n_out, h, None, 0, 0, 0, 0)
        o = r * n_out
        for j in range(n_out):
            z = ((h[j] + bias * b[j]) >> shift) + 128  # the table index of clamp(z)
            if z < 0:
                z = 0
            elif z > 255:
                z = 255
            a[o + j] = values[z]
            if s is not None:
                s[o + j] = slopes[z]


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
    g = _acc
    if R is not L.R:
        L.R = R
        L.Rv = _shifted(R)
    Rv = L.Rv
    _grow(n_cls)
    off = _off
    val = _val
    for r in range(rows):
        eo = r * n_cls
        k = 0
        for c in range(n_cls):
            ev = e[eo + c]
            if ev:
                off[k] = c * n
                val[k] = ev
                k += 1
        _sums(Rv, off, val, k, n, g, None, 0, 0, 0, 0)
        do = r * n
        for j in range(n):
            d[do + j] = (g[j] * s[do + j]) >> shift


def update(L, x, d, rows, lr_shift, offset):
    """W -= (x^T d + offset) >> lr_shift, b likewise with the constant input 127; clamped."""
    n_in = L.n_in
    n_out = L.n_out
    Wv = L.Wv
    wmax = L.wmax
    if d is not L.d:
        L.d = d
        L.dv = _shifted(d)
    dv = L.dv
    _grow(rows)
    off = _off
    val = _val
    for i in range(n_in):
        k = 0
        for r in range(rows):
            v = x[r * n_in + i]
            if v:
                off[k] = r * n_out
                val[k] = v
                k += 1
        if k:  # an all-zero input column sums to 0: offset < 2^lr_shift, no change
            _sums(dv, off, val, k, n_out, None, Wv, i * n_out, offset, lr_shift, wmax)
    for r in range(rows):  # the bias: the weight of an input of 127 in every row
        off[r] = r * n_out
        val[r] = BIAS_INPUT
    _sums(dv, off, val, rows, n_out, None, L.bv, 0, offset, lr_shift, wmax)


def argmax(y, rows, n, out):
    """out[r] = index of the largest y in row r (the first one on ties)."""
    for r in range(rows):
        o = r * n
        best = 0
        for j in range(1, n):
            if y[o + j] > y[o + best]:
                best = j
        out[r] = best
