# Training the rp2040 profile's network fits 60 KB of heap beyond the code, measured on the
# 32-bit MicroPython build (board-sized objects) with the profile's heap limit.
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
    kernel, used = out.split()
    assert kernel == "udfa.kernels.viper" and 40000 < int(used) <= BUDGET
