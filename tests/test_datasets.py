# Your own data (host side of the tests): CSV / numpy / IDX inputs and their one-line errors,
# the integer input map (udfa.prep) fitted on the host and applied on every interpreter to the
# same bytes, its section in the model file, and the profile limits.
import json
import shutil

import numpy as np
import pytest

from conftest import DEVICE_TESTS, run_device
from udfa.model import Model, ModelError, load
from udfa_host import Classifier, datasets, preprocess, windows
from udfa_host.boards import load_profile
from udfa_host.cli import load_model_file, main
from udfa_host.evaluate import predict
from udfa_host.idx import DataError, write_idx


def write(path, text):
    path.write_text(text)
    return path


def test_csv_string_labels(tmp_path):
    f = write(tmp_path / "d.csv", "temp,hum,kind\n1.5,2,dog\n2.5,3,cat\n\n0.1,-1,dog\n")
    d = datasets.load(f, label="kind")
    assert d.classes == ["cat", "dog"] and d.y.tolist() == [1, 0, 1]
    assert d.x.tolist() == [[1.5, 2], [2.5, 3], [0.1, -1]] and d.shape == (1, 2, 1)
    # without --label: a column named label/class/target/y, else the last one
    d = datasets.load(write(tmp_path / "e.csv", "label,a\n10,1\n2,2\n2,3\n"))
    assert d.classes == ["2", "10"] and d.y.tolist() == [1, 0, 0]  # numbers sort as numbers


@pytest.mark.parametrize("text,label,message", [
    ("a,b,y\n1,2,0\n1,2\n", None, r"d.csv: row 3 has 2 columns, the header 3"),
    ("a,b,y\n1,x,0\n", None, r"row 2, column 'b': 'x' is not a number"),
    ("a,b,y\n1,nan,0\n3,4,1\n", None, r"row 2, column 'b' is nan"),
    ("a,b,y\n1,,0\n", None, r"row 2, column 'b': '' is not a number"),
    ("a,b,y\n1,2,0\n3,4,0\n", None, r"column 'y' holds one class only"),
    ("a,b,y\n1,2,0\n", "kind", r"no column 'kind'; the columns are a, b, y"),
    ("a,b,y\n1,2,\n", None, r"row 2 has no label in column 'y'"),
    ("a,b,y\n", None, r"need a header row and at least one sample"),
])
def test_csv_errors(tmp_path, text, label, message):
    with pytest.raises(DataError, match=message):
        datasets.load(write(tmp_path / "d.csv", text), label=label)


def test_cli_prints_one_line(tmp_path, capsys):
    f = write(tmp_path / "d.csv", "a,b,y\n1,x,0\n")
    assert main(["prepare", "--data", str(f), "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 2, column 'b'" in err


def test_numpy_and_idx(tmp_path):
    x = np.arange(12.0).reshape(6, 2)
    np.savez(tmp_path / "d.npz", X=x, y=[0, 1, 2, 0, 1, 2])
    d = datasets.load(tmp_path / "d.npz")
    assert d.x.shape == (6, 2) and d.classes == ["0", "1", "2"]
    np.save(tmp_path / "d.npy", np.c_[x, [5, 5, 7, 7, 5, 7]])
    d = datasets.load(tmp_path / "d.npy")
    assert d.classes == ["5", "7"] and d.y.tolist() == [0, 0, 1, 1, 0, 1]
    np.savez(tmp_path / "bad.npz", a=x)
    with pytest.raises(DataError, match="needs arrays X and y"):
        datasets.load(tmp_path / "bad.npz")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 6, 4), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, 2, 3], np.uint8))
    d = datasets.load(tmp_path)
    assert d.shape == (6, 4, 1) and d.y.tolist() == [1, 2, 3] and len(d.classes) == 10
    # real-valued images are features (mapped by udfa.prep); uint8 images keep their shape
    assert datasets.from_arrays(np.zeros((2, 3, 3, 2)), [0, 1]).shape == (1, 18, 1)
    assert datasets.from_arrays(np.zeros((2, 3, 5, 2), np.uint8), [0, 1]).shape == (3, 5, 2)
    with pytest.raises(DataError, match="sample 1, feature 2 is inf"):
        datasets.from_arrays(np.array([[0, 0, 0], [0, 0, np.inf]]), [0, 1])


