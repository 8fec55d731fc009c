# Integer core (host side of the tests): activations, PRNG, model file, bounds, kernel exactness.
import numpy as np
import pytest

import synth
import train_exact
from conftest import DEVICE_TESTS, run_device
from udfa import pocket
from udfa.dfa import DFA, check_bounds
from udfa.kernels import plain
from udfa.model import Model, ModelError, load
from udfa.rng import XorShift32
from udfa_host import kernels_numpy

# (x, tanh, tanh slope, sigmoid, sigmoid slope, relu, relu slope) at every breakpoint
BREAKPOINTS = [
    (-128, -127, 1, 1, 1, 0, 0),  # saturated low end: tanh, sigmoid keep slope 1/8
    (-127, -120, 2, 4, 1, 0, 0),
    (-75, -107, 2, 10, 1, 0, 0),
    (-74, -106, 8, 11, 4, 0, 0),
    (-33, -65, 8, 31, 4, 0, 0),
    (-32, -64, 8, 32, 8, 0, 0),
    (-31, -62, 16, 33, 8, 0, 0),
    (0, 0, 16, 64, 8, 0, 0),
    (1, 2, 16, 65, 8, 1, 8),
    (31, 62, 16, 95, 8, 31, 8),
    (32, 64, 8, 96, 4, 32, 8),
    (74, 106, 8, 117, 4, 74, 8),
    (75, 106, 2, 117, 1, 75, 8),
    (126, 119, 2, 123, 1, 126, 8),
    (127, 127, 1, 127, 1, 127, 0),  # saturated high end
]


@pytest.mark.parametrize("row", BREAKPOINTS)
def test_pocket_breakpoints(row):
    x, th, ths, sg, sgs, rl, rls = row
    assert (pocket.tanh(x), pocket.tanh_slope(x)) == (th, ths)
    assert (pocket.sigmoid(x), pocket.sigmoid_slope(x)) == (sg, sgs)
    assert (pocket.relu(x), pocket.relu_slope(x)) == (rl, rls)


@pytest.mark.parametrize("name", sorted(pocket.ACTIVATIONS))
def test_pocket_tables_are_monotone_8bit(name):
    values, slopes = pocket.tables(name)
    assert all(values[i] <= values[i + 1] for i in range(255))
    assert min(values) >= -127 and max(values) <= 127
    assert set(slopes) <= {0, 1, 2, 4, 8, 16}


def test_rng_is_xorshift32():
    x, ref = 2024, []
    for _ in range(1000):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        ref.append(x >> 2)
    rng = XorShift32(2024)
    assert [rng.next30() for _ in range(1000)] == ref
    assert all(rng.nonzero(5) in (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5) for _ in range(500))


def small_model():
    m = Model([20, 8, 4], ["tanh", "sigmoid"], [9, 8], seed=9)
    m.init_uniform(300)
    return m


def test_model_roundtrip(tmp_path):
    m = small_model()
    m.save(tmp_path / "m.udfa")
    back = load(tmp_path / "m.udfa")
    assert back.sizes == m.sizes and back.seed == 9 and back.describe() == m.describe()
    assert all(a.W == b.W and a.b == b.b and a.shift == b.shift
               for a, b in zip(m.layers, back.layers))


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:50], "truncated"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b"XXXX" + b[4:], "bad magic"),
    (lambda b: b[:4] + b"\x09" + b[5:], "version 9"),
    (lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:], "CRC mismatch"),
])
def test_damaged_model_is_refused(tmp_path, damage, message):
    small_model().save(tmp_path / "m.udfa")
    data = (tmp_path / "m.udfa").read_bytes()
    (tmp_path / "bad.udfa").write_bytes(damage(data))
    with pytest.raises(ModelError, match=message):
        load(tmp_path / "bad.udfa")


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load(tmp_path / "nope.udfa")


def test_bounds_refuse_oversized_batch():
    m = Model([784, 100, 10], ["tanh", "tanh"], [14, 12])
    check_bounds(m, 20, 6, 127, (127, -127))
    with pytest.raises(ValueError, match="batch 200 too large"):
        DFA(m, plain, batch=200, fb_shift=6)
    with pytest.raises(ValueError, match="feedback range"):
        check_bounds(m, 20, 6, 128, (127, -127))


