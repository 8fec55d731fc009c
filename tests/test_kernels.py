# Kernel backends (host side of the tests): which kernels import where, what load() picks, and
# that the FPU lint accepts them. Exactness against plain runs in tests/device/kernel_*.py under
# every interpreter present (the ulab cases skip themselves where no ulab build is installed).
import subprocess
import sys

import pytest

from conftest import ROOT, run_device
from udfa import kernels

PROBE = """
from udfa import kernels
have = []
for name in ("plain", "viper", "ulab"):
    try:
        kernels.load(name)
        have.append(name)
    except ImportError:
        pass
from udfa import agent
cnn = [agent._kernel(None, True, t).__name__.split(".")[-1] for t in (True, False)]
try:
    agent._kernel("ulab", True)
except (ValueError, ImportError) as e:
    cnn.append(type(e).__name__)
print(" ".join(have), "|", kernels.load().__name__, "| cnn", " ".join(cnn))
"""
EXPECTED = {  # kernels present | the default | a CNN's for training, for inference, ulab's
    "cpython": "plain | udfa.kernels.plain | cnn plain plain ValueError",
    "micropython": "plain viper | udfa.kernels.viper | cnn viper viper ValueError",
    "micropython-ulab": "plain viper ulab | udfa.kernels.viper | cnn viper viper ValueError",
    "micropython-ulab-32": "plain viper ulab | udfa.kernels.viper | cnn viper viper ValueError",
}


def test_kernels_present_and_default(interp, tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    assert run_device(interp, script).strip() == EXPECTED[interp]


@pytest.mark.parametrize("name", ["viper", "ulab"])
def test_fast_kernels_refuse_cpython(name):
    with pytest.raises(ImportError):
        kernels.load(name)
    assert kernels.load().__name__ == "udfa.kernels.plain"


def test_unknown_kernel_is_an_error():
    with pytest.raises(ValueError):
        kernels.load("cuda")


def test_kernels_pass_fpu_lint():
    files = [str(ROOT / "device" / "udfa" / "kernels" / n)
             for n in ("viper.py", "viper_conv.py", "ulab.py")]
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "fpu_lint.py")] + files,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
