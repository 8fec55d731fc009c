# Runs on the PC under pytest: damaged input, seeded and bounded. The device readers (shards,
# models of both versions, checkpoints) under the 32-bit MicroPython build and CPython
# (tests/device/fuzz_readers.py), the host's IDX and shard readers in process, and the
# checkpoint fallbacks of agent.train. Longer runs: tools/fuzz.py --minutes N.
import gzip
import os
import re
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from conftest import DEVICE_TESTS, INTERPRETERS, run_device
from udfa import agent, checkpoint
from udfa.conv import ConvModel
from udfa.model import Model, ModelError, load
from udfa.rng import XorShift32
from udfa_host.idx import DataError, read_idx, write_idx
from udfa_host.shards import read_shard, write_shards

import synth

BOARD = "micropython-ulab-32"
FRESH = "fresh=True ('udfa train --fresh')"


def fuzz(interp, seed, count):
    out = run_device(interp, DEVICE_TESTS / "fuzz_readers.py", seed, count, timeout=120)
    assert "BAD" not in out, out
    return out


@pytest.mark.parametrize("interp", [i for i in ("cpython", BOARD) if i in INTERPRETERS])
def test_damaged_files_are_refused_or_read_back_exactly(interp):
    out = fuzz(interp, 2, 12)
    total = dict(re.findall(r"(\w+) (\d+)", out.splitlines()[-1].split(": ", 1)[1]))
    assert set(total) <= {"ok", "refused", "valid", "fallback"}
    assert int(total["refused"]) > 150 and int(total["fallback"]) > 100
    if interp != "cpython":  # the board build decides every case as CPython does
        assert out == fuzz("cpython", 2, 12)


def mutants(data, rng, n):
    """n damaged copies of data: bit flips, cuts, appended bytes, torn tails."""
    for i in range(n):
        d = bytearray(data)
        how = i % 4
        if how == 0:
            d[rng.below(len(d))] ^= 1 << rng.below(8)
        elif how == 1:
            del d[rng.below(len(d)):]
        elif how == 2:
            d += bytes(1 + rng.below(5))
        else:
            cut = rng.below(len(d))
            d[cut:] = bytes([rng.below(256) for _ in range(len(d) - cut)])
        yield bytes(d)


@pytest.mark.parametrize("gz", [False, True])
def test_damaged_idx_files_are_refused_or_read_back(tmp_path, gz):
    images = np.arange(6 * 5 * 4, dtype=np.uint8).reshape(6, 5, 4)
    path = tmp_path / ("i.gz" if gz else "i")
    write_idx(path, images)
    good = path.read_bytes()
    accepted = 0
    for d in mutants(good, XorShift32(5), 300):
        path.write_bytes(d)
        try:
            got = read_idx(path)
        except DataError:
            continue
        accepted += 1
        # a plain file's changed pixels read back as such; a gzip file is checked by its CRC
        assert got.shape == images.shape and (not gz or np.array_equal(got, images))
    assert accepted < 150


def test_idx_header_extremes_are_refused_before_allocating(tmp_path, monkeypatch):
    path = tmp_path / "huge"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 0xFFFFFFFF, 0xFFFFFFFF, 9))
    with pytest.raises(DataError, match="the file is truncated"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 8, 200]) + bytes(800))
    with pytest.raises(DataError, match="200 dimensions"):
        read_idx(path)
    # a gzip bomb: refused while it inflates, at the limit
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 1 << 20)
                                   + bytes(1 << 20)))
    import udfa_host.idx as idx
    monkeypatch.setattr(idx, "MAX_BYTES", 1 << 16)
    with pytest.raises(DataError, match="inflates to more than 65536 bytes"):
        read_idx(path)


