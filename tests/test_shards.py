# Runs on the PC under pytest: shard writer and readers, and the device reader under CPython,
# MicroPython (unix port) and the 32-bit MicroPython build, which must all print the same.
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "device", ROOT / "host"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from udfa.shard import HEADER_LEN, MAX_SAMPLES, Shard, ShardError  # noqa: E402
from udfa_host.idx import downsample2x2, load_split  # noqa: E402
from udfa_host.shards import read_shard, shard_crc, write_shards  # noqa: E402

DEMO = ROOT / "data" / "mnist-demo"
MPY32 = ROOT.parent / "shared" / "bin" / "micropython-ulab-32"

# One line per shard: what it holds, or its ShardError. Runs unchanged on every interpreter.
DEVICE_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import gc
from udfa.checksum import crc32
from udfa.shard import Shard, ShardError


def alloc_of_one_pass(shard, buf):
    if not hasattr(gc, "mem_alloc"):
        return "SKIP (no gc.mem_alloc)"
    shard.rewind()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    while shard.read_next(buf) >= 0:
        pass
    shard.read(0, buf)
    used = gc.mem_alloc() - before
    gc.enable()
    return used


def describe(path):
    shard = Shard(path)
    buf = bytearray(shard.n_inputs)
    labels = bytearray(shard.count)
    pixels = 0
    for i in range(shard.count):
        labels[i] = shard.read_next(buf)
        pixels = crc32(buf, pixels)
    end = shard.read_next(buf)
    last = shard.read(shard.count - 1, buf)
    shard.verify(buf)
    try:
        shard.expect(196, 10)
        fits = "ok"
    except ShardError as e:
        fits = str(e)
    print("%s: count=%d shape=%s classes=%d labels=%08x pixels=%08x last=%d end=%d crc=%08x"
          % (path, shard.count, shard.shape, shard.n_classes, crc32(labels), pixels, last, end,
             shard.crc))
    print("%s: expect(196, 10): %s" % (path, fits))
    print("%s: alloc %s" % (path, alloc_of_one_pass(shard, buf)))
    shard.close()


for path in sys.argv[2:]:
    try:
        describe(path)
    except ShardError as e:
        print("%s: ShardError: %s" % (path, e))
