# The input map on the board: loads a model file with an input map (udfa.prep), maps every
# reading of a file of int32 readings (little-endian, n per sample) and prints the bytes as
# hex, one sample a line; then the heap allocated while mapping them again (0 expected on
# ports with gc.mem_alloc). tests/test_datasets.py compares with the host's numpy rule.
import gc
import sys
from array import array

from udfa.model import load

if __name__ == "__main__":
    model = load(sys.argv[1])
    p = model.prep
    with open(sys.argv[2], "rb") as f:
        raw = f.read()
    readings = array("i", raw)
    n = p.n
    rows = len(readings) // n
    samples = [readings[r * n:(r + 1) * n] for r in range(rows)]
    out = bytearray(n)
    for x in samples:
        p.apply(x, out)
        print("".join("%02x" % b for b in out))
    print("names", ",".join(p.names or ()), "frac", p.frac, "shape", p.shape)
    if hasattr(gc, "mem_alloc"):
        gc.collect()
        before = gc.mem_alloc()
        for x in samples:
            p.apply(x, out)
        print("allocated", gc.mem_alloc() - before)
    else:
        print("allocated SKIP no gc.mem_alloc on this port")
