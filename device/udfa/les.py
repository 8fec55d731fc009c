# Local error signals (device and host): the LES training rule for udfa.conv models, written
# once against the kernel interface (forward, output_delta, update) and the conv ops.
#
# After NITRO-D's description (Pirillo, Colombo, Roveri): every block learns only from its own
# head, a linear layer from the block's output to the classes, with an L2 loss against a
# scaled one-hot target; no error crosses blocks, so nothing grows with the depth.
#   head input     hx = block output (dense) or its sums over a GxG grid (conv)
#   head output    y  = clamp((hx Wh + 127 bh) >> shift)           |y| <= 127
#   head error     e  = y - target,  dh = e * slope                   |dh| <= emax * 8
#   to the block   g  = (dh Wh^T) >> bw_shift                         |dh Wh^T| <= n_cls*|dh|*wmax
#   block delta    d  = clamp((g * slope) >> 3, +-dmax) at each max-pool winner, else 0
#   updates        W -= (x^T d + offset) >> lr_shift, clamped to +-wmax (the kernels' rule);
#                  offset random in 0..2^lr_shift-1 per layer and batch (unbiased rounding:
#                  updates below one unit survive on average), or 2^(lr_shift-1) (nearest)
#                  with random_round=False; lr_shift per block, head_lr_shift per head (the
#                  last entry: the output layer); an int sets every block or head alike
#                  |x^T d| <= rows * in_max * dmax <= limit, dmax chosen so (check_bounds)
#   weight decay   W -= round(W / 2^wd_shift) after each step (wd_shift = 0: none)
# The last block's head is the output layer, which learns from the global error.
from udfa.conv import CONV, ConvNetwork
from udfa.model import SMALL_INT_MAX
from udfa.rng import XorShift32

MAX_SLOPE = 8  # leaky and linear slopes (units of 1/8)


KERNELS = ("native", "viper", "plain")  # the device kernels LES trains with, fastest first


def check_kernel(kernel):
    """Refuse a kernel LES cannot train with on the device's conv ops: ulab, whose 'i'
    buffers (errors, deltas, gradients) are float32 ndarrays that udfa.conv's ops would read
    back as floats. ulab still runs a CNN's inference (ConvNetwork)."""
    name = kernel if isinstance(kernel, str) else getattr(kernel, "__name__", "")
    if name in ("ulab", "udfa.kernels.ulab"):
        raise ValueError("a conv model trains with the native, viper or plain kernel, not "
                         "ulab (its float32 'i' buffers do not fit the conv ops); ulab only "
                         "predicts")


