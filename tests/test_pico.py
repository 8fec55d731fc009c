"""Runs on the PC (pytest): udfa on the emulated Raspberry Pi Pico (../shared/pico: an RP2040
emulator running the real MicroPython and CircuitPython firmwares, reached over its serial port
exactly as a Pico on USB). Each firmware boots once, on a fresh flash, through `udfa board
start --pico` (CircuitPython with udfa copied onto its CIRCUITPY drive first, as a user would);
then the device scripts run there and must print what CPython prints, and the board workflow
(deploy, push, train, pull, eval) gives the host's weights. Small sample counts: the emulator
runs at about 0.4x a real Pico, and plain loops train a few samples a second there.
"""
import json
from pathlib import Path

import pytest

from conftest import (CIRCUITPY_MPY_CROSS, DEVICE_TESTS, PICO_EMU, ROOT, pico_missing,
                      run_device)
from test_cli import weights
from udfa import agent, checkpoint
from udfa_host import board_train, cli, conv_numpy, deploy, kernels_numpy
from udfa_host.boards import load_profile
from udfa_host.link import Board

DEMO = ROOT / "data" / "mnist-demo"
# Device scripts run on the board (the others take too long there: a benchmark's job) and the
# helper modules they import, copied to the board's lib/.
SCRIPTS = ("kernel_exact.py", "kernel_noalloc.py", "train_exact.py")
HELPERS = ("synth.py", "train_exact.py")
# what a script prints beyond its .exp where the native kernel runs: on the MicroPython Pico,
# whose udfa_native.mpy udfa deploy sends (the x86 runs have none on their path)
NATIVE_LINES = {
    ("micropython", "kernel_noalloc.py"): "native: 0 bytes allocated over 20 steps\n"}
PROFILES = {"micropython": ("rp2040", "rp2040-cnn"), "circuitpython": ("circuitpython-rp2040",)}
# The script runs inside exec(), so that its SystemExit after a SKIP does not soft-reset the
# board; its prints to stderr come back marked, to be told from its stdout.
_RUN = """import sys
def _print(*a, sep=' ', end='\\n', file=None):
    print(*a, sep=sep, end=end) if file is not sys.stderr else None
try:
    exec(%r, {'__name__': '__main__', 'print': _print})
except SystemExit:
    pass
"""


@pytest.fixture(scope="module", params=["micropython", "circuitpython"])
def pico(request, tmp_path_factory):
    """A booted emulated Pico with udfa deployed and the test helpers in its lib/; yields
    (port, firmware). The board's flash is new for each firmware."""
    firmware = request.param
    why = pico_missing(firmware)
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("pico-" + firmware)
    port = str(tmp / "port")
    start = ["board", "start", "--pico", firmware, "--emulator", str(PICO_EMU), "--port", port,
             "--fresh"]
    if firmware == "circuitpython":  # what a user copies onto the CIRCUITPY drive
        (tmp / "drive").mkdir()
        deploy.deploy_drive(tmp / "drive", mpy_cross=CIRCUITPY_MPY_CROSS)
        start += ["--drive", str(tmp / "drive")]
    assert cli.main(start) == 0
    try:
        with Board.open(port) as board:
            sent, _ = deploy.deploy(board, quiet=True, mpy_cross=CIRCUITPY_MPY_CROSS)
            # CircuitPython got everything through its drive
            assert (sent == []) == (firmware == "circuitpython")
            for name in HELPERS:
                board.put(DEVICE_TESTS / name, "lib/" + name)
        yield port, firmware
    finally:
        cli.main(["board", "stop", "--port", port])


def on_board(port, script):
    """What a device script prints on the board (its stdout), after a soft reset."""
    with Board.open(port) as board:
        board.soft_reset()
        return board.exec(_RUN % (DEVICE_TESTS / script).read_text(), timeout=900)


