# Integer CNNs (device and host): the conv / LES model, its file format, the plain-loop conv
# ops (im2col, max pooling, head pooling and their backward) and the inference network.
#
# A model is a spec string of blocks, e.g. "c16k3p2-c32k3p2-f10" (MNIST 28x28x1 in):
#   cNkKpPgG  conv block: N channels, KxK kernel ('same' zero padding, default 3), then
#             scaling and integer leaky ReLU, then PxP max pooling (default 1 = none);
#             its LES head sums the block output over a GxG grid (default 2)
#   fN        dense block of width N with integer leaky ReLU (its head reads it directly)
#   the last token is the output layer (fN or fcN, N classes, 'linear' activation).
# Every block but the last has its own head (a linear layer to the classes); the last
# block's head is the output layer itself (udfa.les).
#
# A conv layer is a Dense layer (udfa.model) of k*k*C_in inputs and C_out outputs applied to
# im2col patches: each output position of each sample is one row, so the kernels' forward
# and update run unchanged. Layouts are channels-last: a block's activations are
# (B*H*W) x C, which read flat are also B x (H*W*C).
import struct

from udfa import kernels
from udfa.model import (_HEADER, MAGIC, SMALL_INT_MAX, WEIGHT_BITS, Dense, ModelError, _read,
                        _write, default_shift, fail, read_table, write_layers)
from udfa.pocket import SLOPE_SHIFT
from udfa.rng import XorShift32

VERSION = 2
_SHAPE = "<HHH"  # input height, width, channels
_GEOM = "<BBBB"  # kind, kernel size, pool, head grid
DENSE, CONV, HEAD, OUTPUT = 0, 1, 2, 3
MAX_CELL = 258  # head grid cells sum at most MAX_CELL * 127 < 2^15 (int16 head inputs)
MAX_INPUTS = 65535  # H * W * C of the input: a shard sample, and a Dense layer's n_in at most


