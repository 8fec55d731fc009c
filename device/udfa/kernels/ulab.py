# ulab kernel (device, boards with ulab built in): the plain kernel's rules as ulab array
# operations, bit-identical to plain.py (same rounding rules, argument order and buffers).
#
# ulab has no int32 dtype, wraps int8/int16 arithmetic silently, and np.dot works in float32,
# which holds every integer only up to 2^24. So this kernel does all its arithmetic in float32
# on integers, and every sum it forms, partial sums included, is bounded below 2^24 first.
# np.dot costs far more per product than elementwise ops (two function-pointer loads per
# product), so the kernel spends as few dot products as it can:
#   - forward: over runs of input columns that are nonzero in some batch row (_segments:
#     MNIST's zero borders are skipped), one dot per run of whole W when max|x| max|W| leaves
#     room for 4+ columns below 2^23, else two on W's bytes, W = 256 (W >> 8) + (W & 255);
#     sums kept as 256 H + G, G carried into H before it could pass 2^23 (_floor256);
#   - update: d = 256 Dh + Dl, Dl in 0..255, two dots per run, and the rounding
#     floor((256 P + Q + 2^(lr-1)) / 2^lr) = floor((P + floor(Q / 256) + 2^(lr-9)) / 2^(lr-8));
#     lr_shift < 9 or huge deltas take _update_exact (data-dependent groups, (T, F) pairs);
#   - floors without np.floor (slow on 32-bit builds): floor(v / 2^k) is v - 2^(k-1) + 1/2
#     (exact below 2^23) scaled by 2^-k and rounded to nearest by adding and removing
#     1.5 * 2^23, never a tie; forward's floor is the rounding of the final uint8 conversion.
# Multiplying or dividing by a power of two is exact in float32, and no float is read back
# into a Python scalar except bounds (CircuitPython's boxed floats keep only 22 bits, so
# those reads carry a margin) and output_delta's errors (|.| <= 254). Integers come back out
# through uint8/int16 arrays. Int scalars given to ulab ops stay below 2^24; float scalars
# have at most 9 significant bits, or 22 (update's bias: 2^20 and a half at most).
# Activation slopes must be 0 or powers of two (pocket.py's are), so g * slope is exact.
# This ulab computes int16 - float wrongly for negative int16 (reads them as uint16), so
# the kernel only ever adds int16 arrays into float ones.
#
# Buffers: 'B', 'b' and 'h' buffers are array.array, as in plain.py (so row() gives readinto
# views); 'i' buffers (the errors e and deltas d, used only by kernels) are float32 ndarrays
# holding exact integers. Each call makes ulab result arrays (measured per step in
# docs/RESULTS.md); the viper and plain kernels allocate nothing.
#
# Runs on ulab 6.12 (MicroPython) and 6.5.3 (CircuitPython 10): importing it checks that
# this ulab has every function the kernel needs (ImportError naming the missing ones, so
# kernels.load() falls back); np.take, which 6.5.3 lacks, has a stand-in (_lookup). 6.5.3
# also returns a scalar, not a one-element array, from np.max/min/argmax along an axis of
# length 1: the kernel never asks for one (one-row batches and one-column inputs take 1-D
# calls instead), so both versions run the same code there.
import gc
from array import array

import ulab
from ulab import numpy as np

from udfa.kernels.plain import row  # noqa: F401  (the same array buffers)
from udfa.pocket import BIAS_INPUT

NEEDS = ("array", "argmax", "bitwise_and", "clip", "dot", "floor", "frombuffer", "full",
         "max", "min", "right_shift", "zeros")
_missing = [n for n in NEEDS if not hasattr(np, n)]
if _missing:
    raise ImportError("ulab %s lacks np.%s" % (getattr(ulab, "__version__", "?"),
                                               ", np.".join(_missing)))
TAKE = hasattr(np, "take")  # ulab 6.5.3 has none (nor integer-array indexing): _lookup