class LES(ConvNetwork):
    """limit: the largest accumulated sum the kernel may form exactly: 2^30 - 1 for the
    plain / viper kernels on a board (small ints), 2^53 for the host numpy kernel.
    kernel: a module, a name, or None for the fastest of KERNELS here."""

    KERNELS = KERNELS

    def __init__(self, model, kernel=None, ops=None, batch=16, lr_shift=20,
                 head_lr_shift=None, bw_shift=10, wd_shift=0, target=(64, 0),
                 limit=SMALL_INT_MAX, random_round=True):
        if kernel is not None:
            check_kernel(kernel)
        ConvNetwork.__init__(self, model, kernel, ops, batch)
        self.set_lr_shift(lr_shift, head_lr_shift)
        self.random_round = random_round
        self.rounding = XorShift32(model.seed ^ 0x1E5)  # offsets: same stream on every kernel
        self.bw_shift = bw_shift
        self.wd_shift = wd_shift
        self.hi, self.lo = target
        self.dmax = check_bounds(model, batch, bw_shift, target, limit)
        B = batch
        n_cls = model.n_classes
        buf = kernel.buffer
        ops = self.ops
        self.Lh, self.hx, self.yh, self.sh, self.eh, self.dh = [], [], [], [], [], []
        self.g, self.gpos, self.d = [], [], []
        for n, b in enumerate(model.blocks):
            if b.head is not None:
                self.Lh.append(kernel.bind(b.head))
                self.hx.append(buf(B, b.head.n_in, "h") if b.kind == CONV else self.a[n])
                self.yh.append(buf(B, n_cls, "b"))
                self.sh.append(buf(B, n_cls, "B"))
                self.eh.append(buf(B, n_cls, "i"))
                self.dh.append(buf(B, n_cls, "i"))
                self.g.append(buf(B, b.head.n_in, "i"))
                self.gpos.append(buf(B * b.Ho * b.Wo, b.n_out, "i") if b.kind == CONV
                                 else self.g[-1])
            else:  # the output layer is this block's head
                for lst in (self.Lh, self.hx, self.yh, self.sh, self.eh, self.dh):
                    lst.append(None)
                self.g.append(buf(B, b.size, "i"))
                self.gpos.append(ops.view(self.g[-1], B * b.Ho * b.Wo, b.n_out))
            self.d.append(buf(B * b.positions, b.n_out, "i"))
        self.e = buf(B, n_cls, "i")
        self.dout = buf(B, n_cls, "i")

    def set_lr_shift(self, lr_shift, head_lr_shift=None):
        """Learning rates 2^-lr_shift: an int for every block, or one per block; heads
        likewise (one per block: the last block's head is the output layer; None: as the
        blocks). At most 29, so that the rounding offset fits beside the bounded sums."""
        n = len(self.model.blocks)
        lrs = _per_block(lr_shift, n)
        heads = lrs if head_lr_shift is None else _per_block(head_lr_shift, n)
        for v in lrs + heads:
            if not 0 <= v <= 29:
                raise ValueError("learning-rate shift %d out of 0..29" % v)
        self.lr_shift = lrs
        self.head_lr_shift = heads

    def _offset(self, shift):
        if self.random_round:
            return self.rounding.next30() & ((1 << shift) - 1)
        return (1 << shift) >> 1

    def step(self, x, labels, rows):
        """One mini-batch: forward, every head's error, block deltas, updates."""
        k = self.k
        ops = self.ops
        model = self.model
        n_cls = model.n_classes
        hi = self.hi
        lo = self.lo
        lrs = self.lr_shift
        head_lrs = self.head_lr_shift
        self.forward(x, rows)
        k.output_delta(self.Lout, self.y, self.sy, labels, rows, hi, lo, self.e, self.dout)
        blocks = model.blocks
        for n in range(len(blocks)):
            b = blocks[n]
            Lh = self.Lh[n]
            if Lh is not None:
                hx = self.hx[n]
                if b.kind == CONV:
                    ops.gridsum(self.pooled[n], rows, b.Ho, b.Wo, b.n_out, b.grid, hx)
                k.forward(Lh, hx, rows, self.yh[n], self.sh[n])
                k.output_delta(Lh, self.yh[n], self.sh[n], labels, rows, hi, lo, self.eh[n],
                               self.dh[n])
                ops.back(self.dh[n], Lh, rows, n_cls, self.bw_shift, self.g[n])
                k.update(Lh, hx, self.dh[n], rows, head_lrs[n], self._offset(head_lrs[n]))
                if b.kind == CONV:
                    ops.gridspread(self.g[n], rows, b.Ho, b.Wo, b.n_out, b.grid, self.gpos[n])
            else:
                ops.back(self.dout, self.Lout, rows, n_cls, self.bw_shift, self.g[n])
            ops.unpool_delta(self.gpos[n], self.idx[n], self.s[n], rows, b.H, b.W, b.n_out,
                             b.pool, self.dmax[n], self.d[n])
            if b.kind == CONV:
                k.update(self.L[n], self.P[n], self.d[n], rows * b.positions, lrs[n],
                         self._offset(lrs[n]))
            else:
                k.update(self.L[n], x if n == 0 else self.flat[n - 1], self.d[n], rows,
                         lrs[n], self._offset(lrs[n]))
        last = len(blocks) - 1
        k.update(self.Lout, self.flat[last], self.dout, rows, head_lrs[last],
                 self._offset(head_lrs[last]))
        if self.wd_shift:
            for n in range(len(blocks)):
                ops.decay(self.L[n], self.wd_shift)


def _per_block(v, n):
    if isinstance(v, int):
        return [v] * n
    if len(v) != n:
        raise ValueError("need one learning-rate shift per block (%d), got %r" % (n, v))
    return [int(s) for s in v]


def check_bounds(model, batch, bw_shift, target, limit=SMALL_INT_MAX):
    """Raise ValueError unless every LES intermediate stays in range; returns each block's
    delta clamp dmax. Element values (g, d) stay below 2^30; accumulated update sums below
    limit / 2, so that adding the rounding offset (< 2^29) keeps them below `limit`."""
    emax = 127 + max(abs(target[0]), abs(target[1]))
    if emax > 254:
        raise ValueError("target %r: keep both values within -127..127" % (target,))
    n_cls = model.n_classes
    limit >>= 1  # room for the update's rounding offset (< 2^29 while lr_shift <= 29)
    dh = emax * MAX_SLOPE  # |e * slope| of a head or the output layer
    dmaxes = []
    for n, b in enumerate(model.blocks):
        head = b.head if b.head is not None else model.out
        pre = n_cls * dh * head.wmax  # |dh Wh^T| before the shift
        if pre > SMALL_INT_MAX:
            raise ValueError("block %d: head weights up to %d could overflow its feedback"
                             % (n, head.wmax))
        g = pre >> bw_shift
        if g * MAX_SLOPE > SMALL_INT_MAX:
            raise ValueError("bw_shift %d too small for block %d" % (bw_shift, n))
        in_max = max(model.in_max if n == 0 else 127, 127)
        rows = batch * b.positions  # rows summed into one weight's update
        dmax = min(g, limit // (rows * in_max), SMALL_INT_MAX)
        if dmax < 64:
            raise ValueError("batch %d too large for block %d: its deltas would be clipped "
                             "to %d (lower the batch)" % (batch, n, dmax))
        dmaxes.append(dmax)
        if head is not model.out and batch * head.in_max * dh > limit:
            raise ValueError("batch %d too large: block %d's head update could reach %d"
                             % (batch, n, limit))
    if batch * 127 * dh > limit:
        raise ValueError("batch %d too large for the output layer update" % batch)
    return dmaxes
