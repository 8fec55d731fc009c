# LES and integer CNNs (host side of the tests): leaky/linear activations, spec strings, the
# version-2 model file, conv ops and whole training runs bit-identical between the plain and
# numpy kernels and across interpreters, bounds, and a short run that learns.
import numpy as np
import pytest

import les_board14
import les_exact
import les_kernels
import synth
from conftest import DEVICE_TESTS, INTERPRETERS, kernels_of, run_device
from udfa import conv, pocket
from udfa.conv import ConvModel, ConvNetwork, parse
from udfa.kernels import plain
from udfa.les import LES, check_bounds
from udfa.model import Model, ModelError, load
from udfa_host import conv_numpy, kernels_numpy
from udfa_host.fit_cnn import EXACT_LIMIT, fit, predict


def test_leaky_and_linear():
    assert [pocket.leaky(x) for x in (-128, -5, -4, -1, 0, 7, 127)] == [-32, -2, -1, -1, 0, 7,
                                                                      127]
    assert [pocket.leaky_slope(x) for x in (-128, -1, 0, 127)] == [2, 2, 8, 8]
    assert [pocket.linear(x) for x in (-128, -127, 0, 127)] == [-127, -127, 0, 127]
    assert pocket.ACTIVATIONS["leaky"][0] == 3 and pocket.ACTIVATIONS["tanh"][0] == 1


def test_spec_strings():
    assert parse("c16k3p2-c32k5p2g3-fc10") == [(1, 16, 3, 2, 2), (1, 32, 5, 2, 3),
                                               (0, 10, 0, 1, 0)]
    for bad in ("c16", "x3-f10", "c16k3p2-c32", "f10", "c16kk3-f10", "f1k2-f10"):
        with pytest.raises(ValueError):
            parse(bad)
    with pytest.raises(ValueError, match="does not fit"):
        ConvModel("c4k3p8-f10", (4, 4, 1))
    m = ConvModel("c8k3p2-c16k3p2-f32-f10", (28, 28, 1))
    assert [b.size for b in m.blocks] == [14 * 14 * 8, 7 * 7 * 16, 32]
    assert [l.act for l in m.layers] == ["leaky", "linear", "leaky", "linear", "leaky",
                                         "linear"]


def test_model_file_v2(tmp_path):
    m = ConvModel("c4k3p2-f6-f3", (6, 6, 1), seed=9)
    m.init_kaiming()
    m.save(tmp_path / "c.udfa")
    back = load(tmp_path / "c.udfa")
    assert back.describe() == m.describe() and back.seed == 9
    assert all(a.W == b.W and a.shift == b.shift and a.act == b.act
               for a, b in zip(m.layers, back.layers))
    data = (tmp_path / "c.udfa").read_bytes()
    (tmp_path / "bad.udfa").write_bytes(data[:60] + bytes([data[60] ^ 1]) + data[61:])
    with pytest.raises(ModelError, match="CRC mismatch"):
        load(tmp_path / "bad.udfa")
    (tmp_path / "short.udfa").write_bytes(data[:-9])
    with pytest.raises(ModelError, match="truncated"):
        load(tmp_path / "short.udfa")
    Model([5, 3], ["tanh"]).save(tmp_path / "v1.udfa")  # version 1 files still read
    assert load(tmp_path / "v1.udfa").sizes == (5, 3)


