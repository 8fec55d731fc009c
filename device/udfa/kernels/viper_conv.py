# Conv ops for the viper kernel (device, MicroPython only): udfa.conv's plain loops (im2col,
# max pooling, grid sums and their backward, the head feedback, weight decay) as
# @micropython.viper machine code, bit-identical to them on the same array buffers. An integer
# CNN on the viper kernel uses these (udfa.conv.default_ops); with plain loops they took about
# 60 % of an LES step on the board CNN.
#
# Reads and writes go through ptr8/ptr16/ptr32 with the sign extensions of viper.py: 'b'
# bytes (x ^ 0x80) - 0x80, 'h' halfwords (x ^ 0x8000) - 0x8000, 'i' words as loaded (their
# products and sums are right modulo 2^32 and the results stay below 2^30, see udfa.les
# check_bounds; a word is sign-extended before a shift or a comparison). im2col copies bytes,
# so it serves 'B' pixels and 'b' activations alike. Sizes travel in the int32 array _D (viper
# functions take at most 4 arguments); nothing is allocated per call.
import sys

if sys.implementation.name != "micropython":
    raise ImportError("udfa.kernels.viper_conv needs MicroPython's viper code emitter")

import micropython  # noqa: E402
from array import array  # noqa: E402

from udfa.conv import view  # noqa: E402,F401  (flat arrays need no view)
from udfa.pocket import SLOPE_SHIFT  # noqa: E402

_D = array("i", bytes(4 * 6))  # rows, H, W, C, k / p / g, dmax (back: its own order)


def _dims(rows, H, W, C, k):
    D = _D
    D[0] = rows
    D[1] = H
    D[2] = W
    D[3] = C
    D[4] = k
    return D


@micropython.viper
def _im2col(x, P, D):
    d = ptr32(D)
    rows = d[0]
    H = d[1]
    W = d[2]
    C = d[3]
    k = d[4]
    pad = k >> 1
    xp = ptr8(x)
    Pp = ptr8(P)
    o = 0
    for b in range(rows):
        xb = b * H * W * C
        for y in range(H):
            for x0 in range(W):
                for dy in range(k):
                    yy = y + dy - pad
                    for dx in range(k):
                        xx = x0 + dx - pad
                        if yy >= 0 and yy < H and xx >= 0 and xx < W:
                            src = xb + (yy * W + xx) * C
                            for c in range(C):
                                Pp[o + c] = xp[src + c]
                        else:
                            for c in range(C):
                                Pp[o + c] = 0
                        o += C


def im2col(x, rows, H, W, C, k, P):
    """udfa.conv.im2col: the k x k x C patch around each position, zero padded."""
    _im2col(x, P, _dims(rows, H, W, C, k))


@micropython.viper
def _maxpool(a, out, idx, D):
    d = ptr32(D)
    rows = d[0]
    H = d[1]
    W = d[2]
    C = d[3]
    p = d[4]
    ap = ptr8(a)
    op = ptr8(out)
    ip = ptr8(idx)
    Ho = H // p
    Wo = W // p
    for b in range(rows):
        for oy in range(Ho):
            for ox in range(Wo):
                o = ((b * Ho + oy) * Wo + ox) * C
                base = (b * H + oy * p) * W + ox * p
                for c in range(C):
                    best = (int(ap[base * C + c]) ^ 0x80) - 0x80
                    where = 0
                    for dy in range(p):
                        for dx in range(p):
                            v = (int(ap[(base + dy * W + dx) * C + c]) ^ 0x80) - 0x80
                            if v > best:
                                best = v
                                where = dy * p + dx
                    op[o + c] = best
                    ip[o + c] = where


def maxpool(a, rows, H, W, C, p, out, idx):
    """udfa.conv.maxpool: the max of each p x p window and where it is (first in scan order)."""
    _maxpool(a, out, idx, _dims(rows, H, W, C, p))


@micropython.viper
def _gridsum(a, out, D):
    d = ptr32(D)
    rows = d[0]
    H = d[1]
    W = d[2]
    C = d[3]
    g = d[4]
    ap = ptr8(a)
    op = ptr16(out)
    for b in range(rows):
        for gy in range(g):
            y0 = gy * H // g
            y1 = (gy + 1) * H // g
            for gx in range(g):
                x0 = gx * W // g
                x1 = (gx + 1) * W // g
                o = (b * g * g + gy * g + gx) * C
                for c in range(C):
                    s = 0
                    for y in range(y0, y1):
                        for x in range(x0, x1):
                            s += (int(ap[((b * H + y) * W + x) * C + c]) ^ 0x80) - 0x80
                    op[o + c] = s


def gridsum(a, rows, H, W, C, g, out):
    """udfa.conv.gridsum: sums of each channel over each cell of a g x g grid (int16)."""
    _gridsum(a, out, _dims(rows, H, W, C, g))


