# Shared test helpers (host): paths and a runner for device scripts under each interpreter.
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / "device"
DEVICE_TESTS = ROOT / "tests" / "device"
SHARED = ROOT.parent / "shared"
# appended, not prepended: device/ holds a board's main.py/code.py, which must not shadow
# the standard library's `code` module
sys.path += [str(DEVICE), str(ROOT / "host"), str(DEVICE_TESTS), str(ROOT / "tests" / "board")]


def interpreters():
    """name -> command prefix for every interpreter present: CPython always, MicroPython
    (plain unix port, 64-bit), and the ulab builds of MicroPython (ulab 6.12) and CircuitPython
    (ulab 6.5.3, no viper), 64- and 32-bit each, where they are installed (an environment
    variable such as CIRCUITPYTHON_ULAB_32 names another binary). The 32-bit builds get a
    Pico's 190K heap; the 64-bit ones twice that, since their objects take twice the memory
    (../shared/bin/README.md): so each holds what a Pico holds."""
    found = {"cpython": [sys.executable]}
    if shutil.which("micropython"):
        found["micropython"] = [shutil.which("micropython"), "-X", "heapsize=380K"]
    for name, heap in (("micropython-ulab", "380K"), ("micropython-ulab-32", "190K"),
                       ("circuitpython-ulab", "380K"), ("circuitpython-ulab-32", "190K")):
        path = os.environ.get(name.upper().replace("-", "_"), str(SHARED / "bin" / name))
        if os.access(path, os.X_OK):
            found[name] = [path, "-X", "heapsize=" + heap]
    return found


INTERPRETERS = interpreters()

# The emulated Pico (an RP2040 emulator running the real firmwares, ../shared/pico) and
# CircuitPython's own mpy-cross, which its firmware needs (it refuses MicroPython's .mpy).
PICO_EMU = Path(os.environ.get("UDFA_PICO_EMU", str(SHARED / "pico" / "emu")))
CIRCUITPY_MPY_CROSS = os.environ.get("UDFA_MPY_CROSS",
                                     str(SHARED / "bin" / "mpy-cross-circuitpython"))


def pico_missing(firmware):
    """Why the emulated Pico with `firmware` cannot run here, or None."""
    if not (PICO_EMU / "pico.sh").is_file():
        return "no Pico emulator at %s (set UDFA_PICO_EMU)" % PICO_EMU
    tools = ["node", "socat"] + (["mcopy"] if firmware == "circuitpython" else [])
    for tool in tools:
        if shutil.which(tool) is None:
            return "the emulated Pico needs %s (Debian: %s)" % (
                tool, {"mcopy": "mtools", "node": "nodejs"}.get(tool, tool))
    if firmware == "circuitpython" and not os.access(CIRCUITPY_MPY_CROSS, os.X_OK):
        return "no CircuitPython mpy-cross at %s" % CIRCUITPY_MPY_CROSS
    return None


def kernels_of(interp):
    """The device kernels that run under `interp`, fastest first: viper wherever MicroPython
    has its emitter (not CPython, not CircuitPython), ulab on the ulab builds, plain always."""
    have = [] if interp == "cpython" or interp.startswith("circuitpython") else ["viper"]
    return have + (["ulab"] if "ulab" in interp else []) + ["plain"]


def run_device(interp, script, *args, timeout=300, stderr=False):
    """Run a device script under `interp` with device/ on its path; returns its stdout (and
    its stderr, as (stdout, stderr), with stderr=True)."""
    env = dict(os.environ)
    path = os.pathsep.join([str(DEVICE), str(DEVICE_TESTS)])
    env["PYTHONPATH" if interp == "cpython" else "MICROPYPATH"] = path
    proc = subprocess.run(INTERPRETERS[interp] + [str(script)] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=str(DEVICE_TESTS))
    if proc.returncode != 0:
        raise AssertionError("%s %s failed:\n%s%s" % (interp, script, proc.stdout, proc.stderr))
    return (proc.stdout, proc.stderr) if stderr else proc.stdout


@pytest.fixture(params=sorted(INTERPRETERS))
def interp(request):
    return request.param
