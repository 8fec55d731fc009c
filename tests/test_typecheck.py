"""Runs on the PC (pytest): the device code against CircuitPython's API.

mypy checks device/ (the udfa package and the entry points) with circuitpython-stubs and
adafruit-circuitpython-typing installed, so an import of a module CircuitPython lacks
(machine, ...), a MicroPython-only attribute (micropython.viper) or a wrong call into
CircuitPython's modules (usb_cdc, ulab) fails. kernels/viper.py and viper_conv.py are
MicroPython-only by design: they raise ImportError elsewhere, before their viper code, so they
are not checked. Then the entry points and the agent run under CPython with no `micropython`
module, as on CircuitPython.

Needs: pip install mypy circuitpython-stubs adafruit-circuitpython-typing (skips without them).
Install adafruit-circuitpython-typing with --no-deps in a test environment: its dependency
Adafruit-Blinka puts a `micropython` module on CPython, which device code must not find there.
"""
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

import synth
from conftest import DEVICE

CONFIG = """[mypy]
python_version = 3.11
mypy_path = {device}
explicit_package_bases = True
cache_dir = /dev/null
# MicroPython-only: raises ImportError on CircuitPython before any viper code
[mypy-udfa.kernels.viper]
ignore_errors = True
[mypy-udfa.kernels.viper_conv]
ignore_errors = True
# crc32's pure-Python fallback redefines binascii's on purpose
[mypy-udfa.checksum]
disable_error_code = misc
"""
# What CircuitPython has not: each line must be flagged with the same configuration.
NOT_CIRCUITPYTHON = """import micropython
import machine
import usb_cdc

@micropython.viper
def f(x: int) -> int:
    return x

usb_cdc.enable(console=True, data=True, midi=True)
"""


def _installed(dist):
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_stubs = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None or not _installed("circuitpython-stubs")
    or not _installed("adafruit-circuitpython-typing"),
    reason="needs: pip install mypy circuitpython-stubs adafruit-circuitpython-typing")


def mypy(tmp_path, *targets):
    config = tmp_path / "mypy.ini"
    config.write_text(CONFIG.format(device=DEVICE))
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config),
                           "--no-error-summary", *targets], capture_output=True, text=True,
                          cwd=str(DEVICE), timeout=300)


@needs_stubs
def test_device_code_type_checks_against_circuitpython(tmp_path):
    proc = mypy(tmp_path, "udfa", "main.py", "code.py", "boot.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_stubs
def test_the_check_catches_what_circuitpython_lacks(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(NOT_CIRCUITPYTHON)
    out = mypy(tmp_path, str(bad)).stdout
    assert 'module named "machine"' in out
    assert 'Module has no attribute "viper"' in out
    assert 'Unexpected keyword argument "midi"' in out


@pytest.fixture
def circuitpython(monkeypatch, tmp_path):
    """CPython posing as CircuitPython: no `micropython` module, a usb_cdc whose data channel
    records what code.py writes, the board's root as cwd with the device package on the path."""
    monkeypatch.setitem(sys.modules, "micropython", None)  # import micropython -> ImportError
    written = []
    data = types.SimpleNamespace(connected=True, write_timeout=None,
                                 write=lambda b: written.append(bytes(b)))
    monkeypatch.setitem(sys.modules, "usb_cdc", types.SimpleNamespace(
        data=data, enable=lambda **kw: written.append(kw)))
    monkeypatch.setitem(sys.modules, "storage", types.SimpleNamespace(
        remount=lambda path, readonly: written.append((path, readonly))))
    monkeypatch.chdir(tmp_path)
    for name in [m for m in sys.modules if m == "udfa" or m.startswith("udfa.")]:
        monkeypatch.delitem(sys.modules, name)  # fresh imports, as at boot
    return written


def test_kernels_fall_back_without_viper(circuitpython):
    from udfa import kernels

    assert kernels.load().__name__ in ("udfa.kernels.ulab", "udfa.kernels.plain")
    with pytest.raises(ImportError):
        kernels.load("viper")


def test_code_py_resumes_a_job_and_mirrors_progress_to_usb_cdc(circuitpython, tmp_path):
    from udfa import agent
    from udfa_host.shards import write_shards

    data, labels = synth.dataset(40, 48, 5, 3)
    x = np.frombuffer(bytes(data), np.uint8).reshape(40, 6, 8)
    write_shards(x, np.frombuffer(bytes(labels), np.uint8), tmp_path, "t", 1 << 20, 5)
    agent.create("model.udfa", [48, 8, 5], ["tanh", "tanh"], seed=2, init=20)
    job = {"shards": ["t-000.uds"], "model": "model.udfa", "epochs": 1, "batch": 8,
           "lr_shift": 13, "every": 16, "report_every": 16}
    (tmp_path / "train.json").write_text(json.dumps(job))
    exec(compile((DEVICE / "boot.py").read_text(), "boot.py", "exec"), {})
    assert circuitpython[:1] == [("/", False)]  # the flash is the code's; USB left as it is
    exec(compile((DEVICE / "code.py").read_text(), "code.py", "exec"), {})
    lines = [json.loads(b[5:]) for b in circuitpython[1:]]
    assert [e["event"] for e in lines][0] == "start" and lines[-1]["event"] == "done"
    assert lines[0]["kernel"] == "udfa.kernels.plain"
    assert not os.path.exists("train.json") and os.path.exists("train.done")
    assert os.path.exists("ckpt.udfa")
    # at the next boot there is no job: code.py returns at once, the REPL is the host's
    del circuitpython[:]
    exec(compile((DEVICE / "main.py").read_text(), "main.py", "exec"), {})
    assert circuitpython == []


@pytest.mark.skipif(shutil.which("micropython") is None, reason="needs micropython")
def test_main_py_on_micropython_without_a_job_returns_at_once(tmp_path):
    env = dict(os.environ, MICROPYPATH=str(DEVICE))
    proc = subprocess.run(["micropython", str(DEVICE / "main.py")], cwd=str(tmp_path),
                          capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 0 and proc.stdout == ""