@micropython.viper
def _gridspread(gg, out, D):
    d = ptr32(D)
    rows = d[0]
    H = d[1]
    W = d[2]
    C = d[3]
    g = d[4]
    gp = ptr32(gg)
    op = ptr32(out)
    for b in range(rows):
        for gy in range(g):
            y0 = gy * H // g
            y1 = (gy + 1) * H // g
            for gx in range(g):
                x0 = gx * W // g
                x1 = (gx + 1) * W // g
                o = (b * g * g + gy * g + gx) * C
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        q = ((b * H + y) * W + x) * C
                        for c in range(C):
                            op[q + c] = gp[o + c]


def gridspread(gg, rows, H, W, C, g, out):
    """udfa.conv.gridspread: every position of a cell gets the cell's gradient."""
    _gridspread(gg, out, _dims(rows, H, W, C, g))


@micropython.viper
def _back(d, W, g, D):
    dd = ptr32(D)
    rows = dd[0]
    n_in = dd[1]
    n_cls = dd[2]
    shift = dd[3]
    dp = ptr32(d)
    Wp = ptr16(W)
    gp = ptr32(g)
    m = 1
    m = m << 31
    for r in range(rows):
        do = r * n_cls
        go = r * n_in
        for i in range(n_in):
            wo = i * n_cls
            s = 0
            for j in range(n_cls):
                s += dp[do + j] * ((int(Wp[wo + j]) ^ 0x8000) - 0x8000)  # modulo 2^32
            s = s & (m - 1 + m)  # the low 32 bits (a no-op on a 32-bit port) ...
            gp[go + i] = (s - ((s & m) << 1)) >> shift  # ... as int32: |s| < 2^30


def back(d, L, rows, n_cls, shift, g):
    """udfa.conv.back: g = (d W^T) >> shift (L: a head's or the output layer's handle)."""
    D = _D
    D[0] = rows
    D[1] = L.n_in
    D[2] = n_cls
    D[3] = shift if shift < 31 else 31  # |d W^T| < 2^30: larger shifts floor the same
    _back(d, L.W, g, D)


class _Out:
    """The fifth buffer of _unpool_delta (viper functions take at most 4 arguments)."""

    def __init__(self):
        self.d = None


_out = _Out()


@micropython.viper
def _unpool_delta(g, idx, s, out):
    dd = ptr32(_D)
    rows = dd[0]
    H = dd[1]
    W = dd[2]
    C = dd[3]
    p = dd[4]
    dmax = dd[5]
    gp = ptr32(g)
    ip = ptr8(idx)
    sp = ptr8(s)
    dp = ptr32(out.d)
    m = 1
    m = m << 31
    sh = int(SLOPE_SHIFT)
    n = rows * H * W * C
    if p == 1:
        for i in range(n):
            u = gp[i]
            v = ((u - ((u & m) << 1)) * int(sp[i])) >> sh
            if v > dmax:
                v = dmax
            elif v < 0 - dmax:
                v = 0 - dmax
            dp[i] = v
        return
    for i in range(n):
        dp[i] = 0
    Ho = H // p
    Wo = W // p
    for b in range(rows):
        for oy in range(Ho):
            for ox in range(Wo):
                o = ((b * Ho + oy) * Wo + ox) * C
                base = (b * H + oy * p) * W + ox * p
                for c in range(C):
                    w = int(ip[o + c])
                    q = (base + (w // p) * W + w % p) * C + c
                    u = gp[o + c]
                    v = ((u - ((u & m) << 1)) * int(sp[q])) >> sh
                    if v > dmax:
                        v = dmax
                    elif v < 0 - dmax:
                        v = 0 - dmax
                    dp[q] = v


def unpool_delta(g, idx, s, rows, H, W, C, p, dmax, d):
    """udfa.conv.unpool_delta: (g * slope) >> SLOPE_SHIFT at each window's max, clamped."""
    _dims(rows, H, W, C, p)[5] = dmax
    _out.d = d
    _unpool_delta(g, s if idx is None else idx, s, _out)  # p = 1: no idx, never read


@micropython.viper
def _decay(W, D):
    dd = ptr32(D)
    n = dd[0]
    shift = dd[1]
    half = dd[2]
    Wp = ptr16(W)
    for i in range(n):
        w = (int(Wp[i]) ^ 0x8000) - 0x8000
        Wp[i] = w - ((w + half) >> shift)


def decay(L, shift):
    """udfa.conv.decay: W -= round(W / 2^shift) (ties up)."""
    D = _D
    D[0] = len(L.W)
    D[1] = shift
    D[2] = (1 << shift) >> 1
    _decay(L.W, D)
