# Training the rp2040 profile's network, and the rp2040-cnn profile's CNN, fits 60 KB of heap
# beyond the code, measured on the 32-bit MicroPython build (board-sized objects) with the
# profile's heap limit.
import json

import numpy as np
import pytest

from conftest import INTERPRETERS, ROOT, run_device
from udfa_host.shards import write_shards

BUDGET = 60 * 1024


@pytest.mark.skipif("micropython-ulab-32" not in INTERPRETERS, reason="needs the 32-bit build")
def test_rp2040_training_fits_60k_beyond_the_code(tmp_path):
    profile = json.loads((ROOT / "boards" / "rp2040.json").read_text())
    rng = np.random.default_rng(0)
    write_shards(rng.integers(0, 256, (1400, 14, 14), dtype=np.uint8),
                 rng.integers(0, 10, 1400), tmp_path, "s", profile["shard_bytes"])
    out = run_device("micropython-ulab-32", ROOT / "tests" / "board" / "train_heap.py",
                     tmp_path / "s", profile["network"]["hidden"][0],
                     profile["train"]["batch"])
    kernel, used = out.splitlines()[-1].split()  # after any kernel fallback note
    assert kernel == "udfa.kernels.viper" and 40000 < int(used) <= BUDGET


@pytest.mark.skipif("micropython-ulab-32" not in INTERPRETERS, reason="needs the 32-bit build")
def test_rp2040_cnn_training_fits_60k_beyond_the_code(tmp_path):
    """agent.train with the rp2040-cnn profile (LES, batch 1, checkpoints included, on the
    profile's first kernel: viper) on a full shard, stopped after 24 samples: the most heap
    live after any step, beyond the code (the kernel and its conv ops included in the code)."""
    path = ROOT / "boards" / "rp2040-cnn.json"
    profile = json.loads(path.read_text())
    assert profile["heap_bytes"] >= 190 * 1024  # the 32-bit build runs with less (conftest)
    rng = np.random.default_rng(0)
    write_shards(rng.integers(0, 256, (1400, 14, 14), dtype=np.uint8),
                 rng.integers(0, 10, 1400), tmp_path, "s", profile["shard_bytes"])
    out = run_device("micropython-ulab-32", ROOT / "tests" / "board" / "cnn_heap.py",
                     tmp_path, "s", path, 24)
    code, used, kernel = out.splitlines()[-1].split()
    code, used = int(code), int(used)
    print("rp2040-cnn training on the 32-bit build (%s): code %d bytes (from source), training "
          "%d bytes beyond it at most (budget %d), heap %d" % (kernel, code, used, BUDGET,
                                                               profile["heap_bytes"]))
    # the fastest kernel this build runs trains it: no native .mpy is built for x86 (32-bit)
    assert kernel == "udfa.kernels." + [b for b in profile["backends"] if b != "native"][0]
    assert 20000 < used <= BUDGET
