# ulab kernel (device, boards with ulab built in): the plain kernel's rules as ulab array
# operations, bit-identical to plain.py (same rounding rules, argument order and buffers).
#
# ulab has no int32 dtype, wraps int8/int16 arithmetic silently, and np.dot works in float32,
# which holds every integer only up to 2^24. So this kernel does all its arithmetic in float32
# on integers, and every sum it forms, partial sums included, is bounded below 2^24 first
# (bounds from the actual data: max |x|, max |W|, per-row max |d|):
#   - one np.dot when the whole product fits (fresh, small weights);
#   - else chunks of inputs (forward) or of batch rows (update) whose dots each fit, their
#     sums carried as an exact pair (T, F) worth 256 * (T + F), T an integer and F a small
#     multiple of 1/256 (_carry);
#   - else (weights near wmax, huge deltas) W or d split as 256 * hi + lo, lo in 0..255, two
#     dots per chunk, carried the same way;
#   - floor((v + c) / 2^s) is then taken from the pair without ever forming v (_shift).
# Multiplying or dividing by a power of two and np.floor are exact in float32, and no float
# is read back into a Python scalar except bounds (CircuitPython's boxed floats keep only 22
# bits, so those reads carry a margin). Integers come back out through uint8/int16 arrays.
# Scalars given to ulab ops stay below 2^24: ulab turns an int >= 2^31 into a wrapped int32
# (64-bit build) or raises OverflowError (32-bit build). Activation slopes must be 0 or
# powers of two (pocket.py's are), so g * slope is exact at any size.
#
# Buffers: 'B', 'b' and 'h' buffers are array.array, as in plain.py (so row() gives readinto
# views); 'i' buffers (the errors e and deltas d, used only by kernels) are float32 ndarrays
# holding exact integers. Each call makes ulab result arrays (measured per step in
# docs/RESULTS.md); the viper and plain kernels allocate nothing.
import gc
from array import array

from ulab import numpy as np

from udfa.kernels.plain import row  # noqa: F401  (the same array buffers)
from udfa.pocket import BIAS_INPUT

EXACT = 1 << 24  # float32 holds every integer of magnitude <= 2^24
ROUNDER = 3 << 22  # 1.5 * 2^23: x + ROUNDER - ROUNDER is x rounded to an integer, |x| < 2^22
_ITEMSIZE = {"B": 1, "b": 1, "h": 2}


def buffer(rows, cols, typecode):
    if typecode == "i":
        return np.zeros(rows * cols, dtype=np.float)
    return array(typecode, bytes(_ITEMSIZE[typecode] * rows * cols))


def matrix(data, rows, cols):
    """A rows x cols int8 view of a flat array('b') (the feedback matrices)."""
    return np.frombuffer(data, dtype=np.int8).reshape((rows, cols))


