# Runs on the PC (and in CI): proves by AST that the device code uses no floating point.
"""fpu_lint: reject floating point in udfa device code.

Usage: python3 tools/fpu_lint.py [PATH ...]   (default: the repo's device/ folder)

Reads every .py file under the given folders (or the given files) and reports, as
`file:line: what`, each of:
  - float and complex literals (1.5, 1., 1e3, 2j), whatever their spelling;
  - true division: `/` and `/=` (use `//` or `>>`);
  - `**` with a negative exponent literal (x ** -1), and pow(x, -n);
  - calls to float() and complex();
  - imports of math and cmath (any form: import, from-import, alias);
  - the float-producing dunders and operator functions: __truediv__, __rtruediv__,
    __itruediv__, __float__, __complex__, truediv, itruediv;
  - array typecodes 'f' and 'd', and struct formats holding f, d or e (when literal).
Comments and strings are not code, so they never count. A line that must use floating point on
purpose (say, a ulab kernel) is let through by a trailing comment `# fpu-ok: <reason>`.
Exits 1 if anything was found, else prints "ok: N files" and exits 0.
"""
import ast
import sys
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "device"
PRAGMA = "# fpu-ok:"
FLOAT_CALLS = {"float", "complex"}
FLOAT_MODULES = {"math", "cmath"}
FLOAT_ATTRS = {"__truediv__", "__rtruediv__", "__itruediv__", "__float__", "__complex__",
               "truediv", "itruediv"}
STRUCT_FUNCS = {"pack", "pack_into", "unpack", "unpack_from", "calcsize", "iter_unpack"}
STRUCT_FLOAT_CODES = set("fde")
ARRAY_FLOAT_CODES = {"f", "d"}


def _is_negative_literal(node):
    # ast.parse folds no constants: -1 is always USub applied to the literal 1
    return (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant))


def _call_name(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _check_call(node):
    name = _call_name(node.func)
    args = node.args
    if isinstance(node.func, ast.Name) and name in FLOAT_CALLS:
        return "call to %s()" % name
    if name == "pow" and len(args) >= 2 and _is_negative_literal(args[1]):
        return "pow() with a negative exponent"
    first = args[0] if args else None
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    if name == "array" and first.value in ARRAY_FLOAT_CODES:
        return "float array typecode %r" % first.value
    if name in STRUCT_FUNCS and STRUCT_FLOAT_CODES & set(first.value):
        return "float struct format %r" % first.value
    return None


def _violation(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (float, complex)):
        kind = "complex" if isinstance(node.value, complex) else "float"
        return "%s literal %r" % (kind, node.value)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Div):
            return "true division '/' (use '//' or '>>')"
        if isinstance(node.op, ast.Pow) and _is_negative_literal(node.right):
            return "'**' with a negative exponent"
    if isinstance(node, ast.AugAssign):
        if isinstance(node.op, ast.Div):
            return "true division '/=' (use '//=' or '>>=')"
        if isinstance(node.op, ast.Pow) and _is_negative_literal(node.value):
            return "'**=' with a negative exponent"
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name.split(".")[0] in FLOAT_MODULES]
        if names:
            return "import of %s" % ", ".join(names)
    if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FLOAT_MODULES:
        return "import from %s" % node.module
    if isinstance(node, ast.Attribute) and node.attr in FLOAT_ATTRS:
        return "use of %s" % node.attr
    if isinstance(node, ast.Call):
        return _check_call(node)
    return None


def check_file(path):
    """Return the list of (line, what) violations in one Python file."""
    source = Path(path).read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as e:
        return [(e.lineno or 0, "syntax error: %s" % e.msg)]
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        what = _violation(node)
        if what and PRAGMA not in lines[node.lineno - 1]:
            found.append((node.lineno, what))
    return sorted(set(found))


def python_files(paths):
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        elif path.is_file():
            yield path
        else:
            raise SystemExit("fpu_lint: %s: no such file or folder" % path)


def main(argv):
    files = list(python_files(argv or [DEFAULT_ROOT]))
    bad = 0
    for path in files:
        for line, what in check_file(path):
            print("%s:%d: %s" % (path, line, what))
            bad += 1
    if bad:
        print("fpu_lint: %d problem(s) in %d files" % (bad, len(files)), file=sys.stderr)
        return 1
    print("ok: %d files" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