def test_damaged_shards_on_the_host(tmp_path):
    x, labels = synth.dataset(40, 48, 5, 3)
    path = write_shards(np.frombuffer(bytes(x), np.uint8).reshape(40, 6, 8),
                        np.frombuffer(bytes(labels), np.uint8), tmp_path, "s", 10 ** 6, 5)[0]
    good = path.read_bytes()
    want = read_shard(path)[0]
    from udfa.shard import ShardError
    for d in mutants(good, XorShift32(9), 200):
        path.write_bytes(d)
        try:
            got = read_shard(path)[0]
        except ShardError:
            continue
        assert d == good and np.array_equal(got, want)


def test_a_tiny_file_claiming_a_huge_layer_allocates_nothing_big(tmp_path):
    path = tmp_path / "huge.udfa"
    head = struct.pack("<4sBBHI", b"UDFM", 1, 1, 255, 1) + struct.pack("<HHBBH", 65535, 65535,
                                                                       0, 14, 0)
    path.write_bytes(head + struct.pack("<I", zlib.crc32(head)) + bytes(4))  # 28 bytes
    assert path.stat().st_size == 28
    tracemalloc.start()
    with pytest.raises(ModelError, match=r"huge.udfa is damaged \(layer 0 is 65535x65535"):
        load(str(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16384


@pytest.mark.parametrize("spec, words", [
    ("c8k3p0-f10", "pool 1..15"), ("c8k2p2-f10", "odd k"), ("c8k3p2g0-c8k3-f10", "head grid"),
    ("c8k3p2-f0", "does not match its spec"), ("x9-f10", "bad layer")])
def test_a_bad_cnn_spec_in_a_file_is_a_clear_error(tmp_path, spec, words):
    good = ConvModel("c8k3p2-c8k3p2-f10", (8, 8, 1), 255, 1)
    path = tmp_path / "c.udfa"
    good.save(str(path))
    data = bytearray(path.read_bytes())
    old = good.spec.encode()
    new = spec.encode()
    at = data.index(old)
    data[at - 1:at + len(old)] = bytes([len(new)]) + new
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"c.udfa is damaged \(.*%s" % re.escape(words)):
        load(str(path))


@pytest.mark.parametrize("state, words", [
    (b'{"epoch": "1", "next": 0, "seen": 0, "config": {}, "rounding": null}', "'epoch' is '1'"),
    (b'{"epoch": 1, "next": 0, "seen": 0, "config": {}, "rounding": 7}', "'rounding' is 7"),
    (b'{"epoch": 1, "next": 0, "seen": 0, "config": [], "rounding": null}', "'config' is []"),
    (b'{"epoch": 1, "seen": 0, "config": {}}', "no field 'next'"),
    (b'\xff\xfe{', "not a JSON object"), (b"[1, 2]", "not a JSON object")])
def test_a_checkpoint_state_of_the_wrong_form_is_refused(tmp_path, state, words):
    path = str(tmp_path / "c.udfa")
    m = Model([6, 3], ["tanh"])
    with open(path, "wb") as f:
        m.write(f)
        f.write(struct.pack("<HI", len(state), zlib.crc32(state)) + state)
    with pytest.raises(ModelError, match=re.escape(words)):
        checkpoint.load(path, tuple(checkpoint.STATE_FIELDS))


def test_a_failed_save_leaves_the_last_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / "c.udfa")
    m = Model([6, 3], ["tanh"])
    checkpoint.save(path, m, {"seen": 1})
    kept = open(path, "rb").read()

    def full_flash(f):
        f.write(b"UDFM partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(m, "write", full_flash)
    with pytest.raises(OSError):
        checkpoint.save(path, m, {"seen": 2})
    assert sorted(os.listdir(tmp_path)) == ["c.udfa"]
    assert open(path, "rb").read() == kept


def tear(path, rng):
    """Leave path as a power cut mid-write of a 4 KB flash page does: garbage after a byte
    of the page holding the middle of the file."""
    data = bytearray(open(path, "rb").read())
    page = (len(data) // 2) & ~4095
    cut = page + rng.below(min(4096, len(data) - page))
    data[cut:page + 4096] = bytes([0xFF] * (min(len(data), page + 4096) - cut))
    open(path, "wb").write(bytes(data))


@pytest.fixture
def shard_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, labels = synth.dataset(120, 48, 5, 8)
    write_shards(np.frombuffer(bytes(x), np.uint8).reshape(120, 6, 8),
                 np.frombuffer(bytes(labels), np.uint8), tmp_path, "s", 3000, 5)
    agent.create("model.udfa", [48, 40, 5], ["tanh", "tanh"], seed=4, init=30)
    return dict(shards="s", epochs=3, batch=8, lr_shift=13, every=24, kernel="plain")


class PowerCut(Exception):
    pass


def test_a_damaged_newest_checkpoint_resumes_from_the_one_before(shard_files, monkeypatch,
                                                                 capsys):
    agent.train(fresh=True, **shard_files)
    straight = checkpoint.load("ckpt.udfa")
    save = checkpoint.save
    saves = []

    def cut_power_after_the_7th_save(*args):  # in epoch 2 (5 saves an epoch)
        save(*args)
        saves.append(1)
        if len(saves) == 7:
            raise PowerCut()

    monkeypatch.setattr(checkpoint, "save", cut_power_after_the_7th_save)
    with pytest.raises(PowerCut):
        agent.train(fresh=True, **shard_files)
    monkeypatch.setattr(checkpoint, "save", save)
    newest = checkpoint.load("ckpt.udfa")[1]
    assert (newest["epoch"], newest["next"]) == (1, 48)
    tear("ckpt.udfa", XorShift32(3))  # and the flash page of the newest was half written
    capsys.readouterr()
    agent.train(**shard_files)
    out = capsys.readouterr().out
    assert re.search(r"^udfa: ckpt.udfa is damaged \((CRC mismatch|truncated)[^)]*\): resuming "
                     r"from ckpt.udfa.old$", out, re.M), out
    assert '"epoch": 1, "next": 24' in out  # the start event: from the save before
    final = checkpoint.load("ckpt.udfa")
    assert final[1] == straight[1] and synth.weights_crc(final[0]) == synth.weights_crc(
        straight[0])


def test_when_every_checkpoint_is_damaged_training_stops(shard_files, capsys):
    agent.train(**dict(shard_files, epochs=1))
    agent.train(**dict(shard_files, epochs=2))  # ckpt.udfa and ckpt.udfa.old
    for p in ("ckpt.udfa", "ckpt.udfa.old"):
        tear(p, XorShift32(5))
    with pytest.raises(ModelError) as err:
        agent.train(**shard_files)
    msg = str(err.value)
    assert "ckpt.udfa is damaged" in msg and "ckpt.udfa.old is damaged" in msg
    assert FRESH in msg
    agent.train(fresh=True, **dict(shard_files, epochs=1))  # starts over when asked to
    assert checkpoint.load("ckpt.udfa")[1]["epoch"] == 1
    for p in ("ckpt.udfa", "ckpt.udfa.old"):
        os.remove(p)
    agent.train(**dict(shard_files, epochs=1))  # no checkpoint at all: a fresh start
    assert checkpoint.load("ckpt.udfa")[1]["epoch"] == 1


def test_a_fresh_run_is_not_shadowed_by_an_older_run_with_more_progress(shard_files):
    """restore() takes the checkpoint with the most progress among PATH, .new and .old: a run
    started over must not leave the last run's files there to win (evaluate and resume read
    restore())."""
    agent.train(fresh=True, **shard_files)
    agent.train(fresh=True, **dict(shard_files, epochs=1, every=10 ** 6))
    assert checkpoint.restore("ckpt.udfa")[1]["epoch"] == 1
    assert sorted(n for n in os.listdir(".") if n.startswith("ckpt")) == ["ckpt.udfa"]
