# Integer CNNs on the fast kernels present here (native, viper, ulab): inference of every kernel
# (predictions and a CRC of the output activations) and LES training on native and viper (CRCs
# of tests/device/les_exact.py's nets and of the 14x14 board CNN, int16 head inputs up to
# cell * 127 included); ulab must refuse LES training. One line per kernel and net, which
# tests/test_les.py compares with the host's numpy kernel (not run by test_device_scripts:
# the lines differ by interpreter, as the kernels present do).
import gc

from udfa import kernels
from udfa.checksum import crc32
from udfa.conv import ConvModel, ConvNetwork
from udfa.les import LES

import les_board14
import les_exact
import synth
from synth import weights_crc

INFER = (("c3k5p2-c5k3-f6-f4", 12, 11, 4), (les_board14.SPEC, 14, 3, 1))  # spec, side,
N_INFER = 10  # seed, batch; samples of synth.dataset(N_INFER, side^2, 4, 17)
N_BOARD = 16  # samples of the board CNN trained on viper


def present():
    have = []
    for name in ("native", "viper", "ulab"):
        try:
            have.append(kernels.load(name))
        except ImportError:
            pass
    return have


def load_flat(xs, labels, n):
    """load(x, lab, start, rows): samples start.. of flat data into flat batch buffers."""
    def load(x, lab, start, rows):
        for i in range(rows * n):
            x[i] = xs[start * n + i]
        for r in range(rows):
            lab[r] = labels[start + r]
    return load


def infer(spec, side, seed, batch, k, ops=None, loader=load_flat):
    """(predictions, CRC of the output activations) of a fresh model on synthetic samples."""
    model = ConvModel(spec, (side, side, 1), seed=seed)
    model.init_kaiming()
    net = ConvNetwork(model, k, ops, batch)
    n = side * side
    xs, labels = synth.dataset(N_INFER, n, 4, 17)
    load = loader(xs, labels, n)
    x = k.buffer(batch, n, "B")
    lab = k.buffer(batch, 1, "B")
    pred = []
    crc = 0
    for s in range(0, N_INFER, batch):
        rows = min(batch, N_INFER - s)
        load(x, lab, s, rows)
        y = net.forward(x, rows, False)
        crc = crc32(bytes(y)[:rows * model.n_classes], crc)
        p = net.predict(x, rows)
        pred.extend(int(p[r]) for r in range(rows))
    return pred, crc & 0xFFFFFFFF


def board(k, ops=None, loader=load_flat):
    """Weights CRC of the board CNN (recipe mnist14-cnn's settings) after N_BOARD samples."""
    xs, labels = synth.dataset(N_BOARD, 196, les_board14.N_CLS, 5)
    load = loader(xs, labels, 196)
    model, net = les_board14.make(k, ops)
    x = k.buffer(1, 196, "B")
    lab = k.buffer(1, 1, "B")
    for s in range(N_BOARD):
        load(x, lab, s, 1)
        net.step(x, lab, 1)
    return weights_crc(model)

if __name__ == "__main__":
    xs, labels = les_exact.data()
    load_exact = load_flat(xs, labels, les_exact.SIDE ** 2)
    for k in present():
        name = k.__name__.split(".")[-1]
        for spec, side, seed, batch in INFER:
            pred, crc = infer(spec, side, seed, batch, k)
            print("infer", name, spec, "y", crc, "pred", " ".join(str(p) for p in pred))
            gc.collect()
        if name == "ulab":
            try:
                LES(ConvModel("c4k3p2-f4", (8, 8, 1)), k, batch=2)
                print("train ulab accepted")
            except ValueError as e:
                print("train ulab refused" if "not ulab" in str(e) else str(e))
            continue
        for spec in les_exact.SPECS:
            _, crcs, pred = les_exact.train(spec, k, None, load_exact,
                                            9 if spec[0] == "f" else 0)
            print("train", name, spec, " ".join(str(c) for c in crcs), "pred", pred)
            gc.collect()
        print("train", name, les_board14.SPEC, board(k))
