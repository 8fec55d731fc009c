# The native kernel (C, device/natmod): bit-identical to plain on the unix ports that load its
# x64 .mpy, allocation-free, refused cleanly elsewhere; the shipped .mpy files are the
# source's; `udfa deploy` picks the one a board's architecture loads.
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import DEVICE, DEVICE_TESTS, INTERPRETERS, ROOT, SHARED, run_device
from udfa_host import natives

DIST = DEVICE / "natmod" / "dist"
# the unix ports that load dist/x64 (the same .mpy format as the firmware, x64 machine code)
X64 = [name for name in ("micropython", "micropython-ulab") if name in INTERPRETERS]
# sys.implementation._mpy: format 6.3, architecture << 10 (MP_NATIVE_ARCH_*)
MPY = {"x64": 2822, "armv6m": 4870, "armv7emsp": 7942, "xtensawin": 11014}


def run_native(interp, script, arch="x64"):
    """(stdout, stderr) of a device script with dist/<arch> on the interpreter's path."""
    env = dict(os.environ, MICROPYPATH=os.pathsep.join(
        [str(DIST / arch), str(DEVICE), str(DEVICE_TESTS)]))
    proc = subprocess.run(INTERPRETERS[interp] + [str(DEVICE_TESTS / script)],
                          capture_output=True, text=True, env=env, timeout=600,
                          cwd=str(DEVICE_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, proc.stderr


@pytest.mark.parametrize("interp", X64)
@pytest.mark.parametrize("script", ["kernel_exact.py", "kernel_bounds.py"])
def test_native_same_bytes_as_plain(interp, script):
    out, err = run_native(interp, script)
    assert "native" in err.split("kernels run:")[1]
    assert "all available kernels match plain: True" in out
    assert out == run_device("cpython", DEVICE_TESTS / script)  # plain's CRCs, line by line


@pytest.mark.parametrize("interp", X64)
def test_native_allocates_nothing(interp):
    out, _ = run_native(interp, "kernel_noalloc.py")
    assert "native: 0 bytes allocated over 20 steps" in out.splitlines()


@pytest.mark.parametrize("interp", X64[:1])
def test_native_trains_cnns_like_viper(interp):
    out, _ = run_native(interp, "les_kernels.py")
    native = [ln.replace(" native ", " ", 1) for ln in out.splitlines() if " native " in ln]
    viper = [ln.replace(" viper ", " ", 1) for ln in out.splitlines() if " viper " in ln]
    assert len(native) == 7 and native == viper


@pytest.mark.parametrize("interp", X64)
def test_native_board_script(interp):
    # the script the emulated Pico runs (native_board.py's header); SKIP without the .mpy
    out, _ = run_native(interp, "native_board.py")
    assert out.splitlines()[0] == "loaded first: udfa.kernels.native udfa.kernels.native_conv"
    assert out.splitlines()[-1] == "native matches plain and viper: True"
    assert run_device("cpython", DEVICE_TESTS / "native_board.py") == "SKIP\n"


def test_native_refused_where_the_mpy_does_not_fit():
    # CPython has no udfa_native; the 32-bit unix port is x86, and no x86 .mpy is built
    # (this machine's gcc has no 32-bit C library headers): both fall back to the next kernel
    from udfa import kernels

    with pytest.raises(ImportError, match="udfa_native"):
        kernels.load("native")
    if "micropython-ulab-32" not in INTERPRETERS:
        pytest.skip("no micropython-ulab-32 here")
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(DIST / "x64"), str(DEVICE)]))
    code = ("from udfa import kernels\ntry:\n kernels.load('native')\nexcept ImportError as e:\n"
            " print(e)\nprint(kernels.load().__name__)")
    out = subprocess.run(INTERPRETERS["micropython-ulab-32"] + ["-c", code], env=env,
                         capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert "incompatible .mpy arch" in out[0] and out[-1] == "udfa.kernels.viper"


class FakeBoard:
    def __init__(self, mpy):
        self.mpy = mpy

    def eval(self, expr):
        return self.mpy


def test_deploy_sends_the_boards_arch():
    for arch in ("x64", "armv6m", "armv7emsp"):
        (local, remote, crc), = natives.files(FakeBoard(MPY[arch]))
        assert local == DIST / arch / "udfa_native.mpy" and remote == "lib/udfa_native.mpy"
    assert natives.files(FakeBoard(MPY["xtensawin"])) == []  # no ESP32 build: viper there
    assert natives.files(FakeBoard(MPY["armv6m"] - 1)) == []  # another .mpy sub-version
    assert natives.files(FakeBoard(None)) == []  # CircuitPython: no native code


TOOLCHAIN = shutil.which("arm-none-eabi-gcc") and shutil.which("x86_64-linux-gnu-gcc") and \
    list((SHARED / "src").glob("micropython-*.tar.gz"))


@pytest.mark.skipif(not TOOLCHAIN,
                    reason="needs gcc-arm-none-eabi, gcc and ../shared/src's MicroPython source")
def test_shipped_mpy_is_built_from_the_source(tmp_path):
    proc = subprocess.run([str(ROOT / "tools" / "build_native.sh")], capture_output=True,
                          text=True, env=dict(os.environ, NATIVE_OUT=str(tmp_path)), timeout=300)
    if "pyelftools" in proc.stderr:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for arch in ("x64", "armv6m", "armv7emsp"):
        built = Path(tmp_path / arch / "udfa_native.mpy").read_bytes()
        assert built == (DIST / arch / "udfa_native.mpy").read_bytes(), (
            "device/natmod/dist/%s is stale: run tools/build_native.sh" % arch)