EXACT = 1 << 24  # float32 holds every integer of magnitude <= 2^24
ROUNDER = 3 << 22  # 1.5 * 2^23: x + ROUNDER - ROUNDER is x rounded to an integer, |x| < 2^22
_ITEMSIZE = {"B": 1, "b": 1, "h": 2}
ROOM = 1 << 23  # the fast paths keep every float below this, so x - 127.5 etc. stay exact
HALF = 0.5  # fpu-ok: one fraction bit, exact
LOW = 127.5  # fpu-ok: 2^7 - 1/2: 8 significant bits, exact
INV = [1 / (1 << k) for k in range(32)]  # fpu-ok: 2^-k, powers of two are exact
GAP = 8  # zero input columns a segment bridges: cheaper than the ops and temporaries of a new one


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
        free = gc.mem_free()
        self.chunk = max(256, min(8192, free // 128))
        # fast paths (forward, update): fixed byte splits, sizes from a larger heap share
        self.signed = layer.in_max <= 127
        span = n_in * layer.in_max + BIAS_INPUT  # sum of |x| over a sample, bias included
        # |x (W >> 8)| <= span * 128 (or span * (wmax / 256 + 1), checked per call) < 2^23
        self.check_w = span * 130 >= ROOM
        self.fast = span * ((layer.wmax >> 8) + 3) < ROOM
        elems = max(512, min(8192, free // 32))
        self.fseg = max(1, min(elems // n_out, (ROOM - 512) // (layer.in_max * 255)))
        self.useg = max(1, elems // (2 * n_out))
        self.frows = max(1, elems // n_out)
        self.xm = max(layer.in_max, BIAS_INPUT)
        self.smax = _absmax(self.slopes)
        self.col = None  # rows x 1 of BIAS_INPUT (forward's bias input), made on first use


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


def _segments(X, signed, n, seg):
    """Runs [(i0, i1), ...] of input columns that are nonzero in some row of X, runs less than
    GAP apart merged, each cut to at most `seg` columns. All-zero columns add nothing to x W
    or to x^T d, so they are skipped (MNIST's borders)."""
    if n == 1:  # np.max along a length-1 axis is a scalar in ulab 6.5.3; one run anyway
        return [(0, 1)]
    hi = bytes(np.max(X, axis=0))
    lo = bytes(np.min(X, axis=0)) if signed else hi  # the raw bytes: nonzero iff the value is
    out = []
    start = -1
    end = 0  # one past the last nonzero column
    for i in range(n):
        if hi[i] or lo[i]:
            if start < 0:
                start = i
            elif i - end > GAP:
                _cut(out, start, end, seg)
                start = i
            end = i + 1
    if start >= 0:
        _cut(out, start, end, seg)
    return out


def _cut(out, i0, i1, seg):
    while i1 - i0 > seg:
        out.append((i0, i0 + seg))
        i0 += seg
    out.append((i0, i1))


def _floor256(v):
    """floor(v / 256) as a new array, v integer-valued with |v| < 2^23 - 128: v - 127.5 is
    exact (a half-integer below 2^23), / 256 exact, and its fraction lies strictly between
    -1/2 and +1/2 of floor(v / 256), so rounding to nearest (+- 1.5 * 2^23) gives the floor."""
    f = v - LOW
    f *= INV[8]
    f += ROUNDER
    f -= ROUNDER
    return f


def forward(L, x, rows, a, s):
    """a = act(clamp((x W + 127 b) >> shift)); s = its slope (skipped when s is None).

    Per run of nonzero input columns: one dot of whole W into G when max|x| max|W| allows
    runs of 4+ columns below 2^23; else W = 256 Wh + Wl with Wh = W >> 8, Wl = W & 255
    (int16 ops) and two dots, into H = x Wh (|H| < 2^23 by Layer.fast) and G = x Wl. G is
    carried into H by _floor256 before |G| could pass 2^23 (H += floor(G / 256)), then
    h = 256 H + G is exact wherever |h| < 2^24, and the clamp needs only |h| < 2^(shift+7);
    beyond that rounding is monotone and +-2^(shift+7) are floats, so the clamp still holds.
    The floor comes from rounding to nearest in the final uint8 conversion (see _index)."""
    sh = L.shift
    if not L.fast:
        raise ValueError("ulab kernel: %d inputs of up to %d are too many; use the viper or "
                         "plain kernel" % (L.n_in, L.in_max))
    n_in = L.n_in
    n_out = L.n_out
    c = L.cache
    X = _view(c, 0, x, n_in, L.xdtype)
    A = _view(c, 1, a, n_out, np.int8)
    S = None if s is None else _view(c, 2, s, n_out, np.uint8)
    W = L.Wv
    b = L.bv
    wabs = _absmax(W)
    if L.check_w and (wabs > L.wmax or _absmax(b) > L.wmax):
        raise ValueError("a weight exceeds the layer bound %d: re-initialise the model"
                         % L.wmax)
    # whole W (one dot per segment, into G) while 4 input columns of x W stay below 2^23;
    # else its bytes (two dots per segment)
    whole = _absmax(X[:rows]) * wabs
    if whole * 4 < ROOM - 512:
        unit = whole  # G grows by at most this per input column
        seg = max(1, min(L.fseg, (ROOM - 512) // (whole + 1)))
    else:
        whole = 0
        unit = L.in_max * 255
        seg = L.fseg
    segs = _segments(X[:rows], L.signed, n_in, seg)
    if whole:
        bh = np.zeros((1, n_out), dtype=np.int16)
        bl = b
    else:
        bh = np.right_shift(b, 8)
        bl = np.bitwise_and(b, 255)
    block = L.frows
    for r0 in range(0, rows, block):
        r1 = min(r0 + block, rows)
        col = _col(L, r1 - r0)
        H = np.dot(col, bh)  # 127 (b >> 8), |.| <= 127 * 128
        G = np.dot(col, bl)  # 127 (b & 255), 0..32385 (127 b, |.| < 2^22, for whole W)
        room = ROOM - 256 - (BIAS_INPUT << 15)
        Xr = X[r0:r1]
        for seg in segs:
            i0 = seg[0]
            i1 = seg[1]
            cost = (i1 - i0) * unit
            if cost > room:  # G could pass 2^23 - 256: move floor(G / 256) into H
                f = _floor256(G)
                H += f
                f *= 256
                G -= f  # 0..255
                f = None
                room = ROOM - 512
            room -= cost
            Xb = Xr[:, i0:i1]
            Wb = W[i0:i1]
            if whole:
                G += np.dot(Xb, Wb)  # every partial sum < 2^23: exact
            else:
                H += np.dot(Xb, np.right_shift(Wb, 8))  # every partial sum < 2^23: exact
                G += np.dot(Xb, np.bitwise_and(Wb, 255))
        if sh <= 15:
            H *= 256
            H += G  # h: exact while |h| < 2^24, else rounded monotonically (clamped next)
            k = sh
        else:  # floor(h / 2^s) = floor((H + floor(G / 256)) / 2^(s-8)), |.| < 2^23
            H += _floor256(G)
            k = sh - 8
            if k > 15:  # the same identity once more: |H| < 2^23 - 128 (Layer.fast)
                H = _floor256(H)
                k -= 8
        G = None
        idx = _index(H, k)
        H = None
        if TAKE:
            A[r0:r1] = np.take(L.values, idx).reshape((r1 - r0, n_out))
            if S is not None:
                S[r0:r1] = np.take(L.slopes, idx).reshape((r1 - r0, n_out))
        else:
            _lookup(L.layer, idx, a, s, r0 * n_out)


def _lookup(layer, idx, a, s, o):
    """a[o + i] = values[idx[i]] and s[o + i] = slopes[idx[i]] (s None: a only) for the
    flat a and s buffers: np.take's stand-in. One pass in Python over a memoryview of idx,
    which is all it allocates (np.take makes two result arrays)."""
    values = layer.values
    if s is None:
        for j in memoryview(idx):
            a[o] = values[j]
            o += 1
        return
    slopes = layer.slopes
    for j in memoryview(idx):
        a[o] = values[j]
        s[o] = slopes[j]
        o += 1


def _col(L, rows):
    """rows x 1 of BIAS_INPUT (uint8), kept on the handle."""
    if L.col is None or len(L.col) != rows:
        L.col = np.full((rows, 1), BIAS_INPUT, dtype=np.uint8)
    return L.col


def _index(h, s):
    """clamp(floor(h / 2^s), -128, 127) + 128 as a flat uint8 array (0 <= s <= 15, h exact
    where |h| < 2^(s+7)). With h clamped to [-2^(s+7), 127 * 2^s], h + 127.5 * 2^s + 1/2 is
    exact (s + 9 bits), and divided by 2^s it is floor(h / 2^s) + 128 + (j + 1/2) / 2^s - 1/2
    with 0 <= j < 2^s: never a tie, so the conversion's rounding to nearest gives
    floor(h / 2^s) + 128, 0..255."""
    z = np.clip(h, -(128 << s), 127 << s)
    if s:
        z += 255 << (s - 1)
        z += HALF
        z *= INV[s]
    else:
        z += 128
    return np.array(z, dtype=np.uint8).reshape((z.size,))


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
    er = n_cls * _absmax(E) * _absmax(R)
    if er >= EXACT:
        raise ValueError("ulab kernel: %d classes x error x feedback reach 2^24; use the "
                         "viper or plain kernel" % n_cls)
    g = np.dot(E, R)  # |e R| <= n_cls * max|e| * max|R| < 2^24: exact
    g *= S[:rows]  # slopes are 0 or powers of two: exact whatever |g|
    k = shift if shift < 23 else 23  # |g| < 2^23 below: floor(g / 2^k) is 0 or -1 past 23
    if k == 0:
        D[0:rows] = g
    elif er * L.smax + (1 << (k - 1)) < ROOM:
        # floor(g / 2^k) = round((g - 2^(k-1) + 1/2) / 2^k): a half-integer below 2^23
        # (exact), scaled by 2^-k (exact), never a tie; rounded by +- 1.5 * 2^23
        g -= 1 << (k - 1)
        g += HALF
        g *= INV[k]
        g += ROUNDER
        g -= ROUNDER
        D[0:rows] = g
    else:
        D[0:rows] = _floor_shift(g, shift if shift < 31 else 31)  # 24 significant bits: exact


def update(L, x, d, rows, lr_shift, offset):
    """W -= (x^T d + offset) >> lr_shift, b likewise with the constant input 127; clamped.

    Fast path (lr_shift >= 9, modest deltas): d = 256 Dh + Dl, Dl in 0..255, P = x^T Dh and
    Q = x^T Dl (two dots per run of nonzero input columns, both below 2^23); with
    offset = 256 oh + ol and k = lr - 8,
      floor((256 P + Q + offset) / 2^lr) = floor((P + floor((Q + ol) / 256) + oh) / 2^k),
    taken as round((v + 1/2) / 2^k) for v = P + floor((Q + ol) / 256) + oh - 2^(k-1), which
    is never a tie and rounds to that floor."""
    n_in = L.n_in
    n_out = L.n_out
    c = L.cache
    s = lr_shift if lr_shift < 31 else 31  # |acc| < 2^30: larger shifts round the same
    X = _view(c, 0, x, n_in, L.xdtype)[:rows]
    D = _view(c, 10, d, n_out, None)[:rows]
    dabs = _absmax(D)
    xm = rows * L.xm
    # Q: |x^T Dl| <= rows * xm * 255; P: |x^T Dh| <= rows * xm * (dabs / 256 + 1), and
    # |P + floor(Q / 256)| + 1 < 2^23
    if (s < 9 or s > 29 or dabs >= ROOM // 2 or xm * 255 >= ROOM - 512 or
            xm * ((dabs >> 8) + 3) + (1 << (s - 9)) >= ROOM):
        return _update_exact(L, x, d, rows, lr_shift, offset)
    ol = offset & 255
    # oh - 2^(k-1) + 1/2, |.| <= 2^(s-9) <= 2^20 (s <= 29): a half-integer of at most 22
    # significant bits, exact even as a Python float boxed in 30 bits (CircuitPython)
    bias = (offset >> 8) - (1 << (s - 9)) + HALF
    Dh = _floor256(D)
    Dl = Dh * -256
    Dl += D  # 0..255
    inv = -INV[s - 8]
    wmax = L.wmax
    W = L.Wv
    for seg in _segments(X, L.signed, n_in, L.useg):
        _step(W, seg[0], seg[1], X[:, seg[0]:seg[1]].transpose(), Dh, Dl, ol, bias, inv,
              wmax)
    if L.bias_rows != rows:
        L.bias_x = np.full((1, rows), BIAS_INPUT, dtype=np.uint8)
        L.bias_rows = rows
    _step(L.bv, 0, 1, L.bias_x, Dh, Dl, ol, bias, inv, wmax)


def _step(W, i0, i1, XT, Dh, Dl, ol, bias, inv, wmax):
    """W[i0:i1] = clamp(W - floor((256 XT Dh + XT Dl + offset) / 2^lr)) (update's fast
    path; ol = offset & 255, bias = (offset >> 8) - 2^(lr-9) + 1/2, inv = -2^-(lr-8))."""
    P = np.dot(XT, Dh)  # partial sums < 2^23: exact
    Q = np.dot(XT, Dl)  # 0 <= Dl <= 255: |XT Dl| < 2^23 - 512
    Q += ol
    P += _floor256(Q)
    P += bias
    P *= inv  # negative: -(P + 1/2) / 2^k, whose rounding is -q (no ties, symmetric)
    P += ROUNDER
    P -= ROUNDER
    P += W[i0:i1]  # W - q, |.| < 2^23: exact (float += int16; int16 - float reads the
    W[i0:i1] = np.clip(P, -wmax, wmax)  # int16 as uint16 in this ulab)


def _update_exact(L, x, d, rows, lr_shift, offset):
    """update() for lr_shift < 9 or huge deltas: data-dependent groups or a split of d."""
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
    # |acc| <= sum over the batch rows r of max|x_r| * max|d_r| (x = 127 for the bias)
    xr = _row_absmax(X)
    dr = _row_absmax(D)
    bounds = [max(xr[r], BIAS_INPUT) * dr[r] for r in range(rows)]
    groups = None
    if sum(bounds) + offset < EXACT:
        parts = (D,)  # every acc + offset < 2^24: one exact dot product
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
        _apply(L.Wv, i0, i1, XT, parts, groups, s, offset, L.wmax)
        XT = None
    if L.bias_rows != rows:
        L.bias_x = np.full((1, rows), BIAS_INPUT, dtype=np.uint8)
        L.bias_rows = rows
    _apply(L.bv, 0, 1, L.bias_x, parts, groups, s, offset, L.wmax)


def _row_absmax(A):
    """max |A[r]| of each row as a list of Python ints (rounded up past 22-bit float reads)."""
    if len(A) == 1:  # np.max along axis 1 of one row is a scalar in ulab 6.5.3
        return [_absmax(A)]
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


def _apply(W, i0, i1, XT, parts, groups, s, offset, wmax):
    """W[i0:i1] -= floor((XT parts + offset) / 2^s), clamped to +-wmax."""
    if groups is not None:  # one dot per group of batch rows, carried
        D = parts[0]
        T = np.zeros((i1 - i0, len(D[0])), dtype=np.float)
        F = np.zeros((i1 - i0, len(D[0])), dtype=np.float)
        g0 = 0
        for g1 in groups:
            _carry(T, F, np.dot(XT[:, g0:g1], D[g0:g1]))
            g0 = g1
        q = _shift(T, F, s, offset)
    elif len(parts) == 1:
        acc = np.dot(XT, parts[0])
        acc += offset  # < 2^24 by the caller's bound: exact
        q = _floor_shift(acc, s)
    else:
        T = np.dot(XT, parts[0])
        lo = np.dot(XT, parts[1])
        if s >= 9:  # acc + offset = 256 (T + (offset >> 8)) + lo + (offset & 255)
            lo += offset & 255  # |lo| < 2^23: exact
            lo /= 256  # fpu-ok: exact power-of-two scaling
            T += np.floor(lo)
            T += offset >> 8
            q = _floor_shift(T, s - 8)
        else:
            F = np.zeros(T.shape, dtype=np.float)
            _carry(T, F, lo)
            q = _shift(T, F, s, offset)
    w = np.array(W[i0:i1], dtype=np.float)
    w -= q  # |q| <= 2^24 (saturated by _shift), |w| <= 32767: sign and clamp are right
    W[i0:i1] = np.clip(w, -wmax, wmax)


def argmax(y, rows, n, out):
    """out[r] = index of the largest y in row r (the first one on ties)."""
    Y = _view(_cache, 0, y, n, np.int8)
    if rows == 1:  # np.argmax along axis 1 of one row is a scalar in ulab 6.5.3
        out[0] = np.argmax(Y[0])
        return
    O = _view(_cache, 1, out, 1, np.uint8)
    O[0:rows] = np.argmax(Y[:rows], axis=1).reshape((rows, 1))


_cache = [None] * 4
