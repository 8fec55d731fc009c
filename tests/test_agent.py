# Board agent, feed and checkpoints: the same training under every interpreter and the
# numpy kernel, and resume after an interruption ends with the same weights; for both rules,
# DFA (an MLP) and LES (a CNN), through the same agent.train.
import json
import shutil

import numpy as np
import pytest

import agent_train
import synth
from conftest import ROOT, kernels_of, run_device
from udfa import checkpoint
from udfa.dfa import DFA
from udfa.model import Model, ModelError, load
from udfa_host import conv_numpy, kernels_numpy
from udfa_host.shards import write_shards

SCRIPT = ROOT / "tests" / "board" / "agent_train.py"
RULES = sorted(agent_train.NETS)


@pytest.fixture
def shard_dir(tmp_path):
    data, labels = synth.dataset(110, 48, 5, 21)
    x = np.frombuffer(bytes(data), np.uint8).reshape(110, 6, 8)
    y = np.frombuffer(bytes(labels), np.uint8)
    write_shards(x[:60], y[:60], tmp_path, "a", 1 << 20, n_classes=5)[0].rename(tmp_path / "a.uds")
    write_shards(x[60:], y[60:], tmp_path, "b", 1 << 20, n_classes=5)[0].rename(tmp_path / "b.uds")
    return tmp_path


def lines(out, event):
    """The reports of one kind, without the board's clock ("ms"), which differs run to run."""
    found = [json.loads(l[5:]) for l in out.splitlines() if l.startswith("UDFA ")]
    return [dict((k, v) for k, v in e.items() if k != "ms") for e in found
            if e["event"] == event]


@pytest.mark.parametrize("rule", RULES)
def test_training_is_identical_everywhere(shard_dir, interp, rule, monkeypatch):
    """The agent under each interpreter ends with the weights the host's numpy kernel (and,
    for a CNN, the numpy conv ops) computes from the same shards in the same order."""
    out = run_device(interp, SCRIPT, shard_dir, "fresh", 3, rule)
    monkeypatch.chdir(shard_dir)
    host = agent_train.run(rule, 3, True, kernel=kernels_numpy, ops=conv_numpy)
    assert out.splitlines()[-1] == host
    assert [e["epoch"] for e in lines(out, "epoch")] == [0, 1, 2]
    # it really learned the synthetic classes (5: chance is 2000 basis points)
    assert lines(out, "epoch")[-1]["train_bp"] > {"dfa": 9000, "les": 6000, "frozen": 4000}[rule]
    assert lines(out, "start")[0]["samples"] == 110
    assert lines(out, "start")[0]["rule"] == ("les" if rule == "les" else "dfa")
    # the fastest kernel here trains both rules (a CNN too: viper, with its conv ops), but
    # a CNN not on ulab (CircuitPython: an MLP on ulab, a CNN on plain)
    have = [k for k in kernels_of(interp) if rule != "les" or k != "ulab"]
    assert lines(out, "start")[0]["kernel"] == "udfa.kernels." + have[0]


# Train (or evaluate) through the agent with a named kernel: argv = tests/board, the shard
# folder, the rule, epochs, the kernel; "eval" as the rule evaluates ckpt.udfa instead.
AGENT_KERNEL = """
import os
import sys
sys.path.append(sys.argv[1])
import agent_train
from udfa import agent
os.chdir(sys.argv[2])
if sys.argv[3] == "eval":
    for batch in (1, 4):
        agent.evaluate(["a.uds", "b.uds"], batch=batch, kernel=sys.argv[5])
else:
    print(agent_train.run(sys.argv[3], int(sys.argv[4]), True, kernel=sys.argv[5]))
"""
_host = {}  # rule -> the numpy kernel's result (the shards are the same in every test)