"""


def _damage(src, dst, edits=None, cut=0, extra=b"", fix_crc=False):
    """Copy src to dst with bytes {offset: value} changed, cut bytes dropped from the end and
    extra bytes appended; fix_crc makes the trailer match the edited content."""
    data = bytearray(src.read_bytes())
    for offset, value in (edits or {}).items():
        data[offset] = value
    if fix_crc:
        data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    dst.write_bytes(bytes(data[:len(data) - cut]) + extra)
    return dst


@pytest.fixture(scope="module")
def demo():
    images, labels = load_split(DEMO, "test")
    return images[:300], labels[:300]


@pytest.fixture(scope="module")
def cases(tmp_path_factory, demo):
    """Shards for the cross-interpreter run: name -> path."""
    d = tmp_path_factory.mktemp("cases")
    images, labels = demo
    good = write_shards(images, labels, d, "good", 10 ** 6)[0]
    small = write_shards(downsample2x2(images[:40]), labels[:40], d, "small", 10 ** 6)[0]
    pixel = HEADER_LEN + 1 + 400  # a pixel of sample 0
    paths = {
        "good": good,
        "small": small,
        "crc": _damage(good, d / "crc.uds", {pixel: 7}),
        "truncated": _damage(good, d / "truncated.uds", cut=10),
        "padded": _damage(good, d / "padded.uds", extra=bytes(3)),
        "magic": _damage(good, d / "magic.uds", {0: ord("X")}),
        "version": _damage(good, d / "version.uds", {4: 2}, fix_crc=True),
        "type": _damage(good, d / "type.uds", {5: 1}, fix_crc=True),
        "shape": _damage(good, d / "shape.uds", {12: 0, 13: 0}, fix_crc=True),
        "label": _damage(good, d / "label.uds", {HEADER_LEN: 12}, fix_crc=True),
        "empty": _damage(good, d / "empty.uds", cut=good.stat().st_size),
        "missing": d / "missing.uds",
    }
    return {name: str(path) for name, path in paths.items()}


def _run(interpreter, paths):
    script = Path(paths[0]).parent / "device_script.py"
    script.write_text(DEVICE_SCRIPT)
    cmd = interpreter + [str(script), str(ROOT / "device")] + list(paths)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def _comparable(lines):
    """Drop the alloc lines (CPython cannot measure) and OS wording of open errors."""
    return [line.split(" (")[0] if "cannot open it" in line else line
            for line in lines if ": alloc " not in line]


@pytest.fixture(scope="module")
def reference(cases):
    return _run([sys.executable], list(cases.values()))


def test_reference_output_matches_numpy(reference, cases, demo):
    images, labels = demo
    got = {line.split(": ", 1)[0]: line for line in reversed(reference)}
    good = cases["good"]
    assert ("%s: count=300 shape=(28, 28, 1) classes=10 labels=%08x pixels=%08x last=%d end=-1 "
            "crc=%08x" % (good, zlib.crc32(labels.tobytes()), zlib.crc32(images.tobytes()),
                          labels[-1], shard_crc(good))) in reference
    assert ("%s: expect(196, 10): shard %s: 784 inputs per sample (28x28x1), the model expects "
            "196; re-run 'udfa prepare' with --size 14" % (good, good)) in reference
    assert "%s: expect(196, 10): ok" % cases["small"] in reference
    broken = ("crc", "truncated", "padded", "magic", "version", "type", "shape", "label", "empty")
    for name in broken + ("missing",):
        assert ": ShardError: shard %s: " % cases[name] in got[cases[name]], name
    # the host reader raises the very same errors
    for name in broken:
        with pytest.raises(ShardError) as err:
            read_shard(cases[name])
        assert "%s: ShardError: %s" % (cases[name], err.value) in reference, name


@pytest.mark.parametrize("name,words", [
    ("crc", "CRC mismatch"), ("truncated", "truncated"), ("padded", "damaged"),
    ("magic", "not a udfa shard"), ("shape", "damaged header (header_len 24, shape 0x28x1"),
    ("version", "format version 2"), ("type", "sample type 1"), ("label", "label 12"),
    ("empty", "0 bytes, shorter than the 24-byte header"), ("missing", "cannot open it")])
def test_error_messages_say_what_and_what_to_do(reference, cases, name, words):
    line = [line for line in reference if line.startswith(cases[name] + ":")][0]
    assert words in line
    assert "; " in line.split(": ShardError: ")[1]  # the part after '; ' says what to do


def _micropythons():
    found = []
    if shutil.which("micropython"):
        found.append(pytest.param(["micropython", "-X", "heapsize=190K"], id="micropython"))
    if MPY32.exists():
        found.append(pytest.param([str(MPY32), "-X", "heapsize=190K"], id="micropython-32"))
    return found or [pytest.param(None, id="no-micropython")]


@pytest.mark.parametrize("interpreter", _micropythons())
def test_device_reader_under_micropython(interpreter, reference, cases):
    if interpreter is None:
        pytest.skip("no micropython on PATH and no ../shared/bin/micropython-ulab-32")
    lines = _run(interpreter, list(cases.values()))
    assert _comparable(lines) == _comparable(reference)
    for name in ("good", "small"):
        assert "%s: alloc 0" % cases[name] in lines  # a whole pass allocates nothing


def test_write_shards_respects_budget_and_order(tmp_path, demo):
    images, labels = demo
    budget = 28 + 785 * 64 + 100  # 64 samples a shard, with slack
    paths = write_shards(images, labels, tmp_path, "train", budget)
    assert [p.name for p in paths] == ["train-%03d.uds" % k for k in range(5)]
    assert all(p.stat().st_size <= budget for p in paths)
    assert paths[0].stat().st_size == 28 + 785 * 64
    parts = [read_shard(p) for p in paths]
    assert [part[2]["count"] for part in parts] == [64, 64, 64, 64, 44]
    np.testing.assert_array_equal(np.concatenate([part[0] for part in parts]), images)
    np.testing.assert_array_equal(np.concatenate([part[1] for part in parts]), labels)


def test_header_bytes_follow_the_spec(tmp_path):
    images = np.arange(2 * 3 * 4 * 2, dtype=np.uint8).reshape(2, 3, 4, 2)
    path = write_shards(images, np.array([1, 4]), tmp_path, "x", 1000, n_classes=5)[0]
    data = path.read_bytes()
    assert data[:24] == b"UDSH\x01\x00\x18\x00\x02\x00\x00\x00\x03\x00\x04\x00\x02\x05" + bytes(6)
    assert data[24] == 1 and data[25:49] == images[0].tobytes() and data[49] == 4
    assert len(data) == 24 + 2 * 25 + 4
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4]) == shard_crc(path)
    got, got_labels, header = read_shard(path)
    np.testing.assert_array_equal(got, images)
    assert header["channels"] == 2 and header["n_classes"] == 5
    with Shard(str(path)) as shard:
        shard.expect(24, 5)
        with pytest.raises(ShardError, match="5 classes, the model has 10 outputs"):
            shard.expect(24, 10)
        with pytest.raises(ShardError, match="buffer of 3 bytes"):
            shard.read(0, bytearray(3))
        with pytest.raises(ShardError, match="out of range"):
            shard.read(2, bytearray(24))


@pytest.mark.parametrize("kwargs,words", [
    ({"max_bytes": 800}, "too small"),
    ({"n_classes": 3}, "labels must be 0..2"),
    ({"images": np.zeros((2, 4, 4), np.int16)}, "uint8"),
    ({"labels": np.zeros(3, np.uint8)}, "N > 0"),
])
def test_write_shards_rejects_bad_input(tmp_path, kwargs, words):
    args = {"images": np.zeros((2, 28, 28), np.uint8), "labels": np.array([0, 7]),
            "out_dir": tmp_path, "prefix": "p", "max_bytes": 10 ** 6, "n_classes": 10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        write_shards(**args)


def _valid_shard(path, count, h=2, w=2):
    """A CRC-valid shard of `count` samples of h x w (labels 0), whatever the writer allows."""
    head = struct.pack("<4sBBHIHHBB6x", b"UDSH", 1, 0, HEADER_LEN, count, h, w, 1, 10)
    data = head + bytes(count * (1 + h * w))
    path.write_bytes(data + struct.pack("<I", zlib.crc32(data)))
    return str(path)


@pytest.mark.parametrize("count, words", [
    (0, "0 samples, not 1..4096; re-run 'udfa prepare'"),
    (MAX_SAMPLES + 1, "4097 samples, not 1..4096"), (65535, "65535 samples")])
def test_shards_beyond_the_sample_limit_are_refused(tmp_path, count, words):
    path = _valid_shard(tmp_path / "s.uds", count)
    with pytest.raises(ShardError, match=words):
        Shard(path)
    assert Shard(_valid_shard(tmp_path / "t.uds", MAX_SAMPLES)).count == MAX_SAMPLES


def test_writer_splits_at_the_sample_limit(tmp_path):
    n = 2 * MAX_SAMPLES + 5
    images = (np.arange(n * 4) % 251).astype(np.uint8).reshape(n, 2, 2)
    labels = (np.arange(n) % 10).astype(np.uint8)
    paths = write_shards(images, labels, tmp_path, "p", 1 << 30)  # bytes allow one shard
    parts = [read_shard(p) for p in paths]
    assert [part[2]["count"] for part in parts] == [MAX_SAMPLES, MAX_SAMPLES, 5]
    np.testing.assert_array_equal(np.concatenate([part[0] for part in parts]), images)
