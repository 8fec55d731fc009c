# Every script in tests/device runs under CPython and each MicroPython present; outputs must
# match (CPython's output, or NAME.exp where CPython cannot run it). A first line "SKIP why"
# skips the script; a part that cannot run somewhere (viper on CircuitPython) is left out by
# the script itself, which still prints the same lines (tests/test_kernels.py checks on
# stderr which kernels each interpreter ran).
import pytest

from conftest import DEVICE_TESTS, run_device

SCRIPTS = sorted(p.name for p in DEVICE_TESTS.glob("*.py") if p.name[0] != "_"
                 and p.name not in ("synth.py", "les_kernels.py"))  # les_kernels: test_les


@pytest.mark.parametrize("script", SCRIPTS)
def test_device_script(script, interp):
    out = run_device(interp, DEVICE_TESTS / script)
    if out.startswith("SKIP"):  # "SKIP reason"
        pytest.skip("%s under %s: %s" % (script, interp, out[4:].strip()))
    exp = DEVICE_TESTS / (script + ".exp")
    expected = exp.read_text() if exp.exists() else run_device("cpython", DEVICE_TESTS / script)
    assert out == expected
