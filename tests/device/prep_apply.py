# The input map on the board (udfa.prep): maps readings to bytes and prints them as hex, one
# sample a line, then whether mapping them again allocated anything ("allocated none" where
# it did not, or where the port cannot tell). With arguments MODEL READINGS it loads a model
# file's map and a file of int32 readings (n per sample), which tests/test_datasets.py
# compares with the host's numpy rule; without, a fixed map at the rule's bounds and readings
# from XorShift32, compared across interpreters by tests/test_device_scripts.py.
import gc
import sys
from array import array

from udfa.prep import Prep
from udfa.rng import XorShift32


def fixed_case():
    p = Prep(4, 3)
    # (lo, hi, mul, sh): a wide range near the value limit, a narrow one, a constant, ints
    for i, (lo, hi, mul, sh) in enumerate(((-(1 << 28), (1 << 28) + 5, 1, 21),
                                           (-40, 60, 5347738, 21), (7, 7, 0, 0),
                                           (0, 1000, 534773, 21))):
        p.lo[i], p.hi[i], p.mul[i], p.sh[i] = lo, hi, mul, sh
    p.check("fixed map")
    rng = XorShift32(5)
    samples = []
    for _ in range(30):
        x = array("i", bytes(16))
        for i in range(4):
            span = (p.hi[i] - p.lo[i]) + 20
            x[i] = p.lo[i] - 10 + rng.below(span)  # beyond the range on both sides too
        samples.append(x)
    return p, samples


def file_case(model_path, readings_path):
    from udfa.model import load
    p = load(model_path).prep
    with open(readings_path, "rb") as f:
        readings = array("i", f.read())
    n = p.n
    return p, [readings[r * n:(r + 1) * n] for r in range(len(readings) // n)]


if __name__ == "__main__":
    p, samples = file_case(sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else fixed_case()
    out = bytearray(p.n)
    for x in samples:
        p.apply(x, out)
        print("".join("%02x" % b for b in out))
    print("names", ",".join(p.names or ()), "frac", p.frac, "shape", p.shape)
    used = 0
    if hasattr(gc, "mem_alloc"):
        gc.collect()
        before = gc.mem_alloc()
        for x in samples:
            p.apply(x, out)
        used = gc.mem_alloc() - before
    print("allocated", used or "none")
