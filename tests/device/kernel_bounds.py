# Every fast kernel (native, viper, ulab) against plain at the bounds, where 32-bit wrap and
# float32 rounding would show: weights at +-wmax, inputs 255, deltas at their largest, every
# rounding shift range (0, < 8, 8, > 8, > 31), partial batches. Prints plain's CRCs and whether
# every kernel that imports here matched them (CPython has only plain; kernels run go to stderr).
import gc
import sys

from udfa import kernels
from udfa.checksum import crc32
from udfa.dfa import DFA
from udfa.model import Model
from udfa.rng import XorShift32

# sizes, acts, shifts (None: default), weights (0: +-wmax pattern, r > 0: uniform +-r),
# inputs (255, -1 random, -2 sparse random), batch, lr_shift, fb_shift, target, rows of the
# last step
CASES = (
    ([784, 20, 10], ["tanh", "sigmoid"], [0, 0], 0, 255, 16, 1, 7, (-127, 127), 16),
    ([196, 32, 16, 10], ["relu", "tanh", "tanh"], [0, 0, 0], 0, 255, 16, 1, 7, (-127, 127),
     16),
    ([196, 32, 10], ["tanh", "tanh"], None, 1 << 15, -1, 16, 9, 6, (127, -127), 11),
    ([196, 24, 10], ["tanh", "sigmoid"], None, 1 << 15, -1, 4, 8, 4, (127, -127), 3),
    ([196, 24, 10], ["sigmoid", "tanh"], None, 2000, -1, 4, 3, 4, (100, -27), 4),
    ([196, 24, 10], ["tanh", "tanh"], None, 40, -1, 2, 12, 2, (127, -127), 2),
    ([196, 24, 10], ["tanh", "relu"], None, 40, -1, 3, 5, 2, (127, -127), 1),
    ([64, 40, 10], ["relu", "tanh"], [10, 9], 3, -1, 16, 20, 6, (127, -127), 16),
    ([64, 40, 10], ["tanh", "tanh"], [40, 3], 900, -1, 8, 29, 6, (127, -127), 5),
    ([64, 40, 10], ["tanh", "tanh"], [20, 16], 3000, -1, 8, 11, 6, (127, -127), 6),
    # sparse inputs (-2: zero borders and gaps, as MNIST): ulab's runs of nonzero columns,
    # whole-W dots with carries (weights 3000) and byte-split dots (weights at +-wmax, relu's
    # zeros feeding layer 2), deltas split at lr_shift 9 and 15
    ([196, 32, 10], ["tanh", "tanh"], None, 3000, -2, 16, 15, 6, (127, -127), 16),
    ([196, 24, 10], ["relu", "tanh"], None, 0, -2, 16, 9, 6, (127, -127), 7),
    ([196, 24, 10], ["sigmoid", "tanh"], [15, 12], 1 << 15, -2, 8, 10, 4, (127, -127), 8),
    # batch 1 (ulab 6.5.3's one-row reductions); hidden deltas up to 16*5*254*127 = 2.6M,
    # whose max ulab reads back as a Python float (exact below 2^22 even boxed in 30 bits,
    # read with a margin), and sums far past 2^22 inside the arrays; weights at +-wmax
    ([196, 24, 5], ["tanh", "tanh"], [0, 0], 0, 255, 1, 2, 1, (-127, 127), 1),
    ([196, 24, 5], ["relu", "sigmoid"], None, 1 << 15, -1, 1, 12, 1, (127, -127), 1),
    ([1, 12, 4], ["tanh", "tanh"], [0, 0], 0, 255, 5, 4, 2, (-127, 127), 3),  # one input
)
STEPS = 3


def run(k, case):
    gc.collect()  # the previous kernel's model and buffers
    sizes, acts, shifts, w, xin, batch, lr_shift, fb_shift, target, last = case
    model = Model(sizes, acts, shifts, seed=9)
    if w:
        model.init_uniform(w)  # r is clamped to each layer's wmax
    else:
        for l in model.layers:
            for i in range(len(l.W)):
                l.W[i] = l.wmax if i % 3 else -l.wmax
            for i in range(len(l.b)):
                l.b[i] = l.wmax
    net = DFA(model, k, batch=batch, lr_shift=lr_shift, fb_shift=fb_shift, target=target)
    x = k.buffer(batch, sizes[0], "B")
    lab = k.buffer(batch, 1, "B")
    rng = XorShift32(77)
    crc = 0
    for step in range(STEPS):
        for i in range(len(x)):
            col = i % sizes[0]
            if xin >= 0:
                x[i] = xin
            elif xin == -1 or (2 <= col // 14 < 12 and 3 <= col % 14 < 11 and rng.below(2)):
                x[i] = rng.below(256)
            else:
                x[i] = 0
        for r in range(batch):
            lab[r] = rng.below(sizes[-1])
        rows = last if step == STEPS - 1 else batch
        net.step(x, lab, rows)
        for l in model.layers:
            crc = crc32(l.b, crc32(l.W, crc))
    pred = net.predict(x, batch)
    crc = crc32(bytes(pred[r] for r in range(batch)), crc)
    for n in range(len(model.layers)):
        a = net.a[n]
        crc = crc32(bytes(a[i] & 255 for i in range(len(a))), crc)
    return crc & 0xFFFFFFFF


names = []
for name in ("plain", "native", "viper", "ulab"):
    try:
        kernels.load(name)
        names.append(name)
    except ImportError:
        pass
same = True
for case in CASES:
    ref = run(kernels.load("plain"), case)
    print("-".join(str(n) for n in case[0]), "lr_shift", case[6], "crc", ref)
    for name in names[1:]:
        got = run(kernels.load(name), case)
        if got != ref:
            same = False
            print("kernel", name, "differs from plain:", got)
print("all available kernels match plain:", same)
print("kernels run:", ", ".join(names), file=sys.stderr)