@pytest.mark.parametrize("kernel", ["viper", "ulab", "plain"])
def test_mlp_trains_alike_on_every_kernel(shard_dir, interp, kernel, tmp_path, monkeypatch):
    """agent.train with each kernel an interpreter has, named explicitly (ulab and plain on
    CircuitPython's builds), ends with the host's weights byte for byte."""
    if kernel not in kernels_of(interp):
        pytest.skip("no %s kernel under %s" % (kernel, interp))
    script = tmp_path / "agent_kernel.py"
    script.write_text(AGENT_KERNEL)
    out = run_device(interp, script, SCRIPT.parent, shard_dir, "dfa", 2, kernel)
    assert lines(out, "start")[0]["kernel"] == "udfa.kernels." + kernel
    if "dfa" not in _host:
        monkeypatch.chdir(shard_dir)
        _host["dfa"] = agent_train.run("dfa", 2, True, kernel=kernels_numpy)
    assert out.splitlines()[-1] == _host["dfa"]


def test_frozen_layers_keep_their_bytes(shard_dir, interp):
    """train_layers [0, -1]: the middle layer ends as it was created, byte for byte (under
    each interpreter), the others learn; a layer that is not there is refused."""
    out = run_device(interp, SCRIPT, shard_dir, "fresh", 2, "frozen")
    assert lines(out, "epoch")
    start = load(str(shard_dir / "model.udfa")).layers
    end = checkpoint.load(str(shard_dir / "ckpt.udfa"))[0].layers
    same = [bytes(a.W) + bytes(a.b) == bytes(b.W) + bytes(b.b) for a, b in zip(start, end)]
    assert same == [False, True, False]
    for bad in ([3], [-4], []):
        with pytest.raises(ValueError, match="train_layers"):
            DFA(checkpoint.load(str(shard_dir / "ckpt.udfa"))[0], kernels_numpy, 8,
                train_layers=bad)


def test_cnn_predicts_alike_on_every_kernel(shard_dir, interp, tmp_path):
    """A CNN trained on CPython evaluates to the same confusion matrix on every kernel of
    every interpreter (ulab on CircuitPython included), batch 1 and 4."""
    script = tmp_path / "agent_kernel.py"
    script.write_text(AGENT_KERNEL)
    run_device("cpython", SCRIPT, shard_dir, "fresh", 1, "les")
    want = lines(run_device("cpython", script, SCRIPT.parent, shard_dir, "eval", 0, "plain"),
                 "eval")
    assert len(want) == 2 and want[0] == want[1] and want[0]["total"] == 110
    for kernel in kernels_of(interp):
        out = run_device(interp, script, SCRIPT.parent, shard_dir, "eval", 0, kernel)
        assert lines(out, "eval") == want, kernel


@pytest.mark.parametrize("rule", RULES)
def test_resume_mid_epoch_and_after_epochs(shard_dir, rule):
    straight = run_device("cpython", SCRIPT, shard_dir, "fresh", 3, rule).splitlines()[-1]
    # the run left ckpt.udfa (final) and ckpt.udfa.old (24 samples earlier, mid-epoch 3):
    # lose the final one as if power had failed while writing it, then resume.
    (shard_dir / "ckpt.udfa").write_bytes(b"partial")
    old = checkpoint.restore(str(shard_dir / "ckpt.udfa"))[1]
    assert old["epoch"] == 2 and 0 < old["next"] < 110
    out = run_device("cpython", SCRIPT, shard_dir, "resume", 3, rule)
    assert lines(out, "start")[0]["next"] == old["next"]
    assert out.splitlines()[-1] == straight
    # stopping after 2 epochs, then asking for 3, also ends with the same weights
    run_device("cpython", SCRIPT, shard_dir, "fresh", 2, rule)
    assert run_device("cpython", SCRIPT, shard_dir, "resume", 3, rule).splitlines()[-1] == \
        straight


