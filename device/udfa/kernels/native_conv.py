# Conv ops for the native kernel (device, MicroPython only): udfa.conv's plain loops (im2col,
# max pooling, grid sums and their backward, the head feedback) in C from the native module
# udfa_native, bit-identical to them on the same array buffers (udfa.conv.default_ops picks
# this module for the native kernel). Weight decay, called once per batch at most, is
# viper_conv's.
from udfa.kernels.native import _c
from udfa.kernels.viper_conv import decay  # noqa: F401
from udfa.conv import view  # noqa: F401  (flat arrays need no view)
from udfa.pocket import SLOPE_SHIFT


def im2col(x, rows, H, W, C, k, P):
    """udfa.conv.im2col: the k x k x C patch around each position, zero padded."""
    _c.im2col(x, P, rows, H, W, C, k)


def maxpool(a, rows, H, W, C, p, out, idx):
    """udfa.conv.maxpool: the max of each p x p window and where it is."""
    _c.maxpool(a, out, idx, rows, H, W, C, p)


def gridsum(a, rows, H, W, C, g, out):
    """udfa.conv.gridsum: each channel's sum over each cell of a g x g grid."""
    _c.gridsum(a, out, rows, H, W, C, g)


def gridspread(gg, rows, H, W, C, g, out):
    """udfa.conv.gridspread: every position of a cell gets the cell's gradient."""
    _c.gridspread(gg, out, rows, H, W, C, g)


def back(d, L, rows, n_cls, shift, g):
    """udfa.conv.back: g = (d W^T) >> shift (L: a head's or the output layer's handle)."""
    _c.back(d, L.W, g, rows, L.n_in, n_cls, shift if shift < 31 else 31)


def unpool_delta(g, idx, s, rows, H, W, C, p, dmax, d):
    """udfa.conv.unpool_delta: (g * slope) >> SLOPE_SHIFT at each window's max, clamped."""
    _c.unpool_delta(g, idx, s, d, rows, H, W, C, p, dmax, SLOPE_SHIFT)
