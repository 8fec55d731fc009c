"""The on-board Learner (device/udfa/learner.py): equal to DFA under every interpreter and
kernel, resumable mid-batch, add_class, no allocation per call, clear errors."""
import pytest

from conftest import DEVICE_TESTS, run_device
from udfa.learner import Learner
from udfa.model import ModelError


def _blocks(out):
    """kernel -> its lines without the kernel name (the alloc line dropped: CPython has none)."""
    blocks = {}
    for line in out.splitlines():
        name, rest = line.split(" ", 1)
        if not rest.startswith("alloc"):
            blocks.setdefault(name, []).append(rest)
    return blocks


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = run_device("cpython", DEVICE_TESTS / "learner_exact.py", tmp_path_factory.mktemp("l"))
    return _blocks(out)["plain"]


def test_learner_equals_dfa_everywhere(interp, tmp_path, reference):
    out = run_device(interp, DEVICE_TESTS / "learner_exact.py", tmp_path)
    assert "damaged" not in out  # the first save leaves no plain model as PATH.old
    blocks = _blocks(out)
    assert "plain" in blocks
    for kernel, lines in blocks.items():
        assert lines == reference, kernel  # same weights, counters and checks as CPython
    assert reference[0].startswith("learner==dfa True")
    assert "resumed seen fill 43 3" in reference
    assert "resumed==dfa True" in reference
    assert "add_class 4 (24, 16, 12, 5) True True True" in reference
    assert "grown reopened==kept True (24, 16, 12, 5)" in reference
    for line in out.splitlines():  # learn and predict allocate nothing (plain, viper)
        if " alloc " in line:
            assert line.endswith(" alloc 0"), line


def test_learner_learns_and_saves(tmp_path):
    path = str(tmp_path / "m.udfa")
    l = Learner.create(path, [4, 8, 2], kernel="plain", batch=4, lr_shift=10)
    for i in range(400):  # class = which half is bright
        c = i % 2
        l.learn(bytes([200, 200, 0, 0]) if c else bytes([0, 0, 200, 200]), c)
    assert l.predict(bytes([210, 190, 5, 0]))[0] == 1
    cls, scores = l.predict(bytearray([0, 10, 220, 180]))
    assert cls == 0 and scores[0] > scores[1]
    l.learn(bytes(4), 0)
    l.save()
    again = Learner(path, kernel="plain")
    assert (again.seen, again.fill, again.config["lr_shift"]) == (401, 1, 10)
    assert list(again.model.layers[0].W) == list(l.model.layers[0].W)


def test_learner_errors(tmp_path):
    path = str(tmp_path / "m.udfa")
    l = Learner.create(path, [4, 3, 2], kernel="plain")
    with pytest.raises(ValueError, match="label 2; the model .*m.udfa has classes 0..1"):
        l.learn(bytes(4), 2)
    with pytest.raises(ValueError, match="a sample of 5 values; the model .* takes 4"):
        l.predict(bytes(5))
    with pytest.raises(ValueError, match="no setting 'lr'"):
        Learner(path, lr=3)
    with pytest.raises(ModelError, match="not found"):
        Learner(str(tmp_path / "none.udfa"))
    assert l.add_class() == 2
    l.learn(bytes(4), 2)  # the new class is a valid label now
