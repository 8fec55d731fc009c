# Learner benchmark (run by hand; figures in docs/RESULTS.md, Learning on the board): the
# heap a Learner holds for the rp2040 profile's network (196-112-10, batch 8) and the time of
# predict, of a learn that only buffers the sample, and of one that completes a batch (a DFA
# step: the worst case), by the board's clock (ticks_us; monotonic_ns elsewhere).
# usage: learner_bench.py [DIR [KERNEL]] (a board: mpremote run, the model in its root)
import gc
import sys
import time

from udfa.learner import Learner

_us = getattr(time, "ticks_us", None)


def now():
    return _us() if _us else time.monotonic_ns() // 1000


def span(t0):
    return time.ticks_diff(now(), t0) if _us else now() - t0


def used():
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else -1


def main():
    kernel = sys.argv[2] if len(sys.argv) > 2 else None
    path = (sys.argv[1] if len(sys.argv) > 1 else ".") + "/bench.udfa"
    Learner.create(path, [196, 112, 10], seed=1, init=20, kernel=kernel, batch=8)
    base = used()
    gc.disable()  # what opening allocates, garbage included: a bound on its peak
    l = Learner(path, kernel=kernel, lr_shift=15)  # the rp2040 profile's settings
    opening = gc.mem_alloc() - base if base >= 0 else -1
    gc.enable()
    held = used() - base
    print("kernel", l.k.__name__.split(".")[-1])
    print("heap held %d bytes" % held)
    print("heap allocated while opening (no collection) %d bytes" % opening)
    s = bytearray(196)
    for i in range(196):
        s[i] = (i * 37) & 255
    steps = buffered = predicted = 0
    n_steps = 10
    for i in range(8 * n_steps):
        t0 = now()
        stepped = l.learn(s, i % 10)
        t = span(t0)
        if stepped:
            steps += t
        else:
            buffered += t
        t0 = now()
        l.predict(s)
        predicted += span(t0)
    print("learn (buffer only) %d us" % (buffered // (7 * n_steps)))
    print("learn (full batch: a DFA step) %d us" % (steps // n_steps))
    print("predict %d us" % (predicted // (8 * n_steps)))
    print("heap held after the run %d bytes" % (used() - base))


if len(sys.argv) < 2 and sys.platform in ("linux", "darwin", "win32"):  # tests/test_device_scripts.py runs it bare
    print("SKIP a benchmark: run it by hand with a directory (docs/RESULTS.md)")
else:
    main()
