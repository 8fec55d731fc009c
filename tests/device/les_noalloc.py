# Drive LES steps at the bounds (inputs 255, every weight at +-wmax, targets at +-127) on a
# 32-bit MicroPython and count heap bytes allocated: "alloc 0" proves that every intermediate
# stayed a small int (< 2^30) and that a step allocates nothing; on the plain kernel, then
# on viper where it runs (its conv ops and int16 head inputs included): viper must print
# plain's very lines (no allocation, the same weights). Which kernels ran goes to stderr.
import gc
import sys

from udfa import kernels
from udfa.conv import ConvModel
from udfa.les import LES

from synth import weights_crc

if not hasattr(gc, "mem_alloc"):
    print("SKIP no gc.mem_alloc on this port")
    raise SystemExit


def run(k, spec, side, B):
    """'alloc N dmax [...] within wmax B weights CRC' after LES steps at the bounds."""
    model = ConvModel(spec, (side, side, 1), seed=5)
    for l in model.layers:
        l.shift = 0  # everything saturates: largest errors, largest deltas
        for i in range(len(l.W)):
            l.W[i] = l.wmax if i % 3 else -l.wmax
        for i in range(len(l.b)):
            l.b[i] = l.wmax
    net = LES(model, k, None, batch=B, lr_shift=1, head_lr_shift=1, bw_shift=3,
              wd_shift=3, target=(-127, 127))
    x = k.buffer(B, side * side, "B")
    for i in range(len(x)):
        x[i] = 255
    lab = k.buffer(B, 1, "B")
    net.step(x, lab, B)  # warm up
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(2):
        net.step(x, lab, B)
        net.predict(x, B)
    after = gc.mem_alloc()
    gc.enable()
    return "alloc %d dmax %s within wmax %s weights %d" % (
        after - before, net.dmax, all(max(abs(w) for w in l.W) <= l.wmax
                                      for l in model.layers), weights_crc(model))


NETS = (("c6k3p2-c8k3-f10", 8, 2), ("c4k3p2g3-f10", 14, 1), ("f24-f12-f10", 7, 4))
plain = kernels.load("plain")
ref = []
for spec, side, B in NETS:
    ref.append(run(plain, spec, side, B))
    print("plain", spec, ref[-1])
try:
    viper = kernels.load("viper")
except ImportError as e:  # CircuitPython: no viper emitter
    viper = None
    print("skipped viper:", e, file=sys.stderr)
same = True
if viper is not None:
    for n in range(len(NETS)):
        got = run(viper, NETS[n][0], NETS[n][1], NETS[n][2])
        if got != ref[n]:
            same = False
            print("viper", NETS[n][0], "differs from plain:", got)
print("viper matches plain where it runs:", same)
print("kernels run:", "plain, viper" if viper else "plain", file=sys.stderr)