def test_cnn_settings_kernel_and_decay(shard_dir, monkeypatch):
    """A CNN takes LES's settings only, trains on viper or plain (not ulab), and its learning rates
    (per block and per head) slow down by one shift every `decay` epochs."""
    from udfa import agent
    from udfa.kernels import plain
    from udfa.model import load
    monkeypatch.chdir(shard_dir)
    agent.create("cnn.udfa", "c4k3p2-c6k3-f5", shape=(6, 8, 1))
    with pytest.raises(ValueError, match="cnn.udfa holds a CNN, trained by LES, which takes "
                       "no setting 'fb_shift'"):
        agent.train(["a.uds"], model="cnn.udfa", fb_shift=6, fresh=True)
    with pytest.raises(ValueError, match="native, viper or plain kernel, not ulab"):
        agent.train(["a.uds"], model="cnn.udfa", kernel="ulab", fresh=True)
    with pytest.raises(ValueError, match="input shape"):
        agent.create("cnn.udfa", "c4k3p2-c6k3-f5")
    settings = agent._settings(True, {"lr_shift": [15, 12], "head_lr_shift": 10}, "cnn.udfa")
    net = agent._trainer(load("cnn.udfa"), plain, None, 1, settings)
    agent._set_rates(net, settings, 2)
    assert net.lr_shift == [17, 14] and net.head_lr_shift == [12, 12]
    agent._set_rates(net, dict(settings, head_lr_shift=None), 1)
    assert net.lr_shift == [16, 13] == net.head_lr_shift


def test_resume_refuses_other_settings(shard_dir):
    run_device("cpython", SCRIPT, shard_dir, "fresh", 1)
    shutil.copy(shard_dir / "b.uds", shard_dir / "c.uds")
    from udfa import agent
    with pytest.raises(ValueError, match="other settings"):
        agent.train([str(shard_dir / "a.uds")], ckpt=str(shard_dir / "ckpt.udfa"))


def test_resume_takes_a_checkpoint_older_than_a_setting(tmp_path, monkeypatch):
    """A checkpoint saved before a setting existed (train_layers) resumes with its default."""
    from udfa import agent, checkpoint
    from udfa.kernels import plain
    monkeypatch.chdir(tmp_path)
    write_shards(np.arange(6 * 40, dtype=np.uint8).reshape(40, 1, 6, 1) % 200,
                 np.arange(40) % 3, tmp_path, "t", 1 << 20, n_classes=3)
    agent.create("m.udfa", [6, 4, 3])
    run = dict(epochs=1, batch=4, kernel=plain, ckpt="c.udfa", lr_shift=10)
    agent.train("t", "m.udfa", fresh=True, **run)
    model, state = checkpoint.load("c.udfa")
    del state["config"]["train_layers"]  # as an older udfa saved it
    checkpoint.save("c.udfa", model, state)
    agent.train("t", "m.udfa", **dict(run, epochs=2))
    assert checkpoint.load("c.udfa")[1]["epoch"] == 2


def test_checkpoint_survives_damage(tmp_path):
    m = Model([6, 3], ["tanh"], seed=2)
    path = str(tmp_path / "c.udfa")
    checkpoint.save(path, m, {"seen": 10})
    m.layers[0].W[0] = 77
    checkpoint.save(path, m, {"seen": 20})
    assert checkpoint.restore(path)[1]["seen"] == 20
    data = bytearray((tmp_path / "c.udfa").read_bytes())
    data[-3] ^= 0xFF  # damage the state of the newest
    (tmp_path / "c.udfa").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged"):
        checkpoint.load(path)
    model, state = checkpoint.restore(path)
    assert state["seen"] == 10 and model.layers[0].W[0] == 0


def test_shards_by_prefix_train_like_the_list(shard_dir, monkeypatch):
    from udfa import agent
    from udfa.checksum import crc32
    monkeypatch.chdir(shard_dir)
    (shard_dir / "a.uds").rename(shard_dir / "p-000.uds")
    (shard_dir / "b.uds").rename(shard_dir / "p-001.uds")
    crcs = []
    for shards in (["p-000.uds", "p-001.uds"], "p"):
        agent.create("model.udfa", [48, 16, 5], ["tanh", "tanh"], seed=4, init=30)
        agent.train(shards, epochs=2, batch=8, lr_shift=13, fresh=True)
        model, state = checkpoint.load("ckpt.udfa")
        assert state["config"]["shards"] == shards and state["seen"] == 220
        crcs.append(crc32(model.layers[0].W))
    assert crcs[0] == crcs[1]
    with pytest.raises(ValueError, match="no shards q"):
        agent.train("q", fresh=True)
