# Runs on the PC under pytest: tools/fpu_lint.py passes the real device tree and catches each
# kind of floating point it claims to catch.
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = ROOT / "tools" / "fpu_lint.py"
_spec = importlib.util.spec_from_file_location("fpu_lint", LINT)
fpu_lint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fpu_lint)


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def lint(capsys):
    """Run the lint in-process (a subprocess each would make this file slow)."""
    def run(*paths):
        try:
            rc = fpu_lint.main([str(p) for p in paths])
        except SystemExit as e:
            print(e.code, file=sys.stderr)
            rc = 1
        out = capsys.readouterr()
        return _Result(rc, out.out, out.err)
    return run


def test_device_tree_is_clean_from_the_command_line():
    out = subprocess.run([sys.executable, str(LINT)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout
    assert out.stdout.startswith("ok: ")


@pytest.mark.parametrize("code,what", [
    ("x = 1.5", "float literal"),
    ("x = 1.", "float literal"),
    ("x = 1e3", "float literal"),
    ("x = 2E-4", "float literal"),
    ("x = 3j", "complex literal"),
    ("x = 1 / 2", "true division '/'"),
    ("x = 1\nx /= 2", "'/='"),
    ("x = 2 ** -1", "'**' with a negative exponent"),
    ("x = 2\nx **= -1", "'**=' with a negative exponent"),
    ("x = pow(2, -1)", "pow() with a negative exponent"),
    ("x = float(3)", "call to float()"),
    ("x = complex(1, 2)", "call to complex()"),
    ("import math", "import of math"),
    ("import cmath as c", "import of cmath"),
    ("from math import sqrt", "import from math"),
    ("x = int.__truediv__(1, 2)", "use of __truediv__"),
    ("x = (3).__float__()", "use of __float__"),
    ("import operator\nx = operator.truediv(1, 2)", "use of truediv"),
    ("from array import array\nx = array('f', [0])", "float array typecode"),
    ("import struct\nx = struct.unpack('<hf', bytes(6))", "float struct format"),
])
def test_each_violation_kind_is_caught(lint, tmp_path, code, what):
    (tmp_path / "bad.py").write_text("# header\n" + code + "\n")
    out = lint(tmp_path)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and what in lines[0]
    assert lines[0].startswith("%s:%d: " % (tmp_path / "bad.py", 1 + code.count("\n") + 1))


def test_comments_strings_and_integer_code_pass(lint, tmp_path):
    (tmp_path / "good.py").write_text(
        '"""Docs may say 1.5 / 2 and import math."""\n'
        "# x = 1.0 / 3\n"
        "s = 'float(1) ** -1'\n"
        "x = 7 // 2 >> 1\n"
        "x //= 2\n"
        "y = 2 ** 3 + pow(2, 3)\n"
        "z = isinstance(x, float)\n"
        "import struct\n"
        "h = struct.unpack('<4sBBHI', bytes(12))\n"
        "w = 1 / 2  # fpu-ok: deliberate, for the test\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.py").write_text("import array\n")
    out = lint(tmp_path)
    assert out.returncode == 0, out.stdout
    assert out.stdout.strip() == "ok: 2 files"


def test_syntax_error_and_missing_path_fail(lint, tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n")
    out = lint(tmp_path / "broken.py")
    assert out.returncode == 1 and "broken.py:1: syntax error" in out.stdout
    out = lint(tmp_path / "absent")
    assert out.returncode == 1 and "no such file or folder" in out.stderr