def test_profile_limits():
    d = datasets.from_arrays(np.zeros((2, 1000)), [0, 1])
    with pytest.raises(DataError, match=r"1000-112-2 network needs \d+ bytes of weights, the "
                       r"rp2040 profile's heap holds 46\d\d\d"):
        datasets.check_fits(d, load_profile("rp2040"), [112])
    assert datasets.check_fits(d, load_profile("rp2040"), [20]) == [1000, 20, 2]
    assert datasets.auto_hidden(1000, 2, datasets.weights_budget(load_profile("rp2040"))) < 24
    with pytest.raises(DataError, match="300 classes, a board's model holds at most 255"):
        datasets.from_arrays(np.zeros((300, 2)), np.arange(300))


def edge_data(rng):
    """Training data whose features exercise the map: floats of small and large range,
    negative values, a constant feature, integers of a range near 2^29."""
    n = 200
    return np.c_[rng.normal(0, 0.01, n), rng.normal(-500, 1000, n), np.full(n, 3.25),
                 rng.uniform(-1, 1, n)]


def test_map_bounds_and_range():
    rng = np.random.default_rng(1)
    x = edge_data(rng)
    p = preprocess.fit(x)
    assert 0 < p.frac <= preprocess.MAX_FRAC
    u = preprocess.apply(p, x)
    assert u[:, 2].max() == 0  # constant feature
    for i in (0, 1, 3):  # the training range covers 0..255
        assert u[:, i].min() == 0 and u[:, i].max() == 255
    big = rng.integers(-(1 << 28), 1 << 28, (50, 2))
    p = preprocess.fit(big)
    assert p.frac == 0 and preprocess.apply(p, big).max() == 255
    with pytest.raises(preprocess.PrepError, match="do not fit the board's integers"):
        preprocess.fit(np.array([[1 << 30], [0]]))


def test_device_applies_the_same_bytes(interp, tmp_path):
    rng = np.random.default_rng(2)
    x = edge_data(rng)
    model = Model([4, 8, 3], ["tanh", "tanh"])
    model.prep = preprocess.fit(x, names=["low", "mid", "high"])
    model.save(tmp_path / "m.udfa")
    # readings from beyond the training range too: they clip
    test = np.r_[x[:20], edge_data(rng)[:20] * 3]
    readings = preprocess.to_fixed(test, model.prep.frac)
    assert np.abs(readings).max() < 1 << 29
    readings.astype("<i4").tofile(tmp_path / "r.bin")
    out = run_device(interp, DEVICE_TESTS / "prep_apply.py", tmp_path / "m.udfa",
                     tmp_path / "r.bin").splitlines()
    want = preprocess.apply(model.prep, test)
    assert out[:len(test)] == [row.tobytes().hex() for row in want]
    assert out[len(test)] == "names low,mid,high frac %d shape (1, 4, 1)" % model.prep.frac
    assert out[-1] == "allocated none"


def test_learner_maps_raw_readings_and_keeps_the_map(interp, tmp_path):
    """The estimator's model (fitted on numpy arrays) in a Learner on the board takes raw
    readings: its predictions equal the estimator's, and its checkpoint keeps the map; the
    same on every interpreter (MicroPython and CircuitPython builds against CPython)."""
    rng = np.random.default_rng(4)
    x = edge_data(rng)
    y = np.array(["low", "mid", "high"])[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0)]
    clf = Classifier(hidden=8, epochs=3, seed=1).fit(x, y)
    clf.save(tmp_path / "m.udfa")
    frac = clf.model_.prep.frac
    test = np.r_[x[:20], edge_data(rng)[:10] * 3]
    preprocess.to_fixed(test, frac).astype("<i4").tofile(tmp_path / "r.bin")
    out = run_device(interp, DEVICE_TESTS / "learner_prep.py", tmp_path / "m.udfa",
                     tmp_path / "r.bin").splitlines()
    board = [clf.classes_[int(c)] for c in out[0].split()[1:]]
    assert board == list(clf.predict(test))
    assert out[1] == "names high,low,mid frac %d" % frac
    if interp != "cpython":
        clf.save(tmp_path / "m.udfa")  # the same start again, for CPython's run
        assert out == run_device("cpython", DEVICE_TESTS / "learner_prep.py",
                                 tmp_path / "m.udfa", tmp_path / "r.bin").splitlines()


