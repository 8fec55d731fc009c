# Drive LES steps at the bounds (inputs 255, every weight at +-wmax, targets at +-127) on a
# 32-bit MicroPython and count heap bytes allocated: "alloc 0" proves that every intermediate
# stayed a small int (< 2^30) and that a step allocates nothing; on the plain kernel, then
# on viper (its conv ops and int16 head inputs included; the same weights, as CRCs show).
import gc

from udfa import kernels
from udfa.conv import ConvModel
from udfa.les import LES

from synth import weights_crc

if not hasattr(gc, "mem_alloc"):
    print("SKIP")
    raise SystemExit

for name, spec, side, B in [(k, s, n, b) for k in ("plain", "viper")
                            for s, n, b in (("c6k3p2-c8k3-f10", 8, 2), ("c4k3p2g3-f10", 14, 1),
                                            ("f24-f12-f10", 7, 4))]:
    k = kernels.load(name)
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
    print(name, spec, "alloc", after - before, "dmax", net.dmax, "within wmax",
          all(max(abs(w) for w in l.W) <= l.wmax for l in model.layers), "weights",
          weights_crc(model))
