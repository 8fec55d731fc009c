# numpy conv ops (host): udfa.conv's plain-loop ops vectorized over a batch, bit-identical.
# Same names and arguments as the plain ops; buffers are the numpy kernel's 2-D arrays.
# im2col uses stride tricks (sliding_window_view); products go through float64 BLAS only
# where every partial sum is an integer below 2^53 (kernels_numpy._dot), so they are exact.
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from udfa.pocket import SLOPE_SHIFT
from udfa_host.kernels_numpy import _dot


def view(buf, rows, cols):
    return buf.reshape(rows, cols)


def im2col(x, rows, H, W, C, k, P):
    pad = k >> 1
    xs = x[:rows].reshape(rows, H, W, C)
    xp = np.zeros((rows, H + 2 * pad, W + 2 * pad, C), dtype=xs.dtype)
    xp[:, pad:pad + H, pad:pad + W] = xs
    win = sliding_window_view(xp, (k, k), axis=(1, 2))  # rows, H, W, C, k, k
    P[:rows * H * W].reshape(rows, H, W, k, k, C)[...] = win.transpose(0, 1, 2, 4, 5, 3)


def _windows(a, rows, H, W, C, p):
    """(rows, Ho, Wo, C, p*p) copy of the pooling windows of a (rows*H*W, C)."""
    Ho, Wo = H // p, W // p
    v = a[:rows * H * W].reshape(rows, H, W, C)[:, :Ho * p, :Wo * p]
    v = v.reshape(rows, Ho, p, Wo, p, C).transpose(0, 1, 3, 5, 2, 4)
    return v.reshape(rows, Ho, Wo, C, p * p)


def maxpool(a, rows, H, W, C, p, out, idx):
    win = _windows(a, rows, H, W, C, p)
    where = win.argmax(axis=-1)  # the first maximum, as the plain scan
    n = rows * (H // p) * (W // p)
    idx[:n] = where.reshape(n, C)
    out[:n] = np.take_along_axis(win, where[..., None], -1).reshape(n, C)


def _cells(n, g):
    return [((i * n) // g, ((i + 1) * n) // g) for i in range(g)]


def gridsum(a, rows, H, W, C, g, out):
    v = a[:rows * H * W].reshape(rows, H, W, C).astype(np.int32)
    o = out[:rows].reshape(rows, g, g, C)
    for gy, (y0, y1) in enumerate(_cells(H, g)):
        for gx, (x0, x1) in enumerate(_cells(W, g)):
            o[:, gy, gx] = v[:, y0:y1, x0:x1].sum(axis=(1, 2))


def gridspread(gg, rows, H, W, C, g, out):
    src = gg[:rows].reshape(rows, g, g, C)
    o = out[:rows * H * W].reshape(rows, H, W, C)
    for gy, (y0, y1) in enumerate(_cells(H, g)):
        for gx, (x0, x1) in enumerate(_cells(W, g)):
            o[:, y0:y1, x0:x1] = src[:, gy, gx][:, None, None]


def back(d, L, rows, n_cls, shift, g):
    g[:rows] = _dot(d[:rows], L.W.T) >> shift


def unpool_delta(g, idx, s, rows, H, W, C, p, dmax, d):
    n = rows * H * W
    if p == 1:
        v = (g.reshape(-1, C)[:n].astype(np.int64) * s[:n]) >> SLOPE_SHIFT
        d[:n] = np.clip(v, -dmax, dmax)
        return
    Ho, Wo = H // p, W // p
    m = rows * Ho * Wo
    hot = idx[:m, :, None] == np.arange(p * p, dtype=np.uint8)  # m, C, p*p
    routed = np.where(hot, g[:m, :, None].astype(np.int64), 0)
    full = np.zeros((rows, H, W, C), dtype=np.int64)
    full[:, :Ho * p, :Wo * p] = routed.reshape(rows, Ho, Wo, C, p, p).transpose(
        0, 1, 4, 2, 5, 3).reshape(rows, Ho * p, Wo * p, C)
    d[:n] = np.clip((full.reshape(n, C) * s[:n]) >> SLOPE_SHIFT, -dmax, dmax)


def decay(L, shift):
    half = (1 << shift) >> 1
    W = L.W.astype(np.int64)
    L.W[...] = W - ((W + half) >> shift)
