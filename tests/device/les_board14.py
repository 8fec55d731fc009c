# A small CNN for 14x14 inputs trains on a board-sized heap (run with -X heapsize=190K, the
# RP2040 profile): batch 1, plain kernel, synthetic 14x14 samples. Prints the weights' CRC,
# which the numpy kernel must reproduce (tests/test_les.py), and the heap it needed.
import gc

from udfa.conv import ConvModel
from udfa.kernels import plain
from udfa.les import LES

import synth
from synth import weights_crc

SPEC, N, N_CLS = "c8k3p2-c16k3p2-c32k3p2-f10", 48, 10  # recipe mnist14-cnn
SETTINGS = {"batch": 1, "lr_shift": [17, 11, 11], "head_lr_shift": [7, 7, 7], "bw_shift": 10,
            "target": (64, 0)}


def make(kernel, ops):
    model = ConvModel(SPEC, (14, 14, 1), seed=3)
    model.init_kaiming()
    s = SETTINGS
    return model, LES(model, kernel, ops, s["batch"], s["lr_shift"], s["head_lr_shift"],
                      s["bw_shift"], 0, s["target"])


if __name__ == "__main__":
    xs, labels = synth.dataset(N, 196, N_CLS, 5)
    gc.collect()
    free0 = gc.mem_free() if hasattr(gc, "mem_free") else 0
    model, net = make(plain, None)
    x = plain.buffer(1, 196, "B")
    lab = plain.buffer(1, 1, "B")
    for s in range(N):
        for i in range(196):
            x[i] = xs[s * 196 + i]
        lab[0] = labels[s]
        net.step(x, lab, 1)
    gc.collect()
    used = free0 - gc.mem_free() if hasattr(gc, "mem_free") else 0
    print("weights", weights_crc(model), "bytes", model.weights_bytes())
    # heap for the model and its buffers (0 on CPython, which cannot tell); to stderr so the
    # outputs of every interpreter still compare equal
    import sys
    sys.stderr.write("heap used %d\n" % used)
