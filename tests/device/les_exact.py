# LES training with the plain kernel on small conv and dense nets: prints a CRC of all weights
# after every batch group and the predictions at the end. The same lines must come out of
# CPython, every MicroPython and the numpy kernel (tests/test_les.py).
from udfa.conv import ConvModel
from udfa.kernels import plain
from udfa.les import LES

import synth

N, SIDE, N_CLS, B = 40, 8, 4, 5
SPECS = ("c4k3p2-c6k3p2-f4", "c5k3-f4", "c3k5p2g3-f6-f4", "f12-f8-f4")


def train(spec, kernel, ops, load, wd_shift=0):
    """load(x_buf, lab_buf, start, rows) copies samples into the kernel's batch buffers."""
    model = ConvModel(spec, (SIDE, SIDE, 1), seed=7)
    model.init_kaiming()
    net = LES(model, kernel, ops, batch=B, lr_shift=15, head_lr_shift=11, bw_shift=8,
              wd_shift=wd_shift, target=(64, -8))
    x = kernel.buffer(B, SIDE * SIDE, "B")
    lab = kernel.buffer(B, 1, "B")
    crcs = synth.train_crcs(net, x, lab, load, N, B, 2 * B)
    load(x, lab, 0, B)
    pred = net.predict(x, B)
    return model, crcs, [int(pred[r]) for r in range(B)]


def data():
    return synth.dataset(N, SIDE * SIDE, N_CLS, 13)


if __name__ == "__main__":
    xs, labels = data()

    def load(x, lab, start, rows):
        for i in range(rows * SIDE * SIDE):
            x[i] = xs[start * SIDE * SIDE + i]
        for r in range(rows):
            lab[r] = labels[start + r]

    for spec in SPECS:
        model, crcs, pred = train(spec, plain, None, load, 9 if spec[0] == "f" else 0)
        print(spec, " ".join(str(c) for c in crcs), "pred", pred)
