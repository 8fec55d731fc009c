"""Runs on the PC: an emulated Raspberry Pi Pico (an RP2040 emulator running the real
MicroPython or CircuitPython firmware, whose clock counts Cortex-M0+ cycles) as a board.

The emulator is not part of udfa: name its folder (the one holding pico.sh) with --emulator or
$UDFA_PICO_EMU. It serves the board's USB serial on a pseudo-terminal, so every udfa verb and
plain mpremote reach it by that port exactly as a Pico on USB. Its flash persists in
PTY.flash-fs.bin beside the port. For CircuitPython, whose code cannot write the flash until
boot.py says so, a folder can be copied onto the CIRCUITPY drive before boot, as a user's PC
writes the drive (mtools).
"""
import os
import shutil
import subprocess
from pathlib import Path

FIRMWARES = ("micropython", "circuitpython")
_FAT_OFFSET = 4096  # the CIRCUITPY volume starts this far into the flash image (flashfs.sh)


class EmulatorError(RuntimeError):
    pass


def find_emulator(path=None):
    """The emulator's folder (holding pico.sh): path, $UDFA_PICO_EMU, else an error."""
    path = path or os.environ.get("UDFA_PICO_EMU")
    if not path:
        raise EmulatorError("no Pico emulator named: pass --emulator DIR or set UDFA_PICO_EMU "
                            "to the folder holding pico.sh")
    folder = Path(path).expanduser().resolve()
    if not (folder / "pico.sh").is_file():
        raise EmulatorError("no pico.sh in %s: --emulator names the emulator's folder" % folder)
    for tool in ("node", "socat"):
        if shutil.which(tool) is None:
            raise EmulatorError("the Pico emulator needs %s: install it (Debian: apt-get "
                                "install %s)" % (tool, "nodejs" if tool == "node" else tool))
    return folder


class EmulatedPico:
    """One emulated Pico on the pseudo-terminal `port` (a path that start() creates)."""

    def __init__(self, port, firmware="micropython", emulator=None):
        if firmware not in FIRMWARES:
            raise EmulatorError("firmware is %s, not %r" % (" or ".join(FIRMWARES), firmware))
        self.port = str(port)
        self.firmware = firmware
        self.emulator = find_emulator(emulator)
        self.flash = self.port + ".flash-fs.bin"

    def _run(self, *args, timeout=60):
        env = dict(os.environ, PICO_PTY=self.port, PICO_FIRMWARE=self.firmware,
                   PICO_FLASH=self.flash)
        proc = subprocess.run(["sh", str(self.emulator / "pico.sh")] + list(args), env=env,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode:
            raise EmulatorError("pico.sh %s failed: %s" % (args[0], (proc.stderr or
                                                                  proc.stdout).strip()))
        return proc.stdout

    def start(self, drive=None, fresh=False):
        """Boot the board. fresh: a newly formatted flash. drive: a folder whose contents are
        copied onto the CircuitPython drive first (as a PC copies files onto CIRCUITPY)."""
        Path(self.port).parent.mkdir(parents=True, exist_ok=True)
        if fresh and os.path.exists(self.flash):
            os.remove(self.flash)
        if drive is not None:
            self.copy_to_drive(drive)
        self._run("start")
        return self

    def copy_to_drive(self, folder):
        """Copy a folder's contents onto the CIRCUITPY drive of the stopped board; the first
        boot of a fresh flash formats the drive, so that boot happens here if needed."""
        if self.firmware != "circuitpython":
            raise EmulatorError("only CircuitPython boards have a USB drive to copy onto")
        if shutil.which("mcopy") is None:
            raise EmulatorError("copying onto the drive needs mtools (apt-get install mtools)")
        if self.running():
            raise EmulatorError("stop the board first: it writes its flash image itself")
        if not os.path.exists(self.flash):
            self._run("start")
            self.stop()
        entries = [str(p) for p in Path(folder).iterdir()]
        if entries:
            proc = subprocess.run(["mcopy", "-s", "-o", "-i",
                                   "%s@@%d" % (self.flash, _FAT_OFFSET)] + entries + ["::/"],
                                  env=dict(os.environ, MTOOLS_SKIP_CHECK="1"),
                                  capture_output=True, text=True, timeout=60)
            if proc.returncode:
                raise EmulatorError("copying onto the drive failed: %s" % proc.stderr.strip())

    def running(self):
        try:
            pid = int(Path(self.port + ".pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return True

    def stop(self):
        """Power off; the flash image is saved."""
        self._run("stop")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