class Block:
    """One block's geometry: input H x W x C, output Ho x Wo x n_out after pooling."""

    def __init__(self, kind, H, W, C, n_out, k, pool, grid):
        self.kind, self.H, self.W, self.C = kind, H, W, C
        self.n_out, self.k, self.pool, self.grid = n_out, k, pool, grid
        if kind == CONV and (k % 2 == 0 or not 0 < pool < 16 or H < pool or W < pool):
            raise ValueError("conv block k%d p%d does not fit a %dx%d input (odd k, pool 1..15 "
                             "and at most the input)" % (k, pool, H, W))
        if kind == CONV:
            self.Ho, self.Wo = H // pool, W // pool
            self.positions = H * W  # rows per sample of the conv layer
            self.n_in = k * k * C
        else:
            self.H = self.W = self.Ho = self.Wo = self.positions = 1
            self.C = C = H * W * C
            self.n_in = C
        self.size = self.Ho * self.Wo * n_out  # flat output width per sample
        self.layer = None  # the Dense layer
        self.head = None  # its own head (None: the output layer is its head)

    def cell(self):
        """Largest head grid cell (positions summed into one head input)."""
        return -(-self.Ho // self.grid) * -(-self.Wo // self.grid)


def parse(spec):
    """[(kind, n, k, pool, grid)] from a spec string; the last is the output layer."""
    tokens = spec.replace("fc", "f").split("-")
    out = []
    for t in tokens:
        if not t or t[0] not in "cf":
            raise ValueError("bad layer %r in %r: use cNkKpPgG or fN (e.g. c16k3p2-f10)"
                             % (t, spec))
        fields = {}
        key, num = t[0], ""
        for ch in t[1:] + "$":
            if "0" <= ch <= "9":
                num += ch
                continue
            if not num or key in fields:
                raise ValueError("bad layer %r in %r" % (t, spec))
            fields[key] = int(num)
            key, num = ch, ""
        if t[0] == "f" and len(fields) > 1 or not set(fields) <= set("ckpgf"):
            raise ValueError("bad layer %r in %r" % (t, spec))
        if t[0] == "c":
            out.append((CONV, fields["c"], fields.get("k", 3), fields.get("p", 1),
                        fields.get("g", 2)))
        else:
            out.append((DENSE, fields["f"], 0, 1, 0))
    if len(out) < 2 or out[-1][0] != DENSE:
        raise ValueError("spec %r needs at least one block and ends with the output layer "
                         "fN" % spec)
    return out


def isqrt(n):
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


def _bits(n):
    """Smallest b with 2^b >= n."""
    b = 0
    while (1 << b) < n:
        b += 1
    return b


class ConvModel:
    """Blocks of conv / dense layers, their LES heads and the output layer.
    shape: (H, W, C) of the input; in_max: the largest input value (255 for pixels)."""

    def __init__(self, spec, shape, in_max=255, seed=1, _stored=None):
        self.spec = spec
        self.shape = tuple(shape)
        self.in_max = in_max
        self.seed = seed
        parts = parse(spec)
        H, W, C = shape
        if not (H > 0 and W > 0 and C > 0 and H * W * C <= MAX_INPUTS):
            raise ValueError("input shape %dx%dx%d: each side 1 or more, at most %d inputs"
                             % (H, W, C, MAX_INPUTS))
        self.blocks = []
        self.layers = []  # every Dense, in file order: block, its head, ..., output
        self.default_shifts = []  # each layer's scaling shift unless settings replace it
        layer_in_max = in_max
        for n, (kind, n_out, k, pool, grid) in enumerate(parts[:-1]):
            b = Block(kind, H, W, C, n_out, k, pool, grid)
            b.layer = self._dense(b.n_in, n_out, "leaky", default_shift(layer_in_max),
                                  layer_in_max, _stored)
            if n < len(parts) - 2:
                if kind == CONV:
                    if b.grid < 1 or b.grid > b.Ho or b.grid > b.Wo or b.cell() > MAX_CELL:
                        raise ValueError("head grid g%d does not fit the %dx%d block output "
                                         "(cells of at most %d)" % (grid, b.Ho, b.Wo, MAX_CELL))
                    n_h, h_in_max = b.grid * b.grid * n_out, b.cell() * 127
                else:
                    n_h, h_in_max = n_out, 127
                b.head = self._dense(n_h, parts[-1][1], "linear", default_shift(127) +
                                     _bits(h_in_max // 127), h_in_max, _stored)
            self.blocks.append(b)
            H, W, C = (b.Ho, b.Wo, n_out) if kind == CONV else (1, 1, n_out)
            layer_in_max = 127  # leaky outputs are -32..127
        self.out = self._dense(H * W * C, parts[-1][1], "linear", default_shift(layer_in_max),
                               layer_in_max, _stored)

    def _dense(self, n_in, n_out, act, shift, in_max, stored):
        self.default_shifts.append(shift)
        if stored is not None:  # (n_in, n_out, act, shift) read from a file
            if not stored:
                raise ModelError("its layer table has fewer layers than its spec")
            s_in, s_out, act, shift = stored.pop(0)
            if (s_in, s_out) != (n_in, n_out):
                raise ModelError("model file layer %dx%d does not match its spec (%dx%d)"
                                 % (s_in, s_out, n_in, n_out))
        layer = Dense(n_in, n_out, act, shift, in_max)
        self.layers.append(layer)
        return layer

    @property
    def n_inputs(self):
        return self.shape[0] * self.shape[1] * self.shape[2]

    @property
    def n_classes(self):
        return self.out.n_out

    def init_kaiming(self):
        """Weights uniform in [-r, r] without 0, r = sqrt(6 / fan_in) (4096 stands for 1.0 at
        the layer's default shift; 2^k times that for a shift k above it, so the layer starts
        as the same function), from the model seed; biases zero. LES needs random weights
        (heads feed back)."""
        rng = XorShift32(self.seed ^ 0x5EED)
        for layer, default in zip(self.layers, self.default_shifts):
            r = isqrt(6 * (1 << 2 * WEIGHT_BITS) // layer.n_in)
            k = layer.shift - default
            r = min(r << k if k >= 0 else r >> -k, layer.wmax, 32767)
            W = layer.W
            for i in range(len(W)):
                W[i] = rng.nonzero(r)

    def describe(self):
        return "%s on %dx%dx%d" % ((self.spec,) + self.shape)

    def weights_bytes(self):
        return sum(2 * (len(l.W) + len(l.b)) for l in self.layers)

    def inference_bytes(self):
        """Weights needed for prediction (heads are for training only)."""
        return sum(2 * (len(b.layer.W) + len(b.layer.b)) for b in self.blocks) + \
            2 * (len(self.out.W) + len(self.out.b))

    def save(self, path):
        with open(path, "wb") as f:
            self.write(f)

    def write(self, f):
        """Model file version 2: header, input shape, spec, layer table, weights, CRC-32."""
        spec = self.spec.encode()
        crc = _write(f, struct.pack(_HEADER, MAGIC, VERSION, len(self.layers), self.in_max,
                                    self.seed), 0)
        crc = _write(f, struct.pack(_SHAPE, *self.shape), crc)
        crc = _write(f, struct.pack("<B", len(spec)) + spec, crc)
        write_layers(f, self.layers, crc)


def read_body(f, path, n_layers, in_max, seed, crc):
    """The ConvModel of a version-2 file after its header (called by udfa.model.read once the
    file's CRC is checked; weights not yet read), and the CRC so far."""
    rec = bytearray(struct.calcsize(_SHAPE))
    crc = _read(f, rec, crc, path)
    shape = struct.unpack(_SHAPE, rec)
    n = bytearray(1)
    crc = _read(f, n, crc, path)
    spec = bytearray(n[0])
    crc = _read(f, spec, crc, path)
    stored, crc = read_table(f, n_layers, crc, path)
    try:
        model = ConvModel(spec.decode(), shape, in_max, seed, stored)
        if stored:
            raise ModelError("its layer table has more layers than its spec")
    except ValueError as e:  # ModelError and UnicodeError among them
        fail(path, "%s" % e, "write it again with udfa")
    return model, crc


# ---- plain-loop conv ops: the reference; host/udfa_host/conv_numpy.py matches them ---------
# Buffers are flat arrays in the layouts above. No op allocates.

def view(buf, rows, cols):
    """The buffer seen as rows x cols (flat arrays need no view)."""
    return buf


def im2col(x, rows, H, W, C, k, P):
    """P[(b*H + y)*W + x'] = the k x k x C patch around (y, x') of sample b, zero padded.
    Column order (dy, dx, c) matches the Dense weight rows. |P| <= |x|."""
    pad = k >> 1
    n_in = k * k * C
    for b in range(rows):
        xb = b * H * W * C
        for y in range(H):
            for x0 in range(W):
                o = ((b * H + y) * W + x0) * n_in
                for dy in range(k):
                    yy = y + dy - pad
                    for dx in range(k):
                        xx = x0 + dx - pad
                        if 0 <= yy < H and 0 <= xx < W:
                            src = xb + (yy * W + xx) * C
                            for c in range(C):
                                P[o + c] = x[src + c]
                        else:
                            for c in range(C):
                                P[o + c] = 0
                        o += C


def maxpool(a, rows, H, W, C, p, out, idx):
    """out = max of each p x p window (remainder rows/columns dropped); idx = the window
    offset dy*p + dx of the first maximum in scan order (used by unpool_delta)."""
    Ho = H // p
    Wo = W // p
    for b in range(rows):
        for oy in range(Ho):
            for ox in range(Wo):
                o = ((b * Ho + oy) * Wo + ox) * C
                base = (b * H + oy * p) * W + ox * p
                for c in range(C):
                    best = a[base * C + c]
                    where = 0
                    for dy in range(p):
                        for dx in range(p):
                            v = a[(base + dy * W + dx) * C + c]
                            if v > best:
                                best = v
                                where = dy * p + dx
                    out[o + c] = best
                    idx[o + c] = where


def gridsum(a, rows, H, W, C, g, out):
    """out[b, (gy*g + gx)*C + c] = sum of channel c over grid cell (gy, gx) of sample b.
    |out| <= cell * 127 <= MAX_CELL * 127 < 2^15."""
    for b in range(rows):
        for gy in range(g):
            y0 = gy * H // g  # cell edges inline: a tuple would allocate
            y1 = (gy + 1) * H // g
            for gx in range(g):
                x0 = gx * W // g
                x1 = (gx + 1) * W // g
                o = (b * g * g + gy * g + gx) * C
                for c in range(C):
                    s = 0
                    for y in range(y0, y1):
                        for x in range(x0, x1):
                            s += a[((b * H + y) * W + x) * C + c]
                    out[o + c] = s


def gridspread(gg, rows, H, W, C, g, out):
    """Backward of gridsum: every position of a cell gets the cell's gradient."""
    for b in range(rows):
        for gy in range(g):
            y0 = gy * H // g  # cell edges inline: a tuple would allocate
            y1 = (gy + 1) * H // g
            for gx in range(g):
                x0 = gx * W // g
                x1 = (gx + 1) * W // g
                o = (b * g * g + gy * g + gx) * C
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        p = ((b * H + y) * W + x) * C
                        for c in range(C):
                            out[p + c] = gg[o + c]


def back(d, L, rows, n_cls, shift, g):
    """g = (d W^T) >> shift: the gradient at a head's (or output layer's) input.
    |d W^T| <= n_cls * |d| * wmax, checked by udfa.les.check_bounds."""
    n_in = L.n_in
    W = L.W
    for r in range(rows):
        do = r * n_cls
        go = r * n_in
        for i in range(n_in):
            wo = i * n_cls
            s = 0
            for j in range(n_cls):
                s += d[do + j] * W[wo + j]
            g[go + i] = s >> shift


def unpool_delta(g, idx, s, rows, H, W, C, p, dmax, d):
    """d at each conv output = (g * slope) >> SLOPE_SHIFT at the max of its pooling window
    (every position when p = 1), 0 elsewhere; clamped to +-dmax (the update bound)."""
    Ho = H // p
    Wo = W // p
    n = rows * H * W * C
    if p == 1:
        for i in range(n):
            v = (g[i] * s[i]) >> SLOPE_SHIFT
            d[i] = dmax if v > dmax else -dmax if v < -dmax else v
        return
    for i in range(n):
        d[i] = 0
    for b in range(rows):
        for oy in range(Ho):
            for ox in range(Wo):
                o = ((b * Ho + oy) * Wo + ox) * C
                base = (b * H + oy * p) * W + ox * p
                for c in range(C):
                    w = idx[o + c]
                    q = (base + (w // p) * W + w % p) * C + c
                    v = (g[o + c] * s[q]) >> SLOPE_SHIFT
                    d[q] = dmax if v > dmax else -dmax if v < -dmax else v


def decay(L, shift):
    """Weight decay: W -= round(W / 2^shift) (ties up), the update's rounding rule."""
    W = L.W
    half = (1 << shift) >> 1
    for i in range(len(W)):
        W[i] -= (W[i] + half) >> shift


def default_ops(kernel):
    """The conv ops that go with a kernel module: the viper kernel's machine-code ones, else
    this module's plain loops (the numpy kernel's are udfa_host.conv_numpy, passed by the
    host)."""
    if kernel.__name__ == "udfa.kernels.native":
        from udfa.kernels import native_conv as ops
    elif kernel.__name__ == "udfa.kernels.viper":
        from udfa.kernels import viper_conv as ops
    else:
        import udfa.conv as ops
    return ops


class ConvNetwork:
    """A ConvModel bound to a matrix kernel and conv ops, with preallocated batch buffers.
    kernel: a module, a name, or None for the fastest here (udfa.kernels.PREFERENCE);
    ops: None for default_ops(kernel)."""

    KERNELS = tuple(kernels.PREFERENCE)  # the kernels kernel=None tries, fastest first

    def __init__(self, model, kernel=None, ops=None, batch=1):
        if kernel is None or isinstance(kernel, str):
            kernel = kernels.load(kernel, self.KERNELS)
        if ops is None:
            ops = default_ops(kernel)
        self.model = model
        self.k = kernel
        self.ops = ops
        self.batch = batch
        B = batch
        buf = kernel.buffer
        self.L = [kernel.bind(b.layer) for b in model.blocks]
        self.Lout = kernel.bind(model.out)
        self.P, self.a, self.s, self.pooled, self.idx, self.flat = [], [], [], [], [], []
        for n, b in enumerate(model.blocks):
            rows = B * b.positions
            first_pixels = n == 0 and model.in_max > 127
            self.P.append(buf(rows, b.n_in, "B" if first_pixels else "b")
                          if b.kind == CONV else None)
            self.a.append(buf(rows, b.n_out, "b"))
            self.s.append(buf(rows, b.n_out, "B"))
            if b.pool > 1:
                self.pooled.append(buf(B * b.Ho * b.Wo, b.n_out, "b"))
                self.idx.append(buf(B * b.Ho * b.Wo, b.n_out, "B"))
            else:
                self.pooled.append(self.a[-1])
                self.idx.append(None)
            self.flat.append(ops.view(self.pooled[-1], B, b.size))
        self.y = buf(B, model.n_classes, "b")
        self.sy = buf(B, model.n_classes, "B")
        self.pred = buf(B, 1, "B")

    def forward(self, x, rows, slopes=True):
        """Run `rows` samples of x (B x n_inputs) through every block and the output layer."""
        k = self.k
        ops = self.ops
        blocks = self.model.blocks
        cur = x
        for n in range(len(blocks)):
            b = blocks[n]
            s = self.s[n] if slopes else None
            if b.kind == CONV:
                ops.im2col(cur, rows, b.H, b.W, b.C, b.k, self.P[n])
                k.forward(self.L[n], self.P[n], rows * b.positions, self.a[n], s)
                if b.pool > 1:
                    ops.maxpool(self.a[n], rows, b.H, b.W, b.n_out, b.pool, self.pooled[n],
                                self.idx[n])
            else:
                k.forward(self.L[n], cur, rows, self.a[n], s)
            cur = self.flat[n]
        k.forward(self.Lout, cur, rows, self.y, self.sy if slopes else None)
        return self.y

    def predict(self, x, rows):
        y = self.forward(x, rows, False)
        self.k.argmax(y, rows, self.model.n_classes, self.pred)
        return self.pred
