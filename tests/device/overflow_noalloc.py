# Drive training steps at the bounds (inputs 255, weights at +-wmax, errors at their maximum)
# and count heap bytes allocated during the steps. On a 32-bit MicroPython any value past
# 2^30 becomes a heap-allocated big int, so "alloc 0" there proves every intermediate stayed
# a small int, and also that a training step allocates nothing per sample.
import gc

from udfa.dfa import DFA
from udfa.kernels import plain
from udfa.model import Model

if not hasattr(gc, "mem_alloc"):
    print("SKIP no gc.mem_alloc on this port")
    raise SystemExit

B = 16
for sizes, acts in (([784, 20, 10], ["tanh", "sigmoid"]), ([196, 32, 16, 10],
                                                            ["relu", "tanh", "tanh"])):
    model = Model(sizes, acts, [0] * (len(sizes) - 1), seed=5)  # shift 0: z saturates
    for l in model.layers:
        for i in range(len(l.W)):
            l.W[i] = l.wmax if i % 3 else -l.wmax
        for i in range(len(l.b)):
            l.b[i] = l.wmax
    net = DFA(model, plain, batch=B, lr_shift=1, fb_shift=7, target=(-127, 127))
    x = plain.buffer(B, sizes[0], "B")
    for i in range(len(x)):
        x[i] = 255
    lab = plain.buffer(B, 1, "B")
    net.step(x, lab, B)  # warm up: first calls may intern or cache
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(3):
        net.step(x, lab, B)
        net.predict(x, B)
    after = gc.mem_alloc()
    gc.enable()
    print(model.describe(), "alloc", after - before, "weights within wmax",
          all(max(abs(w) for w in l.W) <= l.wmax for l in model.layers))
