# Direct feedback alignment (device and host): the training rule, written once for every kernel.
#
# Output layer:  e = y - target,  d = e * slope(z)                  (|e| <= emax, slope <= 16)
# Hidden layer:  d = ((e R) * slope(z)) >> fb_shift                 (R: fixed, |R| <= fb_range)
# All layers:    W -= (a_prev^T d + offset) >> lr_shift, b likewise (input 127), over a batch.
# The rounding offset is drawn at random in 0..2^lr_shift-1 for every layer and batch: the
# update is then right on average however small it is, where rounding to nearest loses
# every update below half a unit (Fashion-MNIST 784-512-10, 8 epochs: 86.43 % vs 85.73 %).
# check_bounds proves, for the chosen sizes, that every intermediate stays below 2^30.
# train_layers (e.g. [-1]: the output layer alone, to personalise a trained model) freezes the
# others: a frozen layer skips its update, its rounding draw and its hidden delta, and holds
# no delta buffer nor feedback matrix (its matrix is still drawn, so the trained layers get
# the same feedback as when every layer trains).
from array import array

from udfa.model import SMALL_INT_MAX
from udfa.network import Network
from udfa.pocket import BIAS_INPUT
from udfa.rng import XorShift32

MAX_SLOPE = 16


class DFA(Network):
    def __init__(self, model, kernel, batch=20, lr_shift=16, fb_shift=6, fb_range=127,
                 target=(127, -127), train_layers=None):
        Network.__init__(self, model, kernel, batch)
        top = len(model.layers) - 1
        self.trained = trained_layers(top + 1, train_layers)
        self.fb_shift = fb_shift
        self.hi, self.lo = target
        self.acc_max = check_bounds(model, batch, fb_shift, fb_range, target)
        self.set_lr_shift(lr_shift)
        self.rounding = XorShift32(model.seed ^ 0x5A5A)  # its state goes into checkpoints
        n_cls = model.n_classes
        rng = XorShift32(model.seed)
        self.R = []
        for n in range(top):
            n_out = model.layers[n].n_out
            if not self.trained[n]:  # drawn all the same: the next layers' stay as they are
                for i in range(n_cls * n_out):
                    rng.nonzero(fb_range)
                self.R.append(None)
                continue
            R = array("b", bytes(n_cls * n_out))
            for i in range(len(R)):
                R[i] = rng.nonzero(fb_range)
            self.R.append(kernel.matrix(R, n_cls, n_out))
        self.e = kernel.buffer(batch, n_cls, "i")
        # the output layer's delta comes with the error, which every trained layer needs
        self.d = [kernel.buffer(batch, l.n_out, "i") if self.trained[n] or n == top else None
                  for n, l in enumerate(model.layers)]

    def set_lr_shift(self, lr_shift):
        """Learning rate 2^-lr_shift; refused where |acc| + offset could reach 2^30."""
        if not 0 <= lr_shift <= 29 or self.acc_max + (1 << lr_shift) > SMALL_INT_MAX:
            raise ValueError("lr_shift %d too large for this network and batch" % lr_shift)
        self.lr_shift = lr_shift

    def step(self, x, labels, rows):
        """One mini-batch: forward, output error, feedback to each hidden layer, updates."""
        k = self.k
        n_cls = self.model.n_classes
        top = len(self.layers) - 1
        y = self.forward(x, rows)
        k.output_delta(self.layers[top], y, self.s[top], labels, rows, self.hi, self.lo,
                       self.e, self.d[top])
        for n in range(top):
            if self.trained[n]:
                k.hidden_delta(self.layers[n], self.e, self.R[n], n_cls, self.s[n], rows,
                               self.fb_shift, self.d[n])
        mask = (1 << self.lr_shift) - 1
        for n in range(top + 1):
            if self.trained[n]:
                k.update(self.layers[n], x if n == 0 else self.a[n - 1], self.d[n], rows,
                         self.lr_shift, self.rounding.next30() & mask)


def trained_layers(n_layers, train_layers):
    """One flag per layer: is it trained? train_layers: None (all) or layer indices, 0 the
    first, negative ones from the output layer (-1)."""
    if train_layers is None:
        return [True] * n_layers
    if not train_layers:
        raise ValueError("train_layers is empty: name at least one layer to train")
    flags = [False] * n_layers
    for n in train_layers:
        if not -n_layers <= n < n_layers:
            raise ValueError("train_layers: no layer %d in a network of %d layers (0..%d, or "
                             "-1 for the output layer)" % (n, n_layers, n_layers - 1))
        flags[n] = True
    return flags


def check_bounds(model, batch, fb_shift, fb_range, target):
    """Raise ValueError unless every DFA intermediate stays within the small-int range;
    returns the largest |acc| an update can form (the rounding offset must fit beside it)."""
    emax = 127 + max(abs(target[0]), abs(target[1]))
    n_cls = model.n_classes
    g = MAX_SLOPE * n_cls * emax * fb_range  # |(e R) * slope| before the shift
    if not 0 < fb_range <= 127 or g > SMALL_INT_MAX:
        raise ValueError("feedback range %d too large for %d classes" % (fb_range, n_cls))
    top = len(model.layers) - 1
    acc_max = 0
    for n, l in enumerate(model.layers):
        dmax = emax * MAX_SLOPE if n == top else g >> fb_shift
        acc = batch * max(l.in_max, BIAS_INPUT) * dmax
        if acc > SMALL_INT_MAX:
            raise ValueError("batch %d too large: layer %d updates could reach 2^30 "
                             "(lower the batch or raise fb_shift)" % (batch, n))
        acc_max = max(acc_max, acc)
    return acc_max
