# The viper kernel allocates nothing per training step: gc.mem_alloc() does not grow over many
# steps of the rp2040 network (196-128-10, batch 16), with weights at +-wmax and inputs 255 as
# in overflow_noalloc. What ulab allocates per step is reported on stderr only (it makes ulab
# result arrays by design; docs/RESULTS.md has the figures).
import gc
import sys

from udfa import kernels
from udfa.dfa import DFA
from udfa.model import Model

if not hasattr(gc, "mem_alloc"):
    print("SKIP no gc.mem_alloc on this port")
    raise SystemExit

STEPS = 20


def setup(k):
    model = Model([196, 128, 10], ["tanh", "tanh"], seed=5)
    for l in model.layers:
        for i in range(len(l.W)):
            l.W[i] = l.wmax if i % 3 else -l.wmax
    net = DFA(model, k, batch=16, lr_shift=15, fb_shift=6)
    x = k.buffer(16, 196, "B")
    for i in range(len(x)):
        x[i] = 255
    lab = k.buffer(16, 1, "B")
    for r in range(16):
        lab[r] = r % 10
    net.step(x, lab, 16)  # warm up: first calls may intern or cache
    net.predict(x, 16)
    return net, x, lab


def viper_alloc(k):
    net, x, lab = setup(k)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(STEPS):
        net.step(x, lab, 16)
        net.predict(x, 16)
    after = gc.mem_alloc()
    gc.enable()
    return after - before


def ulab_alloc(k):
    """Bytes allocated by one step, counted by micropython.mem_total (unix port), GC on."""
    import micropython

    gc.collect()
    net, x, lab = setup(k)
    before = micropython.mem_total()
    net.step(x, lab, 16)
    return micropython.mem_total() - before


try:
    viper = kernels.load("viper")
except ImportError as e:  # CPython, CircuitPython
    print("SKIP", e)
    raise SystemExit
print("viper: %d bytes allocated over %d steps" % (viper_alloc(viper), STEPS))
try:  # the C kernel, where its .mpy is on the path (tests/test_native.py)
    print("native: %d bytes allocated over %d steps" % (viper_alloc(kernels.load("native")),
                                                         STEPS))
except ImportError:
    pass
try:
    ulab = kernels.load("ulab")
except ImportError:
    ulab = None
if ulab is not None:
    gc.collect()
    try:
        print("ulab: %d bytes allocated per step" % ulab_alloc(ulab), file=sys.stderr)
    except (AttributeError, MemoryError) as e:
        print("ulab: not measured (%r)" % e, file=sys.stderr)