def _as2d(buf, cols, dtype):
    if isinstance(buf, np.ndarray):
        return buf.reshape((buf.size // cols, cols))
    flat = np.frombuffer(buf, dtype=dtype)
    return flat.reshape((len(flat) // cols, cols))


def _view(cache, slot, buf, cols, dtype):
    """A 2-D ndarray view of buf, made once per buffer and slot (kept in `cache`)."""
    if cache[2 * slot] is not buf:
        cache[2 * slot] = buf
        cache[2 * slot + 1] = _as2d(buf, cols, dtype)
    return cache[2 * slot + 1]


class Layer:
    """The handle bind() returns: ndarray views of the layer's arrays, view cache."""

    def __init__(self, layer):
        self.layer = layer
        self.n_in = n_in = layer.n_in
        self.n_out = n_out = layer.n_out
        self.W = layer.W
        self.b = layer.b
        self.wmax = layer.wmax
        self.in_max = layer.in_max
        self.shift = min(layer.shift, 31)  # |h| < 2^30: any larger shift floors the same
        self.Wv = np.frombuffer(layer.W, dtype=np.int16).reshape((n_in, n_out))
        self.bv = np.frombuffer(layer.b, dtype=np.int16).reshape((1, n_out))
        self.values = np.frombuffer(layer.values, dtype=np.int8)
        self.slopes = np.frombuffer(layer.slopes, dtype=np.uint8)
        # inputs above 127 only come in uint8 buffers (pixels); below that, int8 reads the
        # same value from a 'B' or a 'b' buffer
        self.xdtype = np.uint8 if layer.in_max > 127 else np.int8
        self.bias_x = None  # 1 x rows of BIAS_INPUT, the bias "input" (made on first update)
        self.bias_rows = 0
        self.cache = [None] * 24
        # elements of the largest float temporary: a share of the free heap (at least 1 KB,
        # at most 32 KB), so a small board stays clear of fragmentation and a big one is fast
        self.chunk = max(256, min(8192, gc.mem_free() // 128))


def bind(layer):
    return Layer(layer)


def _absmax(a):
    """max |a| as a Python int (read with a margin for 22-bit boxed floats)."""
    m = max(np.max(a), -np.min(a))
    if isinstance(m, int):
        return m
    return int(m) + (int(m) >> 20) + 1


def _floor_shift(a, s):
    """floor(a / 2^s), in place then one result array: exact for integer-valued float32."""
    while s > 24:  # 1 << 31 is no small int on a 32-bit port
        a /= 1 << 24  # fpu-ok: dividing by a power of two only moves the float32 exponent
        s -= 24
    a /= 1 << s  # fpu-ok: as above
    return np.floor(a)


def _carry(T, F, lo):
    """Add lo (integers, |lo| < 2^24) to the pair (T, F) worth 256 * (T + F); lo is consumed.
    t = lo / 256 rounded to an integer by adding and removing 1.5 * 2^23 (whatever the rounding
    mode, |lo / 256 - t| <= 1), so lo / 256 - t is a small multiple of 1/256: all exact."""
    lo /= 256  # fpu-ok: power-of-two scaling is exact; |lo / 256| < 2^16, 8 fraction bits
    t = lo + ROUNDER
    t -= ROUNDER
    lo -= t
    T += t  # |T| stays < 2^23 (callers' bounds): exact
    F += lo  # |F| <= the number of parts, in 1/256 steps: exact


def _shift(T, F, s, c):
    """floor((256 * (T + F) + c) / 2^s) for a pair made by _carry, saturated beyond +-2^16
    (callers clamp far inside that). 0 <= c < 2^s; T exact, |T| < 2^23."""
    f = np.floor(F)
    T += f
    F -= f  # now 0 <= F < 1, in 1/256 steps
    if s >= 8:
        # = floor((T + c_hi + floor(F + c_lo / 256)) / 2^(s-8)), c = 256 c_hi + c_lo;
        # with c_lo = 0, floor(F) = 0
        if c & 255:
            F += (c & 255) / 256  # fpu-ok: c_lo / 256 has 8 fraction bits; F + it < 2, exact
            T += np.floor(F)
        T += c >> 8  # c_hi < 2^22 for s <= 31: |T| < 2^23 + 2^22, exact
        return _floor_shift(T, s - 8)
    # s < 8: T * 2^(8-s) + floor((256 F + c) / 2^s); once |T| >= 2^15 the result is beyond
    # +-2^16 either way, so T is clamped first to keep T * 2^(8-s) <= 2^23 exact
    T = np.clip(T, -32768, 32768)
    T *= 1 << (8 - s)
    F *= 256  # 0..255, exact
    F += c  # < 256 + 128, exact
    T += _floor_shift(F, s)
    return T


def _groups(bounds, limit):
    """Cut a run of per-item bounds into consecutive groups whose sum stays <= limit:
    a list of group ends, or None if one item alone exceeds the limit."""
    ends = []
    total = 0
    for i in range(len(bounds)):
        v = bounds[i]
        if v > limit:
            return None
        if total + v > limit:
            ends.append(i)
            total = 0
        total += v
    ends.append(len(bounds))
    return ends


def forward(L, x, rows, a, s):
    """a = act(clamp((x W + 127 b) >> shift)); s = its slope (skipped when s is None)."""
    n_in = L.n_in
    X = _view(L.cache, 0, x, n_in, L.xdtype)
    W = L.Wv
    b = L.bv
    wabs = _absmax(W)
    babs = _absmax(b)
    if wabs > L.wmax or babs > L.wmax:
        raise ValueError("a weight exceeds the layer bound %d: re-initialise the model"
                         % L.wmax)
    xmax = _absmax(X[:rows])
    bias = np.array(b, dtype=np.float)
    bias *= BIAS_INPUT  # |127 b| < 2^22
    A = _view(L.cache, 1, a, L.n_out, np.int8)
    S = None if s is None else _view(L.cache, 2, s, L.n_out, np.uint8)
    # a block of batch rows at a time keeps the float temporaries within L.chunk elements
    block = max(1, L.chunk // L.n_out)
    for r0 in range(0, rows, block):
        r1 = min(r0 + block, rows)
        z = _preact(L, X[r0:r1], r1 - r0, W, bias, xmax, wabs, babs)
        idx = np.array(z, dtype=np.uint8).reshape(((r1 - r0) * L.n_out,))
        z = None
        A[r0:r1] = np.take(L.values, idx).reshape((r1 - r0, L.n_out))
        if S is not None:
            S[r0:r1] = np.take(L.slopes, idx).reshape((r1 - r0, L.n_out))


def _preact(L, X, rows, W, bias, xmax, wabs, babs):
    """clamp((x W + 127 b) >> shift, -128, 127) + 128 for a block of rows, as floats."""
    n_in = L.n_in
    # inputs per dot so that its partial sums stay below 2^24: c * xmax * wabs < 2^24
    c = (EXACT - 1) // (xmax * wabs + 1)
    if c >= n_in and n_in * xmax * wabs + BIAS_INPUT * babs < EXACT:
        X = np.array(X, dtype=np.float)  # float x int16 is the fastest np.dot (uint8 is slow)
        h = np.dot(X, W)  # every partial sum <= n_in * xmax * wabs < 2^24: exact
        h += bias  # |h| < 2^24: exact
        z = _floor_shift(h, L.shift)
    else:
        T = np.zeros((rows, L.n_out), dtype=np.float)
        F = np.zeros((rows, L.n_out), dtype=np.float)
        _carry(T, F, bias + T)
        if c >= 4:  # one dot per chunk of c inputs, carried (W is only viewed)
            for i0 in range(0, n_in, c):
                i1 = min(i0 + c, n_in)
                _carry(T, F, np.dot(np.array(X[:, i0:i1], dtype=np.float), W[i0:i1]))
        else:  # weights near wmax: two dots per chunk, on the bytes of W
            _split_forward(X, W, T, F, n_in, xmax, L.n_out, L.chunk)
        z = _shift(T, F, L.shift, 0)
    z = np.clip(z, -128, 127)
    z += 128
    return z


def _split_forward(X, W, T, F, n_in, xmax, n_out, chunk):
    """Add x W to (T, F) over input chunks, with W = 256 * (W >> 8) + (W & 255).
    Chunk of c inputs: |x (W & 255)| <= c * xmax * 255 < 2^24. |x (W >> 8)| <=
    n_in * xmax * (wmax / 256 + 1) < 2^22 + 2^18 since n_in * xmax * wmax < 2^30, so T,
    which adds up those and the carries, stays below 2^23."""
    c = (EXACT - 1) // (xmax * 255 + 1)
    c = max(1, min(c, chunk // n_out))  # the two int16 parts take 4 * c * n_out bytes
    for i0 in range(0, n_in, c):
        i1 = min(i0 + c, n_in)
        Xc = np.array(X[:, i0:i1], dtype=np.float)
        Wc = W[i0:i1]
        T += np.dot(Xc, np.right_shift(Wc, 8))
        _carry(T, F, np.dot(Xc, np.bitwise_and(Wc, 255)))


def output_delta(L, y, s, labels, rows, hi, lo, e, d):
    """e = y - target (hi for the label, lo elsewhere); d = e * slope."""
    n = L.n_out
    c = L.cache
    Y = _view(c, 3, y, n, np.int8)
    S = _view(c, 4, s, n, np.uint8)
    E = _view(c, 5, e, n, None)
    D = _view(c, 6, d, n, None)
    err = np.array(Y[:rows], dtype=np.float)
    err -= lo  # |y - target| <= 127 + |target|: exact
    flat = err.reshape((rows * n,))
    for r in range(rows):
        flat[r * n + labels[r]] += lo - hi
    E[0:rows] = err
    err *= S[:rows]  # slope <= 16
    D[0:rows] = err


def hidden_delta(L, e, R, n_cls, s, rows, shift, d):
    """d = ((e R) * slope) >> shift, R: n_cls x n_out fixed feedback matrix."""
    n = L.n_out
    c = L.cache
    E = _view(c, 7, e, n_cls, None)[:rows]
    S = _view(c, 8, s, n, np.uint8)
    D = _view(c, 9, d, n, None)
    if n_cls * _absmax(E) * _absmax(R) >= EXACT:
        raise ValueError("ulab kernel: %d classes x error x feedback reach 2^24; use the "
                         "viper or plain kernel" % n_cls)
    g = np.dot(E, R)  # |e R| <= n_cls * max|e| * max|R| < 2^24: exact
    g *= S[:rows]  # slopes are 0 or powers of two: exact whatever |g|
    D[0:rows] = _floor_shift(g, shift if shift < 31 else 31)  # 24 significant bits: exact


def update(L, x, d, rows, lr_shift):
    """W -= round((x^T d) / 2^lr_shift), b likewise with the constant input 127; clamped."""
    n_in = L.n_in
    n_out = L.n_out
    c = L.cache
    X = _view(c, 0, x, n_in, L.xdtype)
    D = _view(c, 10, d, n_out, None)
    if rows != len(X):
        X = X[:rows]
    if rows != len(D):
        D = D[:rows]
    s = lr_shift if lr_shift < 31 else 31  # |acc| < 2^30: larger shifts round the same
    half = (1 << s) >> 1
    # |acc| <= sum over the batch rows r of max|x_r| * max|d_r| (x = 127 for the bias)
    xr = _row_absmax(X)
    dr = _row_absmax(D)
    bounds = [max(xr[r], BIAS_INPUT) * dr[r] for r in range(rows)]
    groups = None
    if sum(bounds) + half < EXACT:
        parts = (D,)  # every acc + half < 2^24: one exact dot product
    else:
        groups = _groups(bounds, EXACT - 1)  # rows whose dot products stay below 2^24
        if groups is not None and len(groups) <= 2:  # else splitting d is cheaper
            parts = (D,)
        else:
            groups = None
            # D = 256 Dh + Dl, Dl in 0..255: |x Dl| <= rows * 255 * 255 < 2^24 (rows <= 258),
            # |x Dh| <= rows * xmax * (dmax / 256 + 1) < 2^22 + 2^16 (dfa.check_bounds)
            Dh = _floor_shift(np.array(D), 8)
            Dl = D - Dh * 256
            parts = (Dh, Dl)
    step = max(1, L.chunk // max(n_out, rows))
    for i0 in range(0, n_in, step):
        i1 = min(i0 + step, n_in)
        XT = np.array(X[:, i0:i1], dtype=np.float).transpose()  # float: the fastest np.dot
        _apply(L.Wv, i0, i1, XT, parts, groups, s, half, L.wmax)
        XT = None
    if L.bias_rows != rows:
        L.bias_x = np.full((1, rows), BIAS_INPUT, dtype=np.uint8)
        L.bias_rows = rows
    _apply(L.bv, 0, 1, L.bias_x, parts, groups, s, half, L.wmax)


def _row_absmax(A):
    """max |A[r]| of each row as a list of Python ints (rounded up past 22-bit float reads)."""
    hi = np.max(A, axis=1)
    lo = np.min(A, axis=1)
    out = []
    for r in range(len(hi)):
        m = max(hi[r], -lo[r])
        if not isinstance(m, int):
            m = int(m)
            m += (m >> 20) + 1
        out.append(m)
    return out


def _apply(W, i0, i1, XT, parts, groups, s, half, wmax):
    """W[i0:i1] -= floor((XT parts + half) / 2^s), clamped to +-wmax."""
    if groups is not None:  # one dot per group of batch rows, carried
        D = parts[0]
        T = np.zeros((i1 - i0, len(D[0])), dtype=np.float)
        F = np.zeros((i1 - i0, len(D[0])), dtype=np.float)
        g0 = 0
        for g1 in groups:
            _carry(T, F, np.dot(XT[:, g0:g1], D[g0:g1]))
            g0 = g1
        q = _shift(T, F, s, half)
    elif len(parts) == 1:
        acc = np.dot(XT, parts[0])
        acc += half  # < 2^24 by the caller's bound: exact
        q = _floor_shift(acc, s)
    else:
        T = np.dot(XT, parts[0])
        lo = np.dot(XT, parts[1])
        if s >= 9:  # half = 256 * 2^(s-9): floor(acc / 256) is all that matters
            lo /= 256  # fpu-ok: exact power-of-two scaling
            T += np.floor(lo)
            T += half >> 8
            q = _floor_shift(T, s - 8)
        else:
            F = np.zeros(T.shape, dtype=np.float)
            _carry(T, F, lo)
            q = _shift(T, F, s, half)
    w = np.array(W[i0:i1], dtype=np.float)
    w -= q  # |q| <= 2^24 (saturated by _shift), |w| <= 32767: sign and clamp are right
    W[i0:i1] = np.clip(w, -wmax, wmax)


def argmax(y, rows, n, out):
    """out[r] = index of the largest y in row r (the first one on ties)."""
    Y = _view(_cache, 0, y, n, np.int8)
    O = _view(_cache, 1, out, 1, np.uint8)
    O[0:rows] = np.argmax(Y[:rows], axis=1).reshape((rows, 1))


_cache = [None] * 4
