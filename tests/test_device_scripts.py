# Every script in tests/device runs under CPython and each MicroPython present; outputs must
# match (CPython's output, or NAME.exp where CPython cannot run it). A SKIP line skips.
import pytest

from conftest import DEVICE_TESTS, run_device

SCRIPTS = sorted(p.name for p in DEVICE_TESTS.glob("*.py") if p.name[0] != "_"
                 and p.name not in ("synth.py", "les_kernels.py"))  # les_kernels: test_les


@pytest.mark.parametrize("script", SCRIPTS)
def test_device_script(script, interp):
    out = run_device(interp, DEVICE_TESTS / script)
    if out.strip() == "SKIP":
        pytest.skip("%s skips under %s" % (script, interp))
    exp = DEVICE_TESTS / (script + ".exp")
    expected = exp.read_text() if exp.exists() else run_device("cpython", DEVICE_TESTS / script)
    assert out == expected
