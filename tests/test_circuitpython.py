"""Runs on the PC (pytest): the board workflow through `udfa` on virtual CircuitPython boards,
CircuitPython's own unix builds (../shared/bin: ulab 6.5.3, no viper, its errors and files
as on a board) behind a pseudo-terminal: deploy, push, train, pull and the board's own
evaluation, for the MLP and the CNN profiles; the board's weights equal the host's."""
import json
import os
from pathlib import Path

import pytest

from conftest import CIRCUITPY_MPY_CROSS, INTERPRETERS, ROOT
from test_cli import weights
from test_pico import host_weights
from udfa_host import board_train, cli
from udfa_host.boards import load_profile
from udfa_host.link import Board

BUILDS = [b for b in ("circuitpython-ulab", "circuitpython-ulab-32") if b in INTERPRETERS]
# profile, training samples; the 64-bit build's objects take twice a board's memory
CASES = {"mlp": ("circuitpython-rp2040", 64), "cnn": ("rp2040-cnn", 8)}


@pytest.mark.skipif(not BUILDS, reason="no CircuitPython unix build in ../shared/bin")
@pytest.mark.skipif(not os.access(CIRCUITPY_MPY_CROSS, os.X_OK),
                    reason="no CircuitPython mpy-cross at %s" % CIRCUITPY_MPY_CROSS)
@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("kind", sorted(CASES))
def test_board_workflow_on_circuitpython(build, kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name, samples = CASES[kind]
    for split, n in (("train", samples), ("test", 16)):
        cli.run(["prepare", "--data", str(ROOT / "data" / "mnist-demo"), "--split", split,
                 "--limit", str(n), "--profile", name, "--out", "shards"])
    interpreter = INTERPRETERS[build][0]
    board = ["--board", "virtual:" + name, "--interpreter", interpreter, "--virtual-dir",
             str(tmp_path / "virtual"), "-q"]
    assert cli.main(["deploy", "--mpy-cross", CIRCUITPY_MPY_CROSS] + board) == 0
    lib = tmp_path / "virtual" / name / "lib" / "udfa"
    assert (lib / "agent.mpy").is_file() and not (lib / "kernels" / "viper.mpy").exists()
    assert (tmp_path / "virtual" / name / "code.py").is_file()  # CircuitPython's entry
    assert cli.main(["push", "shards"] + board) == 0
    assert cli.main(["train", "--fresh", "--epochs", "1", "--every", "8"] + board) == 0
    start = json.loads(Path("train.jsonl").read_text().splitlines()[0])
    assert start["kernel"] == "udfa.kernels.plain"  # the profiles' first that runs here
    assert cli.main(["pull", "--out", "board.udfa"] + board) == 0
    profile = load_profile(name)
    setup = board_train.settings(profile, {"epochs": 1, "every": 8})
    assert weights(cli.load_model_file("board.udfa")) == host_weights(
        Path("shards"), profile, setup, kind == "cnn")
    # ulab on the board-sized build; the 64-bit one's objects take twice the profile's heap
    kernel = "ulab" if build.endswith("-32") else "plain"
    with Board.open("virtual:" + name, str(tmp_path / "virtual"), interpreter) as b:
        out = b.exec("from udfa import agent\nagent.evaluate('data/test', kernel=%r)" % kernel,
                     timeout=300)
    on_board = json.loads(out.split("UDFA ")[-1])
    assert cli.main(["eval", "board.udfa", "--shards", "shards/test-000.uds", "--out",
                     "test.json"]) == 0
    assert on_board["confusion"] == json.loads(Path("test.json").read_text())["confusion"]
