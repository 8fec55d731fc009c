# Viper kernel (device, MicroPython only): the plain kernel's loops as @micropython.viper
# machine code, bit-identical to plain.py (same rounding rules, buffers and argument order).
#
# Viper reads memory through ptr8/ptr16/ptr32, which load *unsigned* bytes and halfwords
# (sign-extended here with (v ^ 0x80) - 0x80 and (v ^ 0x8000) - 0x8000), and ptr32 loads a
# 32-bit word that a 64-bit port zero-extends (sign-extended here with _sext32's formula, a
# no-op on a 32-bit port). `>>` on a viper int is an arithmetic shift (floor), as in Python.
#
# A viper int is one machine word: it wraps at 2^31 on a 32-bit board. Every intermediate
# stays below 2^31 in magnitude under the model and trainer bounds:
#   forward   |h| <= n_in * in_max * wmax + 127 * wmax < 2^30       (model.Dense.wmax)
#   deltas    |e R| * slope <= 16 * n_cls * emax * fb_range < 2^30   (dfa.check_bounds)
#   updates   |acc| <= rows * max(in_max, 127) * dmax < 2^30        (dfa.check_bounds),
#             |acc| + offset < 2^30 with 0 <= offset < 2^lr_shift     (dfa.DFA.set_lr_shift;
#             LES passes 2^(lr_shift-1) under its own bound),
#             |W - q| <= 32767 + 2^30
# so the kernel needs |W|, |b| <= wmax, which Model and every update keep; bind() checks it.
# Shifts above 31 give the same floor as 31 for |v| < 2^30, so they are clamped to 31.
# Viper functions take at most 4 arguments (older firmware allows no more), so the handle
# carries the per-call numbers in its int32 array P; nothing is allocated per call.
# Inputs come in 'B' or 'b' buffers, or in 'h' buffers (the head inputs of an integer CNN's
# conv blocks, grid sums up to MAX_CELL * 127: udfa.les): forward and update read those
# through ptr16 (_forward_h, _update_h). The wrappers tell them apart once per buffer
# (_wide, cached on the handle by identity), so a step pays one `is` test per call.
import sys

if sys.implementation.name != "micropython":  # CPython, CircuitPython: no viper emitter
    raise ImportError("the viper kernel needs MicroPython's viper code emitter")

import micropython  # noqa: E402
from array import array  # noqa: E402

from udfa.kernels.plain import Handle, buffer, check_weights, matrix, row  # noqa: E402,F401
from udfa.pocket import BIAS_INPUT  # noqa: E402

# P slots: what the Python wrappers hand to the viper loops
_ROWS, _SHIFT, _OFFSET, _HI, _LO, _NCLS, _SLOPES, _BIAS = 0, 1, 2, 3, 4, 5, 6, 7


class Layer(Handle):
    """The handle bind() returns: the layer's arrays and sizes, a scratch row, call numbers."""

    def __init__(self, layer):
        Handle.__init__(self, layer)
        # inputs above 127 only come in a uint8 buffer (the pixels of the first layer); below
        # that, reading the byte as signed gives the same value for 'B' and 'b' buffers
        self.flip = 0 if layer.in_max > 127 else 0x80
        self.acc = array("i", bytes(4 * layer.n_out))
        self.P = array("i", bytes(4 * 8))
        self.P[_BIAS] = BIAS_INPUT
        self.e = None  # set by the calls that get these buffers (no dict growth later)
        self.d = None
        self.fx = None  # the last input buffer of forward / update, and whether it is 'h'
        self.fwide = False
        self.ux = None
        self.uwide = False


def bind(layer):
    """Prepare a layer for this kernel; returns the handle the other functions take."""
    check_weights(layer, "viper")
    return Layer(layer)


def _wide(x):
    """Whether x is an int16 ('h') array; MicroPython's array has no typecode attribute, so
    this reads the repr of an empty slice (a small allocation, once per buffer)."""
    return isinstance(x, array) and repr(x[:0]) == "array('h')"


@micropython.viper
def _sext32(u: int) -> int:
    # u: a word loaded by ptr32 (zero-extended on 64-bit ports); its value as int32
    m = 1
    m = m << 31  # not a literal: 2^31 is no small int on a 32-bit port
    return u - ((u & m) << 1)


