"""The examples (examples/micropython/main.py, examples/circuitpython/code.py) run as they are
on fake hardware (tests/device/learner_fakes.py): they print a prediction for every sample
and learn the button's label, well above chance once they have seen a few hundred samples."""
import pytest

from conftest import DEVICE_TESTS, INTERPRETERS, ROOT, run_device

LOOPS = 500
CASES = [("micropython", "micropython/main.py", "i2c"),
         ("micropython-ulab-32", "micropython/main.py", "adc"),
         ("circuitpython-ulab-32", "circuitpython/code.py", "i2c"),
         ("circuitpython-ulab", "circuitpython/code.py", "adc")]


@pytest.mark.parametrize("interp,example,sensor", CASES)
def test_example_learns_live(interp, example, sensor, tmp_path):
    if interp not in INTERPRETERS:
        pytest.skip("no %s here" % interp)
    out = run_device(interp, DEVICE_TESTS / "learner_example.py", ROOT / "examples" / example,
                     sensor, LOOPS, tmp_path)
    rows = [line.split() for line in out.splitlines() if line.startswith("label ")]
    assert len(rows) == LOOPS and out.rstrip().endswith("stopped after %d samples" % LOOPS)
    right = [r[1] == r[3] for r in rows]  # "label L predicted P scores a b"
    assert {r[1] for r in rows} == {"0", "1"}  # both classes were taught
    assert sum(right[-150:]) >= 120, "".join("1" if r else "0" for r in right)
    assert (tmp_path / "model.udfa").exists()  # saved at sample SAVE_EVERY = 500