def test_model_section(tmp_path):
    x = np.random.default_rng(3).normal(size=(30, 4))
    model = Model([4, 8, 2], ["tanh", "tanh"])
    model.save(tmp_path / "plain.udfa")
    model.prep = preprocess.fit(x, names=["a", "b"])
    model.save(tmp_path / "m.udfa")
    plain = (tmp_path / "plain.udfa").read_bytes()
    data = (tmp_path / "m.udfa").read_bytes()
    assert data.startswith(plain)  # an older reader stops at the model's CRC
    assert not hasattr(load(tmp_path / "plain.udfa"), "prep")
    back = load(tmp_path / "m.udfa").prep
    assert back.names == ["a", "b"] and list(back.mul) == list(model.prep.mul)
    for cut, message in ((len(data) - 3, "section holds"), (len(plain) + 8, "truncated")):
        (tmp_path / "bad.udfa").write_bytes(data[:cut])
        with pytest.raises(ModelError, match=message):
            load(tmp_path / "bad.udfa")
    flipped = bytearray(data)
    flipped[len(plain) + 20] ^= 1
    (tmp_path / "bad.udfa").write_bytes(bytes(flipped))
    with pytest.raises(ModelError, match="CRC mismatch"):
        load(tmp_path / "bad.udfa")


def test_prepare_and_eval_a_csv(tmp_path, capsys):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    x = rng.normal(0, 1, (300, 3)) + y[:, None] * 3
    names = np.array(["off", "on"])[y]
    lines = ["a,b,c,state"] + ["%r,%r,%r,%s" % (*map(float, r), n) for r, n in zip(x, names)]
    write(tmp_path / "train.csv", "\n".join(lines[:201]) + "\n")
    write(tmp_path / "test.csv", "\n".join(lines[:1] + lines[201:]) + "\n")
    out = tmp_path / "shards"
    assert main(["prepare", "--data", str(tmp_path / "train.csv"), "--out", str(out)]) == 0
    assert main(["prepare", "--data", str(tmp_path / "test.csv"), "--split", "test",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "200 train samples of 3 inputs, 2 classes (off, on)" in printed
    assert "100 test samples" in printed and (out / "input-map.udfp").is_file()
    from udfa_host.shards import read_shard
    clf = Classifier(hidden=8, epochs=5).fit(x[:200], names[:200])
    clf.save(tmp_path / "m.udfa")
    _, labels, head = read_shard(out / "test-000.uds")
    assert head["width"] == 3 and labels.tolist() == y[200:].tolist()
    assert main(["eval", str(tmp_path / "m.udfa"), "--data", str(tmp_path / "test.csv")]) == 0
    accuracy = float(capsys.readouterr().out.split("accuracy ")[1].split("%")[0])
    assert accuracy == pytest.approx(100 * clf.score(x[200:], names[200:]), abs=0.01)


@pytest.mark.skipif(not shutil.which("micropython"), reason="needs micropython")
def test_a_csv_trains_on_the_board_and_predicts_there_as_on_the_pc(tmp_path, monkeypatch,
                                                                    capsys):
    """prepare a CSV file, push, train on a virtual Pico (the network takes the shards' inputs
    and classes around the profile's hidden layer), pull; the board's evaluation of the test
    shard equals the PC's, the pulled model carries the input map (eval reads the raw CSV
    through it), and the board's Learner predicts raw readings as the PC does."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UDFA_VIRTUAL_DIR", str(tmp_path / "virtual"))
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 240)
    x = rng.normal(0, 1, (240, 4)) + y[:, None] * 2
    lines = ["a,b,c,d,kind"] + ["%r,%r,%r,%r,%s" % (*map(float, r), "k%d" % v)
                                for r, v in zip(x, y)]
    write(tmp_path / "train.csv", "\n".join(lines[:201]) + "\n")
    write(tmp_path / "test.csv", "\n".join(lines[:1] + lines[201:]) + "\n")
    assert main(["prepare", "--data", "train.csv", "--out", "shards"]) == 0
    assert main(["prepare", "--data", "test.csv", "--split", "test", "--out", "shards"]) == 0
    board = ["--board", "virtual:rp2040", "-q"]
    for verb in (["deploy", "--no-entry"], ["push", "shards"],
                 ["train", "--fresh", "--epochs", "3"], ["pull", "--out", "board.udfa"]):
        assert main(verb + board) == 0, verb
    model = load_model_file("board.udfa")
    assert model.n_inputs == 4 and model.n_classes == 3
    assert model.prep.names == ["k0", "k1", "k2"]
    readings = preprocess.to_fixed(x[201:], model.prep.frac).tolist()
    from udfa_host.link import Board
    with Board.open("virtual:rp2040") as b:
        out = b.exec("from udfa import agent\nagent.evaluate('data/test')", timeout=120)
        learner = b.exec("from udfa.learner import Learner\nl = Learner('ckpt.udfa')\n"
                         "print([l.predict(r)[0] for r in %r])" % readings, timeout=120)
    on_board = json.loads(out.split("UDFA ")[-1])
    assert json.loads(learner) == predict(model, preprocess.apply(model.prep, x[201:])).tolist()
    assert main(["eval", "board.udfa", "--shards", "shards/test-000.uds", "--out",
                 "pc.json"]) == 0
    assert on_board["confusion"] == json.loads((tmp_path / "pc.json").read_text())["confusion"]
    capsys.readouterr()
    assert main(["eval", "board.udfa", "--data", "test.csv", "--out", "csv.json"]) == 0
    printed = capsys.readouterr().out
    accuracy = float(printed.split("accuracy ")[1].split("%")[0])
    assert json.loads((tmp_path / "csv.json").read_text())["classes"] == ["k0", "k1", "k2"]
    assert printed.splitlines()[-1].startswith("k2 ")  # the confusion rows by class name
    assert main(["plot", "--eval", "csv.json", "--out", "plots"]) == 0
    assert accuracy == pytest.approx(on_board["accuracy_bp"] / 100, abs=0.01) and accuracy > 60


def test_sensor_windows_to_features():
    t = np.arange(1000)
    recording = np.c_[np.sin(t / 5), (t % 7) - 3.0]  # two channels
    w = windows.sliding(recording, 100, 50)
    assert w.shape == (19, 100, 2) and (w[1, 0] == recording[50]).all()
    x = windows.features(w)
    assert x.shape == (19, 10)
    first = recording[:100, 1]  # channel 1 of window 0: mean, MAD, min, max, mean |change|
    assert x[0, 5:].tolist() == pytest.approx([first.mean(), np.abs(first - first.mean()).mean(),
                                               -3, 3, np.abs(np.diff(first)).mean()])
    with pytest.raises(ValueError, match="shorter than one window"):
        windows.sliding(recording[:20], 100)


@pytest.mark.skipif(not shutil.which("micropython"), reason="needs micropython")
def test_push_replaces_the_boards_input_map(tmp_path, monkeypatch):
    """Each pushed set brings its own map (a map ends with its own CRC, so two maps' whole-
    file CRCs are equal: the board's copy is compared by that stored CRC); a set without one
    removes the board's old map."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UDFA_VIRTUAL_DIR", str(tmp_path / "virtual"))
    rng = np.random.default_rng(6)
    for name, n in (("a", 5), ("b", 3)):
        np.savez(name + ".npz", X=rng.normal(size=(40, n)), y=rng.integers(0, 2, 40))
        assert main(["prepare", "--data", name + ".npz", "--out", name]) == 0
    from udfa_host.shards import write_shards
    write_shards(rng.integers(0, 256, (40, 1, 4, 1), dtype=np.uint8), rng.integers(0, 2, 40),
                 tmp_path / "mnist", "train", 1 << 30)  # shards of images: no input map
    board = ["--board", "virtual:rp2040", "-q"]
    assert main(["deploy", "--no-entry"] + board) == 0
    from udfa_host.link import Board
    for name in ("a", "b", "mnist"):
        assert main(["push", "--prune", name] + board) == 0
        with Board.open("virtual:rp2040") as b:
            there = b.get("data/train.udfp") if b.exists("data/train.udfp") else None
        assert there == ((tmp_path / name / "input-map.udfp").read_bytes()
                         if name != "mnist" else None), name