@micropython.viper
def _forward(L, x, a, s):
    P = ptr32(L.P)
    rows = P[0]
    has_s = P[6]
    bias_in = P[7]
    n_in = int(L.n_in)
    n_out = int(L.n_out)
    shift = int(L.shift)
    flip = int(L.flip)
    W = ptr16(L.W)
    b = ptr16(L.b)
    h = ptr32(L.acc)
    vals = ptr8(L.values)
    slp = ptr8(L.slopes)
    xp = ptr8(x)
    ap = ptr8(a)
    sp = ptr8(s)
    m = 1
    m = m << 31
    for r in range(rows):
        xo = r * n_in
        for j in range(n_out):
            h[j] = bias_in * ((int(b[j]) ^ 0x8000) - 0x8000)
        for i in range(n_in):
            v = (int(xp[xo + i]) ^ flip) - flip
            if v:
                wo = i * n_out
                for j in range(n_out):
                    h[j] += v * ((int(W[wo + j]) ^ 0x8000) - 0x8000)
        ao = r * n_out
        for j in range(n_out):
            u = h[j]
            z = (u - ((u & m) << 1)) >> shift
            if z < -128:
                z = -128
            elif z > 127:
                z = 127
            ap[ao + j] = vals[z + 128]
            if has_s:
                sp[ao + j] = slp[z + 128]


@micropython.viper
def _forward_h(L, x, a, s):
    # _forward for int16 inputs ('h' buffers): |x| <= in_max, so |h| < 2^30 as there
    P = ptr32(L.P)
    rows = P[0]
    has_s = P[6]
    bias_in = P[7]
    n_in = int(L.n_in)
    n_out = int(L.n_out)
    shift = int(L.shift)
    W = ptr16(L.W)
    b = ptr16(L.b)
    h = ptr32(L.acc)
    vals = ptr8(L.values)
    slp = ptr8(L.slopes)
    xp = ptr16(x)
    ap = ptr8(a)
    sp = ptr8(s)
    m = 1
    m = m << 31
    for r in range(rows):
        xo = r * n_in
        for j in range(n_out):
            h[j] = bias_in * ((int(b[j]) ^ 0x8000) - 0x8000)
        for i in range(n_in):
            v = (int(xp[xo + i]) ^ 0x8000) - 0x8000
            if v:
                wo = i * n_out
                for j in range(n_out):
                    h[j] += v * ((int(W[wo + j]) ^ 0x8000) - 0x8000)
        ao = r * n_out
        for j in range(n_out):
            u = h[j]
            z = (u - ((u & m) << 1)) >> shift
            if z < -128:
                z = -128
            elif z > 127:
                z = 127
            ap[ao + j] = vals[z + 128]
            if has_s:
                sp[ao + j] = slp[z + 128]


def forward(L, x, rows, a, s):
    """a = act(clamp((x W + 127 b) >> shift)); s = its slope (skipped when s is None)."""
    P = L.P
    P[_ROWS] = rows
    if s is None:
        P[_SLOPES] = 0
        s = a  # a buffer the loop never writes
    else:
        P[_SLOPES] = 1
    if x is not L.fx:
        L.fx = x
        L.fwide = _wide(x)
    if L.fwide:
        _forward_h(L, x, a, s)
    else:
        _forward(L, x, a, s)


@micropython.viper
def _output_delta(L, y, s, labels):
    P = ptr32(L.P)
    rows = P[0]
    hi = int(_sext32(P[3]))
    lo = int(_sext32(P[4]))
    n = int(L.n_out)
    yp = ptr8(y)
    sp = ptr8(s)
    lab = ptr8(labels)
    ep = ptr32(L.e)
    dp = ptr32(L.d)
    for r in range(rows):
        t = int(lab[r])
        o = r * n
        for j in range(n):
            ev = (int(yp[o + j]) ^ 0x80) - 0x80
            if j == t:
                ev -= hi
            else:
                ev -= lo
            ep[o + j] = ev
            dp[o + j] = ev * int(sp[o + j])


def output_delta(L, y, s, labels, rows, hi, lo, e, d):
    """e = y - target (hi for the label, lo elsewhere); d = e * slope."""
    P = L.P
    P[_ROWS] = rows
    P[_HI] = hi
    P[_LO] = lo
    L.e = e
    L.d = d
    _output_delta(L, y, s, labels)


@micropython.viper
def _hidden_delta(L, e, R, s):
    P = ptr32(L.P)
    rows = P[0]
    shift = P[1]
    n_cls = P[5]
    n = int(L.n_out)
    ep = ptr32(e)
    Rp = ptr8(R)
    sp = ptr8(s)
    dp = ptr32(L.d)
    m = 1
    m = m << 31
    for r in range(rows):
        eo = r * n_cls
        do = r * n
        for j in range(n):
            dp[do + j] = 0
        for c in range(n_cls):
            ev = ep[eo + c]  # raw word: products and sums are right modulo 2^32
            if ev:
                ro = c * n
                for j in range(n):
                    dp[do + j] += ev * ((int(Rp[ro + j]) ^ 0x80) - 0x80)
        for j in range(n):
            u = dp[do + j]
            dp[do + j] = ((u - ((u & m) << 1)) * int(sp[do + j])) >> shift


