# Runs on the PC: fits the integer input map of udfa.prep on training data and applies it with
# numpy, by the device's own rule (u8 = min(255, ((clamp(x, lo, hi) - lo) * mul) >> sh), x the
# value as a fixed-point integer with `frac` fraction bits), so the board turns a raw reading
# into the very bytes the PC fed the model.
import numpy as np

from udfa.prep import PRODUCT_LIMIT, VALUE_LIMIT, Prep
from udfa_host.idx import DataError

MAP_NAME = "input-map.udfp"  # the map 'udfa prepare' writes beside the shards it fitted
MAX_FRAC = 16
# Fraction bits for real-valued data: the widest feature's range stays within 2^RANGE_BITS
# fixed-point units, so its multiplier (about 255 * 2^SCALE_SHIFT / range) keeps >= 32 steps
# of precision; the narrowest keeps its range * 2^frac levels.
RANGE_BITS = 24
SCALE_SHIFT = 21  # the multiplier rounds up, so the top of the range gives 255:
#                   (hi - lo) * mul <= 255 * 2^21 + (hi - lo) < 2^30 while hi - lo < 2^29


class PrepError(DataError):
    """Data the input map cannot hold (values too large for the board's integers)."""


def is_integral(x):
    return bool(np.all(np.floor(x) == x))


def choose_frac(x):
    """0 for integer data (a reading is its own fixed-point value); otherwise the most
    fraction bits <= MAX_FRAC that keep every value below 2^28 and every feature's range
    within 2^RANGE_BITS."""
    if is_integral(x):
        return 0
    top = float(np.abs(x).max())
    span = float((x.max(axis=0) - x.min(axis=0)).max())
    frac = MAX_FRAC
    while frac and (top * 2 ** frac >= VALUE_LIMIT // 2 or span * 2 ** frac > 2 ** RANGE_BITS):
        frac -= 1
    return frac


def to_fixed(x, frac):
    """Real values -> fixed-point int64, round half up: floor(v * 2^frac + 1/2)."""
    x = np.asarray(x)
    if frac == 0 and x.dtype.kind in "iub":
        return x.astype(np.int64)
    return np.floor(np.asarray(x, np.float64) * 2.0 ** frac + 0.5).astype(np.int64)


def fit(x, shape=None, names=None, frac=None):
    """The Prep of training data x (N, n features), real or integer: each feature's range
    [min, max] maps onto 0..255. uint8 images (N, H, W[, C]) keep their values (lo 0, hi 255,
    mul 1): a pixel is already a byte, and a border pixel that is always 0 stays 0."""
    x = np.asarray(x)
    images = x.dtype == np.uint8 and x.ndim >= 3
    x = x.reshape(len(x), -1)
    n = x.shape[1]
    if images:
        p = Prep(n, 0, shape, names)
        for i in range(n):
            p.hi[i], p.mul[i] = 255, 1
        return p
    if frac is None:
        frac = choose_frac(x)
    xi = to_fixed(x, frac)
    if len(xi) and int(np.abs(xi).max()) >= VALUE_LIMIT:
        raise PrepError("values up to %g do not fit the board's integers (|value| * 2^%d < "
                        "2^29): rescale that feature" % (float(np.abs(x).max()), frac))
    p = Prep(n, frac, shape, names)
    lo, hi = xi.min(axis=0), xi.max(axis=0)
    for i in range(n):
        r = int(hi[i] - lo[i])
        p.lo[i], p.hi[i] = int(lo[i]), int(hi[i])
        if r == 0:
            continue  # a constant feature: always 0
        mul, sh = -(-(255 << SCALE_SHIFT) // r), SCALE_SHIFT
        if r * mul >= PRODUCT_LIMIT:  # integer data of a range near 2^30: round down instead
            mul -= 1
        if mul == 0:  # a range beyond 255 * 2^21: shift it down to 8 bits instead
            mul, sh = 1, max(0, r.bit_length() - 8)
        p.mul[i], p.sh[i] = mul, sh
    p.check("the fitted input map")
    return p


def arrays(p):
    """(lo, hi, mul, sh) of a Prep as int64 numpy vectors."""
    return tuple(np.array(a, dtype=np.int64) for a in (p.lo, p.hi, p.mul, p.sh))


def apply(p, x):
    """uint8 inputs (N, n) of real or integer data x (N, ...) by p's rule, as udfa.prep does
    on the board."""
    x = np.asarray(x)
    x = x.reshape(len(x), -1)
    if x.shape[1] != p.n:
        raise PrepError("the data has %d features per sample, the model's input map %d"
                        % (x.shape[1], p.n))
    lo, hi, mul, sh = arrays(p)
    v = np.clip(to_fixed(x, p.frac), lo, hi)
    return np.minimum(((v - lo) * mul) >> sh, 255).astype(np.uint8)


def save_model(model, path):
    """Write a model file with the model's input map (model.prep) as its trailing section:
    udfa.model.Model.save does the same for an MLP; this serves a udfa.conv model (LES) too."""
    with open(path, "wb") as f:
        model.write(f)
        if getattr(model, "prep", None):
            model.prep.write(f)
