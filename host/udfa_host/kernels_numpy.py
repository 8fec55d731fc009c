# numpy kernel (host): the plain kernel's rules, vectorized over a mini-batch, bit-identical.
#
# Integer matrix products go through float64 BLAS: every operand is an integer and every
# partial sum is below 2^30 (the bounds in udfa.model and udfa.dfa), far inside float64's
# exact-integer range of 2^53, so the products are exact whatever order BLAS sums in.
# The results are converted back to int64 before any shift or clamp.
import numpy as np

from udfa.pocket import BIAS_INPUT

_DTYPES = {"B": np.uint8, "b": np.int8, "h": np.int16, "i": np.int32}


def buffer(rows, cols, typecode):
    """rows x cols; a one-column buffer (labels, predictions) is a vector."""
    return np.zeros(rows if cols == 1 else (rows, cols), dtype=_DTYPES[typecode])


def row(buf, r, cols):
    return buf[r:r + 1] if buf.ndim == 1 else buf[r]  # a view, also of a vector


def matrix(data, rows, cols):
    """A 2-D numpy view sharing memory with a flat array('b'/'h'/...)."""
    return np.frombuffer(data, dtype=_DTYPES[data.typecode]).reshape(rows, cols)


class Layer:
    def __init__(self, layer):
        self.n_in = layer.n_in
        self.n_out = layer.n_out
        self.shift = layer.shift
        self.wmax = layer.wmax
        self.W = matrix(layer.W, layer.n_in, layer.n_out)  # writes go to the model's array
        self.b = matrix(layer.b, 1, layer.n_out)[0]
        self.values = np.frombuffer(layer.values, dtype=np.int8)
        self.slopes = np.frombuffer(layer.slopes, dtype=np.uint8)


def bind(layer):
    return Layer(layer)


def _dot(a, b):
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)


def _rows(x, rows):
    """The first rows of x as a matrix (a 1-input buffer is a vector)."""
    return x[:rows].reshape(rows, -1)


def forward(L, x, rows, a, s):
    h = _dot(_rows(x, rows), L.W) + BIAS_INPUT * L.b.astype(np.int64)
    z = np.clip(h >> L.shift, -128, 127) + 128
    a[:rows] = L.values[z]
    if s is not None:
        s[:rows] = L.slopes[z]


def output_delta(L, y, s, labels, rows, hi, lo, e, d):
    target = np.full((rows, L.n_out), lo, dtype=np.int64)
    target[np.arange(rows), labels[:rows]] = hi
    err = y[:rows].astype(np.int64) - target
    e[:rows] = err
    d[:rows] = err * s[:rows]


def hidden_delta(L, e, R, n_cls, s, rows, shift, d):
    d[:rows] = (_dot(e[:rows], R) * s[:rows]) >> shift


def _apply(W, acc, lr_shift, offset, wmax):
    W[...] = np.clip(W.astype(np.int64) - ((acc + offset) >> lr_shift), -wmax, wmax)


def update(L, x, d, rows, lr_shift, offset):
    _apply(L.W, _dot(_rows(x, rows).T, d[:rows]), lr_shift, offset, L.wmax)
    _apply(L.b, BIAS_INPUT * d[:rows].astype(np.int64).sum(axis=0), lr_shift, offset, L.wmax)


def argmax(y, rows, n, out):
    out[:rows] = np.argmax(y[:rows], axis=1)