def test_wmax_keeps_preactivation_small():
    for n_in, in_max in ((784, 255), (196, 255), (1024, 127), (8, 127)):
        l = Model([n_in, 3], ["relu"], [0], in_max=in_max).layers[0]
        assert (n_in * in_max + pocket.BIAS_INPUT) * l.wmax < 2 ** 30
        assert l.wmax == 32767 or (n_in * in_max + 127) * (l.wmax + 1) >= 2 ** 30


def test_numpy_kernel_matches_device_scripts():
    """The numpy kernel, fed the same batches, gives the CRCs the device script printed."""
    data, labels = synth.dataset(train_exact.N, train_exact.N_IN, train_exact.N_CLS, 11)
    x_all = np.frombuffer(bytes(data), np.uint8).reshape(train_exact.N, train_exact.N_IN)

    def load_numpy(x, lab, start, rows):
        x[:rows] = x_all[start:start + rows]
        lab[:rows] = np.frombuffer(bytes(labels), np.uint8)[start:start + rows]

    expected = []
    for acts in train_exact.ACTS:
        model, crcs = train_exact.train(kernels_numpy, load_numpy, acts)
        expected += ["crc %d" % c for c in crcs] + ["final %d" % synth.weights_crc(model)]
        assert len(set(crcs)) == len(crcs)  # weights really changed between checkpoints
    assert run_device("cpython", DEVICE_TESTS / "train_exact.py").split("\n")[:-1] == expected


def test_dfa_learns_synthetic_classes():
    n, n_in, n_cls, B = 400, 32, 4, 10
    data, labels = synth.dataset(n, n_in, n_cls, 4)
    x_all = np.frombuffer(bytes(data), np.uint8).reshape(n, n_in)
    y_all = np.frombuffer(bytes(labels), np.uint8)
    m = Model([n_in, 16, n_cls], ["tanh", "tanh"], seed=2)
    net = DFA(m, kernels_numpy, batch=B, lr_shift=14)
    x = kernels_numpy.buffer(B, n_in, "B")
    lab = kernels_numpy.buffer(B, 1, "B")

    def accuracy():
        right = 0
        for s in range(300, n, B):
            x[:] = x_all[s:s + B]
            right += int((net.predict(x, B) == y_all[s:s + B]).sum())
        return right / (n - 300)

    before = accuracy()
    for _ in range(3):
        for s in range(0, 300, B):
            x[:] = x_all[s:s + B]
            lab[:] = y_all[s:s + B]
            net.step(x, lab, B)
    assert before < 0.5 and accuracy() > 0.9


def test_host_evaluate_matches_the_plain_forward_pass():
    from array import array

    from udfa.network import Network
    from udfa_host.evaluate import evaluate, predict
    m = small_model()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(37, 20), dtype=np.uint8)
    y = rng.integers(0, 4, size=37)
    net = Network(m, plain, 1)
    expected = [net.predict(array("B", row.tobytes()), 1)[0] for row in x]
    assert list(predict(m, x, batch=8)) == expected
    acc, conf = evaluate(m, x, y, batch=8)
    assert conf.sum() == 37 and conf.trace() == sum(int(p == t) for p, t in zip(expected, y))
    assert acc == conf.trace() / 37
    with pytest.raises(ValueError, match="expects 20"):
        evaluate(m, x[:, :10], y)


def test_random_rounding_keeps_small_updates_on_average():
    """An update of a quarter unit per step: round-to-nearest would never move the weight;
    the random offset moves it by about a quarter unit per step."""
    m = Model([1, 1], ["tanh"], [0], seed=3)
    net = DFA(m, plain, batch=1, lr_shift=12)
    L = net.layers[0]  # the kernel handle of the layer
    x = plain.buffer(1, 1, "B")
    x[0] = 64
    d = plain.buffer(1, 1, "i")
    d[0] = 16  # acc = 64 * 16 = 2^10 = 2^12 / 4
    plain.update(L, x, d, 1, 12, 1 << 11)  # the old rule: nearest
    assert L.W[0] == 0
    for _ in range(400):
        plain.update(L, x, d, 1, 12, net.rounding.next30() & 4095)
    assert -130 < L.W[0] < -70  # about -100
