#!/usr/bin/env python3
"""Runs on the PC: fuzz udfa's readers for N minutes and print what came of it.

Each round runs tests/device/fuzz_readers.py (damaged shards, models v1 and v2, checkpoints)
with the next seed under CPython and the 32-bit MicroPython build (190K heap, a board's
objects), and fuzzes the host's IDX reader in process. It prints the variants tried and the
count of each outcome class per interpreter; any outcome other than ok / refused / valid /
fallback / undetectable (an IDX file has no CRC: a changed pixel reads back as a pixel) is
BAD, counted by exception type, with a few examples.

    python tools/fuzz.py --minutes 5
    python tools/fuzz.py --minutes 5 --root /tmp/udfa-652f6f9   # another checkout's readers
"""
import argparse
import collections
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SCRIPT = HERE / "tests" / "device" / "fuzz_readers.py"
BOARD = HERE.parent / "shared" / "bin" / "micropython-ulab-32"
LINE = re.compile(r"^(\S+) (\S+): (.*)$")


def interpreters():
    found = {"cpython": [sys.executable]}
    if os.access(BOARD, os.X_OK):
        found["micropython-ulab-32"] = [str(BOARD), "-X", "heapsize=190K"]
    return found


def device_round(cmd, root, seed, count, work):
    """Outcome counts and BAD lines of one run of the device fuzzer."""
    env = dict(os.environ)
    path = os.pathsep.join([str(root / "device"), str(SCRIPT.parent)])
    env["PYTHONPATH" if cmd[0] == sys.executable else "MICROPYPATH"] = path
    proc = subprocess.run(cmd + [str(SCRIPT), str(seed), str(count)], capture_output=True,
                          text=True, env=env, cwd=work, timeout=600)
    counts = collections.Counter()
    bad = [l for l in proc.stdout.splitlines() if l.startswith("BAD ")]
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m and not line.startswith(("BAD ", "total")):
            for cls, n in re.findall(r"(\w+) (\d+)", m.group(3)):
                counts[cls] += int(n)
    if proc.returncode:  # the fuzzer itself died: count it, keep its last line
        counts["BAD"] += 1
        bad.append("BAD crash seed %d: %s" % (seed, (proc.stderr.strip().splitlines()
                                                     or ["?"])[-1]))
    return counts, bad


def idx_round(read_idx, error, seed, count, work):
    """Damaged IDX files (plain and gzip) through the host reader, in process."""
    import numpy as np
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (20, 7, 5), dtype=np.uint8)
    raw = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in images.shape)
    raw += images.tobytes()
    counts = collections.Counter()
    bad = []
    path = Path(work) / "fuzz.idx"
    for v in range(count):
        gz = v % 2
        data = bytearray(gzip.compress(raw, mtime=0) if gz else raw)
        how = rng.integers(5)
        if how == 0:
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        elif how == 1:
            del data[rng.integers(len(data)):]
        elif how == 2:
            data += bytes(rng.integers(0, 256, rng.integers(1, 9), dtype=np.uint8))
        elif how == 3:  # a header field (type, ndim, a dimension) set to an extreme
            data = bytearray(raw)
            at = int(rng.choice([2, 3, 4, 7, 8, 11, 12, 15]))
            data[at] = int(rng.choice([0, 1, 0xFF, 0x7F]))
            if gz:
                data = bytearray(gzip.compress(bytes(data), mtime=0))
        else:  # torn: garbage after some byte
            cut = int(rng.integers(len(data)))
            data[cut:] = bytes(rng.integers(0, 256, len(data) - cut, dtype=np.uint8))
        path.write_bytes(bytes(data))
        try:
            got = read_idx(path)
        except error:
            counts["refused"] += 1
            continue
        except Exception as e:  # what the fuzzer is looking for
            counts["BAD"] += 1
            bad.append("BAD idx %s seed %d #%d: %s: %s" % ("gz" if gz else "plain", seed, v,
                                                           type(e).__name__, e))
            continue
        if got.shape == images.shape and np.array_equal(got, images):
            counts["ok"] += 1
        elif not gz and how != 3 and got.shape == images.shape:
            counts["undetectable"] += 1  # a plain IDX file has no CRC
        else:
            counts["valid" if how == 3 else "BAD"] += 1
            if how != 3:
                bad.append("BAD idx seed %d #%d: accepted as %s" % (seed, v, got.shape))
    return counts, bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--root", type=Path, default=HERE,
                    help="udfa checkout whose device/ and host/ readers to fuzz")
    ap.add_argument("--count", type=int, default=20,
                    help="variants per file kind and mutation in each round")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(args.root / "host"))
    sys.path.insert(0, str(args.root / "device"))
    from udfa_host.idx import DataError, read_idx

    interps = interpreters()
    totals = {name: collections.Counter() for name in list(interps) + ["host idx"]}
    bad_kinds = collections.Counter()
    examples = []
    started = time.monotonic()
    seed = 0
    with tempfile.TemporaryDirectory() as work:
        while seed == 0 or time.monotonic() - started < 60 * args.minutes:
            seed += 1
            results = [(name, device_round(cmd, args.root, seed, args.count, work))
                       for name, cmd in interps.items()]
            results.append(("host idx", idx_round(read_idx, DataError, seed, 10 * args.count,
                                                  work)))
            for name, (counts, bad) in results:
                totals[name].update(counts)
                for line in bad:
                    kind = "%s: %s" % (name, line.split(": ")[1].split(":")[0])
                    if not bad_kinds[kind]:  # the first example of each kind
                        examples.append("%s: %s" % (name, line))
                    bad_kinds[kind] += 1
    shutil.rmtree(work, ignore_errors=True)
    print("udfa fuzz of %s: %d rounds (seeds 1..%d, %d variants per kind and mutation), "
          "%.1f min" % (args.root, seed, seed, args.count, (time.monotonic() - started) / 60))
    for name, counts in totals.items():
        print("  %-20s %6d variants: %s" % (name, sum(counts.values()), ", ".join(
            "%s %d" % (c, counts[c]) for c in sorted(counts))))
    for kind, n in sorted(bad_kinds.items()):
        print("  BAD %s: %d" % (kind, n))
    for line in examples:
        print("    e.g. " + line)
    return 1 if bad_kinds else 0


if __name__ == "__main__":
    sys.exit(main())
