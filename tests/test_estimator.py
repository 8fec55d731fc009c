# udfa_host.Classifier: bit-exact with the board agent on the same shards, its saved model
# predicts on the device code (input map included) as the PC does, scikit-learn's contract
# (Pipeline, cross_val_score, clone, check_estimator), partial_fit and the validation split.
import contextlib
import io

import numpy as np
import pytest

from udfa import agent, checkpoint
from udfa.kernels import plain
from udfa.model import load
from udfa.network import Network
from udfa_host import Classifier, preprocess
from udfa_host.fit import split_validation
from udfa_host.shards import write_shards

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def blobs(n=240, seed=0, features=5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 1.0, (n, features)) + np.eye(3, features)[y] * 4 + 10
    if features == 1:  # the classes along the one axis
        x[:, 0] += y * 4
    return x, np.array(["red", "green", "blue"])[y]


@pytest.mark.parametrize("features", [5, 1])
def test_weights_equal_the_board_agent(tmp_path, features):
    x, y = blobs(120, features=features)
    clf = Classifier(hidden=12, epochs=2, batch=8, lr_shift=14, validation=0, seed=3).fit(x, y)
    # the board's way: the same input map, shards, model and agent.train, plain kernel
    prep = preprocess.fit(x)
    labels = np.searchsorted(clf.classes_, y)
    shards = [str(p) for p in write_shards(
        preprocess.apply(prep, x).reshape(120, 1, features, 1), labels, tmp_path, "train",
        1 << 30, n_classes=3)]
    with contextlib.redirect_stdout(io.StringIO()):
        agent.create(str(tmp_path / "m.udfa"), [features, 12, 3], ["tanh", "tanh"], None, 3)
        agent.train(shards, str(tmp_path / "m.udfa"), 2, 8, 10 ** 6, kernel=plain,
                    ckpt=str(tmp_path / "ck.udfa"), lr_shift=14, fb_shift=6,
                    target=[127, -127])
    board, _ = checkpoint.load(str(tmp_path / "ck.udfa"))
    for mine, theirs in zip(clf.model_.layers, board.layers):
        assert list(mine.W) == list(theirs.W) and list(mine.b) == list(theirs.b)
    assert any(any(l.W) for l in board.layers)


def test_one_feature():
    x = np.random.default_rng(0).normal(20, 5, (300, 1))  # one sensor: above a threshold?
    y = np.where(x[:, 0] > 22, "hot", "ok")
    assert Classifier(seed=1, epochs=20).fit(x[:240], y[:240]).score(x[240:], y[240:]) > 0.95


def test_saved_model_predicts_on_the_device_code(tmp_path):
    x, y = blobs()
    clf = Classifier(hidden=16, epochs=5, seed=1).fit(x[:200], y[:200])
    assert clf.score(x[200:], y[200:]) > 0.9
    clf.save(tmp_path / "m.udfa")
    model = load(str(tmp_path / "m.udfa"))
    p = model.prep
    assert p.names == ["blue", "green", "red"] and p.shape == (1, 5, 1)
    # on the board: a reading as fixed-point ints -> udfa.prep -> the plain kernel
    net = Network(model, plain, 1)
    row = plain.buffer(1, 5, "B")
    readings = preprocess.to_fixed(x[200:], p.frac)
    board = []
    for r in readings:
        p.apply([int(v) for v in r], row)  # straight into the network's input buffer
        board.append(p.names[net.predict(row, 1)[0]])
    assert board == list(clf.predict(x[200:]))


def test_pipeline_cross_val_and_clone():
    x, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), Classifier(hidden=16, epochs=40))
    scores = cross_val_score(pipe, x, y, cv=3)
    assert scores.min() > 0.85
    c = Classifier(hidden=7, rule="les")
    assert clone(c).get_params() == c.get_params()
    assert c.set_params(epochs=3).epochs == 3 and not hasattr(c, "model_")


def test_les_and_decision_function():
    x, y = blobs()
    clf = Classifier(rule="les", hidden=16, epochs=4).fit(x[:200], y[:200])
    assert clf.score(x[200:], y[200:]) > 0.8
    d = clf.decision_function(x[200:])
    assert d.shape == (40, 3) and (clf.classes_[d.argmax(1)] == clf.predict(x[200:])).mean() > 0.9


def test_partial_fit_continues():
    x, y = blobs()
    clf = Classifier(hidden=16, lr_shift=13)
    clf.partial_fit(x[:100], y[:100], classes=["blue", "green", "red"])
    first = [list(l.W) for l in clf.model_.layers]
    clf.partial_fit(x[100:200], y[100:200])
    assert [list(l.W) for l in clf.model_.layers] != first
    for _ in range(8):  # an epoch a call
        clf.partial_fit(x[:200], y[:200])
    assert clf.score(x[200:], y[200:]) > 0.9
    with pytest.raises(ValueError, match="X has 4 features"):
        clf.partial_fit(x[:10, :4], y[:10])


def test_validation_split_is_stratified_and_seeded():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val = split_validation(y, 0.1, 7)
    assert np.bincount(y[val]).tolist() == [5, 3, 2]
    assert sorted(np.r_[train, val].tolist()) == list(range(100))
    assert split_validation(y, 0.1, 7)[1].tolist() == val.tolist()
    assert split_validation(y, 0.1, 8)[1].tolist() != val.tolist()


def test_check_estimator():
    """scikit-learn's own checks, all of them: none is skipped. (check_array_api_input and
    the pandas checks skip themselves when SCIPY_ARRAY_API or pandas is absent.) A few
    epochs keep it short; check_classifiers_train needs > 83 % train accuracy, which 10
    epochs of 16 hidden units give."""
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(Classifier(epochs=10, hidden=16), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert not failed
