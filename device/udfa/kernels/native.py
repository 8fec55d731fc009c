# Native kernel (device, MicroPython only): the plain kernel's loops in C, from the dynamic
# native module udfa_native (device/natmod/udfa_native, one .mpy per architecture, sent to a
# board's lib/ by `udfa deploy`); bit-identical to plain.py, allocation-free.
#
# The C code sums in int32: every intermediate stays below 2^30 under the model and trainer
# bounds (see viper.py's list), which needs |W|, |b| <= wmax: bind() checks it. Shifts above
# 31 floor the same as 31 for |v| < 2^30 and are clamped here (a C shift past 31 is undefined).
# Where the .mpy is missing or made for another architecture or port (CircuitPython loads no
# native code), importing this module raises ImportError and kernels.load() moves on.
try:
    import udfa_native as _c  # type: ignore[import-not-found]  # C: no Python source
except (ImportError, ValueError, OSError) as e:  # ValueError: an .mpy of another arch
    raise ImportError("the native kernel needs udfa_native.mpy built for this port (%s)" % e)

from udfa.kernels.plain import Handle, buffer, check_weights, matrix, row  # noqa: F401
from udfa.pocket import BIAS_INPUT

_nz = buffer(1, 2, "i")  # the C code's scratch: (value, offset) of a sum's nonzero terms


def _grow(n):
    """Room for n nonzero terms (bind: a layer's inputs; update: its rows, on first use)."""
    global _nz
    if len(_nz) < 2 * n:
        _nz = buffer(n, 2, "i")




def bind(layer):
    """Prepare a layer for this kernel; returns the handle the other functions take."""
    check_weights(layer, "native")
    _grow(layer.n_in)
    return Handle(layer)


def forward(L, x, rows, a, s):
    """a = act(clamp((x W + 127 b) >> shift)); s = its slope (skipped when s is None)."""
    _c.forward(x, L.W, L.b, L.values, L.slopes, a, s, L.n_in, L.n_out, rows, L.shift,
               BIAS_INPUT, _nz)


def output_delta(L, y, s, labels, rows, hi, lo, e, d):
    """e = y - target (hi for the label, lo elsewhere); d = e * slope."""
    _c.output_delta(y, s, labels, e, d, L.n_out, rows, hi, lo)


def hidden_delta(L, e, R, n_cls, s, rows, shift, d):
    """d = ((e R) * slope) >> shift, R: n_cls x n_out fixed feedback matrix."""
    _c.hidden_delta(e, R, s, d, n_cls, L.n_out, rows, shift if shift < 31 else 31)


def update(L, x, d, rows, lr_shift, offset):
    """W -= (x^T d + offset) >> lr_shift, b likewise with the constant input 127; clamped."""
    if len(_nz) < 2 * rows:
        _grow(rows)
    _c.update(x, d, L.W, L.b, L.n_in, L.n_out, rows, lr_shift if lr_shift < 31 else 31,
              offset, L.wmax, BIAS_INPUT, _nz)


def argmax(y, rows, n, out):
    """out[r] = index of the largest y in row r (the first one on ties)."""
    _c.argmax(y, rows, n, out)