def _fill(buf, n, cols, step):
    """Deterministic values -1000..1000 into the first n entries of a flat or 2-D buffer."""
    for i in range(n):
        v = (i * step) % 2001 - 1000
        if isinstance(buf, np.ndarray):
            buf[i // cols, i % cols] = v
        else:
            buf[i] = v


def _to_numpy(buf, rows, cols, dtype):
    return np.array(buf, dtype=dtype).reshape(rows, cols)


@pytest.mark.parametrize("H, W, C, k, p, g", [(6, 6, 1, 3, 2, 2), (7, 5, 3, 5, 2, 3),
                                             (5, 5, 2, 1, 1, 1), (9, 9, 2, 3, 3, 2)])
def test_conv_ops_match(H, W, C, k, p, g):
    rng = np.random.default_rng(H * W + k)
    B, Co, rows = 3, 4, 2
    x = rng.integers(0, 4, (B, H * W * C)).astype(np.uint8)  # few values: many pooling ties
    P0 = plain.buffer(B * H * W, k * k * C, "B")
    conv.im2col(np.ravel(x).tolist(), rows, H, W, C, k, P0)
    P1 = kernels_numpy.buffer(B * H * W, k * k * C, "B")
    conv_numpy.im2col(x, rows, H, W, C, k, P1)
    assert (_to_numpy(P0, B * H * W, k * k * C, np.uint8) == P1).all()
    a = rng.integers(-3, 3, (B * H * W, Co)).astype(np.int8)
    s = rng.integers(0, 9, (B * H * W, Co)).astype(np.uint8)
    Ho, Wo = H // p, W // p
    outs = []
    for ops, kern, av, sv in ((conv, plain, a.ravel().tolist(), s.ravel().tolist()),
                              (conv_numpy, kernels_numpy, a, s)):
        pooled = kern.buffer(B * Ho * Wo, Co, "b")
        idx = kern.buffer(B * Ho * Wo, Co, "B")
        ops.maxpool(av, rows, H, W, Co, p, pooled, idx)
        hx = kern.buffer(B, g * g * Co, "h")
        ops.gridsum(av, rows, H, W, Co, g, hx)
        gg = kern.buffer(B, g * g * Co, "i")
        _fill(gg, rows * g * g * Co, g * g * Co, 3)
        spread = kern.buffer(B * H * W, Co, "i")
        ops.gridspread(gg, rows, H, W, Co, g, spread)
        gpos = kern.buffer(B * Ho * Wo, Co, "i")
        _fill(gpos, rows * Ho * Wo * Co, Co, 7919)
        d = kern.buffer(B * H * W, Co, "i")
        ops.unpool_delta(gpos, idx, sv, rows, H, W, Co, p, 700, d)
        outs.append([np.array(v).reshape(-1)[:n] for v, n in (
            (pooled, rows * Ho * Wo * Co), (idx, rows * Ho * Wo * Co),
            (hx, rows * g * g * Co), (spread, rows * H * W * Co), (d, rows * H * W * Co))])
    for got, want in zip(outs[0], outs[1]):
        assert (got == want).all()
    assert np.abs(outs[1][-1]).max() == 700  # the clamp was reached


def _numpy_loader(xs, labels, n_in):
    x_all = np.frombuffer(bytes(xs), np.uint8).reshape(-1, n_in)
    y_all = np.frombuffer(bytes(labels), np.uint8)

    def load_numpy(x, lab, start, rows):
        x[:rows] = x_all[start:start + rows]
        lab[:rows] = y_all[start:start + rows]
    return load_numpy


def test_numpy_training_matches_the_plain_kernel_everywhere():
    """The device script's CRCs (CPython plain kernel; other interpreters are compared with
    it by test_device_scripts) equal the numpy kernel's, for conv, pooled and dense nets."""
    xs, labels = les_exact.data()
    load = _numpy_loader(xs, labels, les_exact.SIDE ** 2)
    expected = run_device("cpython", DEVICE_TESTS / "les_exact.py").splitlines()
    for spec, line in zip(les_exact.SPECS, expected):
        _, crcs, pred = les_exact.train(spec, kernels_numpy, conv_numpy, load,
                                        9 if spec[0] == "f" else 0)
        assert line == "%s %s pred %s" % (spec, " ".join(map(str, crcs)), pred)
        assert len(set(crcs)) == len(crcs)  # the weights really changed


def test_board_cnn_trains_like_the_host():
    """The 14x14 CNN trained on a 190 KB MicroPython heap ends with the host's weights."""
    xs, labels = synth.dataset(les_board14.N, 196, les_board14.N_CLS, 5)
    model, net = les_board14.make(kernels_numpy, conv_numpy)
    load = _numpy_loader(xs, labels, 196)
    x = kernels_numpy.buffer(1, 196, "B")
    lab = kernels_numpy.buffer(1, 1, "B")
    for s in range(les_board14.N):
        load(x, lab, s, 1)
        net.step(x, lab, 1)
    host = "weights %d bytes %d" % (synth.weights_crc(model), model.weights_bytes())
    interp = "micropython" if "micropython" in INTERPRETERS else "cpython"
    assert run_device(interp, DEVICE_TESTS / "les_board14.py").strip() == host


@pytest.mark.parametrize("interp", sorted(INTERPRETERS))
def test_host_trained_model_predicts_the_same_on_the_board(tmp_path, interp):
    m = ConvModel("c6k3p2-c8k3p2-f12-f4", (12, 12, 1), seed=11)
    m.init_kaiming()
    xs, labels = synth.dataset(30, 144, 4, 17)
    x = np.frombuffer(bytes(xs), np.uint8).reshape(30, 12, 12)
    y = np.frombuffer(bytes(labels), np.uint8)
    settings = {"net": m.spec, "batch": 6, "lr_shift": 15, "head_lr_shift": 11,
                "bw_shift": 8, "target": (64, 0), "decay": 10, "epochs": 2}
    fit(x, y, None, None, settings, model=m)
    m.save(tmp_path / "m.udfa")
    out = run_device(interp, DEVICE_TESTS / "les_infer.py", tmp_path / "m.udfa")
    assert out.split(" pred ")[1].split() == [str(p) for p in predict(m, x)]


def test_bounds():
    m = ConvModel("c16k3p2-c32k3p2-f10", (28, 28, 1))
    assert len(check_bounds(m, 32, 10, (64, 0), EXACT_LIMIT)) == 2
    # on a board's small ints, 32 x 784 positions clip deltas to 83; 64 x 784 are refused
    assert check_bounds(m, 32, 10, (64, 0))[0] == (2 ** 29 - 1) // (32 * 784 * 255)
    with pytest.raises(ValueError, match="batch 64 too large"):
        check_bounds(m, 64, 10, (64, 0))
    check_bounds(m, 1, 10, (64, 0))
    with pytest.raises(ValueError, match="bw_shift 0 too small"):
        check_bounds(ConvModel("f20-f10", (1, 1, 8)), 1, 0, (127, -127))
    with pytest.raises(ValueError, match="target"):
        check_bounds(m, 1, 10, (128, 0))


def test_les_cnn_learns_synthetic_classes():
    n, side, n_cls = 600, 10, 4
    xs, labels = synth.dataset(n, side * side, n_cls, 4)
    x = np.frombuffer(bytes(xs), np.uint8).reshape(n, side, side)
    y = np.frombuffer(bytes(labels), np.uint8)
    settings = {"net": "c8k3p2-c8k3p2-f4", "batch": 10, "lr_shift": 18, "head_lr_shift": 11,
                "bw_shift": 8, "target": (64, 0), "decay": 10, "epochs": 3}
    model, history = fit(x[:450], y[:450], x[450:], y[450:], settings, seed=3)
    assert history[-1]["test_accuracy"] > 0.9
    net = ConvNetwork(model, kernels_numpy, conv_numpy, 4)  # inference network agrees
    assert net.predict(x[:4].reshape(4, -1).copy(), 4).tolist() == predict(model, x[:4]).tolist()


def test_learning_rates_per_block_and_rounding():
    """lr shifts per block and per head (an int means every one); the rounding offsets come
    from the trainer's own XorShift32 stream (seeded from the model seed: runs repeat), and
    random_round=False rounds to nearest."""
    xs, labels = les_exact.data()
    load = _numpy_loader(xs, labels, les_exact.SIDE ** 2)

    def run(lr, head, random_round=True):
        model = ConvModel("c4k3p2-c6k3p2-f4", (les_exact.SIDE, les_exact.SIDE, 1), seed=7)
        model.init_kaiming()
        net = LES(model, kernels_numpy, conv_numpy, les_exact.B, lr, head, 8, 0, (64, -8),
                  EXACT_LIMIT, random_round)
        x = kernels_numpy.buffer(les_exact.B, les_exact.SIDE ** 2, "B")
        lab = kernels_numpy.buffer(les_exact.B, 1, "B")
        for start in range(0, les_exact.N, les_exact.B):
            load(x, lab, start, les_exact.B)
            net.step(x, lab, les_exact.B)
        return synth.weights_crc(model), net

    crc, net = run(15, 11)
    assert net.lr_shift == [15, 15] and net.head_lr_shift == [11, 11]
    assert run([15, 15], [11, 11])[0] == crc == run(15, 11)[0]
    assert run([15, 13], [11, 11])[0] != crc
    assert run(15, 11, False)[0] != crc
    with pytest.raises(ValueError, match="one learning-rate shift per block"):
        net.set_lr_shift([15], 11)
    with pytest.raises(ValueError, match="out of 0..29"):
        net.set_lr_shift(30, 11)


@pytest.mark.parametrize("interp", sorted(i for i in INTERPRETERS if i != "cpython"))
def test_fast_kernels_match_numpy(interp):
    """CNN inference on viper and ulab (batch 4 and 1) and LES training on viper (les_exact's
    nets and the 14x14 board CNN, whose heads take int16 inputs) end with the numpy kernel's
    outputs and weights; ulab refuses LES training."""
    out = run_device(interp, DEVICE_TESTS / "les_kernels.py").splitlines()
    want = []
    for name in kernels_of(interp)[:-1]:  # viper (not on CircuitPython), ulab (6.5.3 there)
        for spec, side, seed, batch in les_kernels.INFER:
            pred, crc = les_kernels.infer(spec, side, seed, batch, kernels_numpy, conv_numpy,
                                          _numpy_loader)
            want.append("infer %s %s y %d pred %s" % (name, spec, crc,
                                                     " ".join(map(str, pred))))
        if name == "ulab":
            want.append("train ulab refused")
            continue
        xs, labels = les_exact.data()
        load = _numpy_loader(xs, labels, les_exact.SIDE ** 2)
        for spec in les_exact.SPECS:
            _, crcs, pred = les_exact.train(spec, kernels_numpy, conv_numpy, load,
                                            9 if spec[0] == "f" else 0)
            want.append("train viper %s %s pred %s" % (spec, " ".join(map(str, crcs)), pred))
        want.append("train viper %s %d" % (les_board14.SPEC, les_kernels.board(
            kernels_numpy, conv_numpy, _numpy_loader)))
    assert out == want


def test_kaiming_range_follows_the_scaling_shift():
    """A layer whose shift is k above its default starts with weights 2^k larger (the same
    function); the other layers start as with default shifts."""
    plain_m = ConvModel("c4k3p2-f6-f3", (6, 6, 1), seed=2)
    plain_m.init_kaiming()
    finer = ConvModel("c4k3p2-f6-f3", (6, 6, 1), seed=2)
    finer.out.shift += 3
    finer.init_kaiming()
    r = conv.isqrt(6 * (1 << 24) // plain_m.out.n_in)  # the default range (4096 = 1.0)
    assert r // 2 < max(abs(w) for w in plain_m.out.W) <= r
    assert 4 * r < max(abs(w) for w in finer.out.W) <= 8 * r
    assert list(finer.blocks[0].layer.W) == list(plain_m.blocks[0].layer.W)