@pytest.mark.parametrize("script", SCRIPTS)
def test_device_script_on_the_pico(pico, script):
    port, firmware = pico
    out = on_board(port, script)
    if out.startswith("SKIP"):  # "SKIP reason"
        pytest.skip("%s on the %s firmware: %s" % (script, firmware, out[4:].strip()))
    exp = DEVICE_TESTS / (script + ".exp")
    expected = exp.read_text() if exp.exists() else run_device("cpython", DEVICE_TESTS / script)
    assert out == expected + NATIVE_LINES.get((firmware, script), "")


def test_the_profiles_heap_is_the_firmwares_free_heap(pico):
    """A profile's heap (what its virtual boards run with) is what the real firmware leaves
    free after a reset, within 2 KB."""
    port, firmware = pico
    with Board.open(port) as board:
        board.soft_reset()
        free = board.eval("__import__('gc').mem_free()")
    for name in PROFILES[firmware]:
        assert abs(load_profile(name)["heap_bytes"] - free) < 2048, (name, free)


def host_weights(shards, profile, setup, cnn):
    """The weights the host's numpy kernel reaches on the same shards and settings."""
    agent.create("host.udfa", **board_train.network(profile))
    agent.train(str(shards / "train"), model="host.udfa", ckpt="host-ckpt.udfa", fresh=True,
                kernel=kernels_numpy, ops=conv_numpy if cnn else None,
                **{k: v for k, v in setup.items() if k in board_train.TRAIN_KEYS})
    return weights(checkpoint.load("host-ckpt.udfa")[0])


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_board_workflow_on_the_pico(pico, kind, tmp_path, monkeypatch):
    """prepare, push, train, pull and eval through `udfa` on the board's port: the board's
    weights equal the host's, the board's heap stays clear of its limit, and its own
    evaluation equals the PC's."""
    port, firmware = pico
    monkeypatch.chdir(tmp_path)
    name = "rp2040-cnn" if kind == "cnn" else (
        "circuitpython-rp2040" if firmware == "circuitpython" else "rp2040")
    samples = {("mlp", "micropython"): 96, ("mlp", "circuitpython"): 16,
               ("cnn", "micropython"): 16, ("cnn", "circuitpython"): 2}[kind, firmware]
    for split, n in (("train", samples), ("test", 8)):
        cli.run(["prepare", "--data", str(DEMO), "--split", split, "--limit", str(n),
                 "--profile", name, "--out", "shards"])
    board = ["--board", port, "--profile", name, "-q"]
    assert cli.main(["push", "shards", "--prune"] + board) == 0
    assert cli.main(["train", "--fresh", "--epochs", "1", "--every", "8"] + board) == 0
    events = [json.loads(line) for line in Path("train.jsonl").read_text().splitlines()]
    start, done = events[0], events[-1]
    assert start["event"] == "start" and done["event"] == "done"
    # the profile's first kernel that runs there: native on MicroPython, plain on CircuitPython
    fastest = {"micropython": "native", "circuitpython": "plain"}[firmware]
    assert start["kernel"] == "udfa.kernels." + fastest
    assert start["free"] > 20000  # bytes of heap left while training
    assert cli.main(["pull", "--out", "board.udfa"] + board) == 0

    profile = load_profile(name)
    setup = board_train.settings(profile, {"epochs": 1, "every": 8})
    assert weights(cli.load_model_file("board.udfa")) == host_weights(
        Path("shards"), profile, setup, kind == "cnn")
    with Board.open(port) as b:
        b.soft_reset()  # the model and buffers in one piece, as for training
        out = b.exec("from udfa import agent\nagent.evaluate('data/test')", timeout=600)
    on_board_eval = json.loads(out.split("UDFA ")[-1])
    assert cli.main(["eval", "board.udfa", "--shards", "shards/test-000.uds", "--out",
                     "test.json"]) == 0
    assert on_board_eval["confusion"] == json.loads(Path("test.json").read_text())["confusion"]