def hidden_delta(L, e, R, n_cls, s, rows, shift, d):
    """d = ((e R) * slope) >> shift, R: n_cls x n_out fixed feedback matrix."""
    P = L.P
    P[_ROWS] = rows
    P[_SHIFT] = shift if shift < 31 else 31
    P[_NCLS] = n_cls
    L.d = d
    _hidden_delta(L, e, R, s)


@micropython.viper
def _apply(L, W, wo: int):
    # W[wo + j] -= (acc[j] + offset) >> lr_shift, clamped to +-wmax
    P = ptr32(L.P)
    lr = P[1]
    offset = P[2]
    n = int(L.n_out)
    wmax = int(L.wmax)
    acc = ptr32(L.acc)
    Wp = ptr16(W)
    m = 1
    m = m << 31
    for j in range(n):
        u = acc[j]
        w = ((int(Wp[wo + j]) ^ 0x8000) - 0x8000) - (((u - ((u & m) << 1)) + offset) >> lr)
        if w > wmax:
            w = wmax
        elif w < 0 - wmax:
            w = 0 - wmax
        Wp[wo + j] = w


@micropython.viper
def _update(L, x, d):
    P = ptr32(L.P)
    rows = P[0]
    n_in = int(L.n_in)
    n_out = int(L.n_out)
    flip = int(L.flip)
    xp = ptr8(x)
    dp = ptr32(d)
    acc = ptr32(L.acc)
    bias_in = P[7]
    W = L.W
    for i in range(n_in):
        for j in range(n_out):
            acc[j] = 0
        used = 0
        for r in range(rows):
            v = (int(xp[r * n_in + i]) ^ flip) - flip
            if v:
                used = 1
                do = r * n_out
                for j in range(n_out):
                    acc[j] += v * dp[do + j]  # modulo 2^32, exact: |acc| < 2^30
        if used:  # an all-zero input column leaves acc at 0, which rounds to no change
            _apply(L, W, i * n_out)
    for j in range(n_out):
        acc[j] = 0
    for r in range(rows):
        do = r * n_out
        for j in range(n_out):
            acc[j] += dp[do + j]
    for j in range(n_out):
        acc[j] *= bias_in
    _apply(L, L.b, 0)


@micropython.viper
def _update_h(L, x, d):
    # _update for int16 inputs ('h' buffers); the bias part is _update's
    P = ptr32(L.P)
    rows = P[0]
    n_in = int(L.n_in)
    n_out = int(L.n_out)
    xp = ptr16(x)
    dp = ptr32(d)
    acc = ptr32(L.acc)
    W = L.W
    for i in range(n_in):
        for j in range(n_out):
            acc[j] = 0
        used = 0
        for r in range(rows):
            v = (int(xp[r * n_in + i]) ^ 0x8000) - 0x8000
            if v:
                used = 1
                do = r * n_out
                for j in range(n_out):
                    acc[j] += v * dp[do + j]  # modulo 2^32, exact: |acc| < 2^30
        if used:
            _apply(L, W, i * n_out)


@micropython.viper
def _update_bias(L, d):
    P = ptr32(L.P)
    rows = P[0]
    n_out = int(L.n_out)
    dp = ptr32(d)
    acc = ptr32(L.acc)
    bias_in = P[7]
    for j in range(n_out):
        acc[j] = 0
    for r in range(rows):
        do = r * n_out
        for j in range(n_out):
            acc[j] += dp[do + j]
    for j in range(n_out):
        acc[j] *= bias_in
    _apply(L, L.b, 0)


def update(L, x, d, rows, lr_shift, offset):
    """W -= (x^T d + offset) >> lr_shift, b likewise with the constant input 127; clamped."""
    if lr_shift > 31:
        lr_shift = 31
    P = L.P
    P[_ROWS] = rows
    P[_SHIFT] = lr_shift
    P[_OFFSET] = offset
    if x is not L.ux:
        L.ux = x
        L.uwide = _wide(x)
    if L.uwide:
        _update_h(L, x, d)
        _update_bias(L, d)
    else:
        _update(L, x, d)


@micropython.viper
def _argmax(y, rows: int, n: int, out):
    yp = ptr8(y)
    op = ptr8(out)
    for r in range(rows):
        o = r * n
        best = 0
        top = (int(yp[o]) ^ 0x80) - 0x80
        for j in range(1, n):
            v = (int(yp[o + j]) ^ 0x80) - 0x80
            if v > top:
                top = v
                best = j
        op[r] = best


def argmax(y, rows, n, out):
    """out[r] = index of the largest y in row r (the first one on ties)."""
    _argmax(y, rows, n, out)
