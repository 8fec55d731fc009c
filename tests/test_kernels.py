# Kernel backends (host side of the tests): which kernels import where, what load() picks, and
# that the FPU lint accepts them. Exactness against plain runs in tests/device/kernel_*.py under
# every interpreter present (the ulab cases skip themselves where no ulab build is installed).
import subprocess
import sys

import pytest

from conftest import DEVICE_TESTS, ROOT, kernels_of, run_device
from udfa import kernels

PROBE = """
from udfa import kernels
have = kernels.usable()
from udfa import agent
cnn = [agent._kernel(None, True, t).__name__.split(".")[-1] for t in (True, False)]
try:
    agent._kernel("ulab", True)
except (ValueError, ImportError) as e:
    cnn.append(type(e).__name__)
print(" ".join(have), "|", kernels.load().__name__, "| cnn", " ".join(cnn))
"""
VIPER_GONE = {  # why viper cannot run, as load() words it
    "cpython": "the viper kernel needs MicroPython's viper code emitter",
    "circuitpython": "no viper/native code emitter: invalid micropython decorator"}


def fallback(gone, to):
    """load()'s note past the kernels `gone` [(name, why)] to kernel `to`."""
    if len(gone) == 1:
        return "udfa: kernel %s unusable here (%s): using %s" % (gone[0] + (to,))
    return "udfa: kernels %s unusable here: using %s" % (
        ", ".join("%s (%s)" % g for g in gone), to)


def test_kernels_present_and_default(interp, tmp_path):
    """usable() lists the kernels each build runs; load() takes the fastest and, past one
    that cannot run, says so in one line (once per fallback, however often it is called);
    a CNN trains on native, viper or plain and predicts on any kernel, ulab refused for
    training. No native .mpy is on these scripts' path: native is always passed over."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    have = kernels_of(interp)
    train = [k for k in have if k != "ulab"][0]
    want = "%s | udfa.kernels.%s | cnn %s %s ValueError" % (" ".join(have), have[0], train,
                                                            have[0])
    *notes, last = run_device(interp, script).splitlines()
    assert last == want
    gone = [("native", "the native kernel needs udfa_native.mpy built for this port (%s "
             "module named 'udfa_native')" % ("No" if interp == "cpython" else "no"))]
    if "viper" not in have:
        gone.append(("viper", VIPER_GONE[interp.split("-")[0]]))
    # the CNN's training kernel first (LES tries native, viper, plain), then every other load's
    expected = [fallback(gone, train)]
    if interp == "cpython":
        expected.append(fallback(gone + [("ulab", "No module named 'ulab'")], "plain"))
    elif have[0] != train:
        expected.append(fallback(gone, have[0]))
    assert notes == expected


@pytest.mark.parametrize("script", ["kernel_bounds.py", "kernel_exact.py", "les_noalloc.py"])
def test_exactness_scripts_run_every_kernel(interp, script):
    """The exactness scripts print the same lines wherever they run (test_device_scripts),
    and they really ran every kernel this interpreter has (stderr), ulab on CircuitPython's
    ulab 6.5.3 included; les_noalloc trains LES, which runs no ulab."""
    if script == "les_noalloc.py" and interp == "cpython":
        pytest.skip("no gc.mem_alloc on CPython")
    out, err = run_device(interp, DEVICE_TESTS / script, stderr=True)
    want = [k for k in kernels_of(interp) if script[0] != "l" or k != "ulab"]
    ran = [l[13:].split(", ") for l in err.splitlines() if l.startswith("kernels run: ")]
    assert [sorted(r) for r in ran] == [sorted(want)]
    assert out.splitlines()[-1].endswith(": True")


@pytest.mark.parametrize("name", ["viper", "ulab"])
def test_fast_kernels_refuse_cpython(name):
    # why, and what this "board" has instead (not a bare "No module named 'ulab'")
    with pytest.raises(ImportError, match=r"^kernel %s cannot run here \(.+\); this board "
                       r"has: plain$" % name):
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
