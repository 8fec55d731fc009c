# The on-board Learner against udfa.dfa.DFA, on every kernel here: fed the same samples one
# at a time, its weights equal DFA's stepping them in batches; a learner saved mid-batch and
# reopened ends with the same weights as one that never stopped; add_class keeps the old
# weights and first-layer feedback; learn/predict allocate nothing (plain/viper/native).
# Prints "<kernel> <check> <value>" lines: the test compares them across interpreters.
# argv[1]: a directory for the model files.
import gc
import sys

from udfa import kernels
from udfa.dfa import DFA
from udfa.learner import Learner
from udfa.model import Model

import synth
from synth import weights_crc

N, N_IN, N_CLS, B = 100, 24, 4, 8  # 100 = 12 batches and a partial one
SIZES = [N_IN, 16, 12, N_CLS]
SET = {"batch": B, "lr_shift": 12, "fb_shift": 7}


def dfa_crc(k, data, labels):
    model = Model(SIZES, ["tanh"] * 3, seed=3)
    model.init_uniform(30)
    net = DFA(model, k, B, 12, 7)
    x = k.buffer(B, N_IN, "B")
    lab = k.buffer(B, 1, "B")
    for start in range(0, N, B):
        rows = min(B, N - start)
        for i in range(rows * N_IN):
            x[i] = data[start * N_IN + i]
        for r in range(rows):
            lab[r] = labels[start + r]
        net.step(x, lab, rows)
    return weights_crc(model)


def sample(data, i):
    return memoryview(data)[i * N_IN:(i + 1) * N_IN]


def learn(l, data, labels, lo, hi):
    for i in range(lo, hi):
        l.learn(sample(data, i), labels[i])


def check(k, path, data, labels):
    name = k.__name__.split(".")[-1]
    want = dfa_crc(k, data, labels)
    l = Learner.create(path, SIZES, seed=3, init=30, kernel=k, **SET)
    learn(l, data, labels, 0, N)
    l.flush()
    print(name, "learner==dfa", weights_crc(l.model) == want, want)
    # save in the middle of a batch (43 = 5 batches + 3), reopen, go on
    l = Learner.create(path, SIZES, seed=3, init=30, kernel=k, **SET)
    learn(l, data, labels, 0, 43)
    l.save()
    l = Learner(path, kernel=k)
    print(name, "resumed seen fill", l.seen, l.fill)
    learn(l, data, labels, 43, N)
    l.flush()
    print(name, "resumed==dfa", weights_crc(l.model) == want)
    hits = 0
    for i in range(N):
        hits += l.predict(sample(data, i))[0] == labels[i]
    print(name, "train hits", hits)
    grow(l, name, path, data, labels)
    noalloc(l, name, data, labels)


def grow(l, name, path, data, labels):
    top = l.model.layers[-1]
    old_w = list(top.W)
    old_r = list(l.net.R[0])
    new = l.add_class()
    top = l.model.layers[-1]
    n = N_CLS + 1
    kept = all(top.W[i * n + j] == old_w[i * N_CLS + j]
               for i in range(top.n_in) for j in range(N_CLS))
    zero = all(top.W[i * n + N_CLS] == 0 for i in range(top.n_in)) and top.b[N_CLS] == 0
    print(name, "add_class", new, l.model.sizes, kept, zero,
          list(l.net.R[0])[:len(old_r)] == old_r)
    # the new class: teach it inverted samples of class 0; then save, reopen and compare
    for i in range(40):
        l.learn(sample(data, i), labels[i])
        if labels[i] == 0:
            inv = bytearray(sample(data, i))
            for j in range(N_IN):
                inv[j] = 255 - inv[j]
            l.learn(inv, N_CLS)
    l.save()
    again = Learner(path, kernel=l.k)
    for i in range(40, N):
        l.learn(sample(data, i), labels[i])
        again.learn(sample(data, i), labels[i])
    print(name, "grown reopened==kept", weights_crc(l.model) == weights_crc(again.model),
          again.model.sizes)


def noalloc(l, name, data, labels):
    if not hasattr(gc, "mem_alloc") or name == "ulab":  # ulab makes result arrays by design
        return
    s = sample(data, 0)
    l.learn(s, 1)
    l.predict(s)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for i in range(3 * B):  # three full steps
        l.learn(s, 1)
        l.predict(s)
    used = gc.mem_alloc() - before
    gc.enable()
    print(name, "alloc", used)


def main():
    data, labels = synth.dataset(N, N_IN, N_CLS, 7)
    path = sys.argv[1] + "/learner.udfa"
    for name in kernels.usable():
        check(kernels.load(name), path, data, labels)


if len(sys.argv) < 2:  # tests/test_device_scripts.py runs it bare
    print("SKIP needs a directory: run by tests/test_learner.py")
else:
    main()
