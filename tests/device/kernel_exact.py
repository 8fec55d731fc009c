# Train train_exact's small nets with every kernel that imports here (plain, viper, ulab) and
# check each one's weight CRCs against plain's: the printed lines are the same on every
# interpreter (CPython has only plain); which kernels ran goes to stderr.
import sys

import synth
import train_exact
from udfa import kernels

data, labels = synth.dataset(train_exact.N, train_exact.N_IN, train_exact.N_CLS, 11)


def load(x, lab, start, rows):
    n = train_exact.N_IN
    for i in range(rows * n):
        x[i] = data[start * n + i]
    for r in range(rows):
        lab[r] = labels[start + r]


ref = None
ran = []
same = True
for name in ("plain", "native", "viper", "ulab"):
    try:
        k = kernels.load(name)
    except ImportError:
        continue
    crcs = []
    for acts in train_exact.ACTS:
        model, net_crcs = train_exact.train(k, load, acts)
        crcs += net_crcs + [synth.weights_crc(model)]
    ran.append(name)
    if ref is None:
        ref = crcs
        print("plain", " ".join(str(c) for c in crcs))
    elif crcs != ref:
        same = False
        print("kernel", name, "differs from plain:", crcs)
print("all available kernels match plain:", same)
print("kernels run:", ", ".join(ran), file=sys.stderr)
