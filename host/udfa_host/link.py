"""Runs on the PC: the only module that talks to a board, through mpremote's SerialTransport.

Everything is built on mpremote's primitives (raw-REPL exec, fs_readfile, fs_writefile, ...);
values cross as repr() on the board and ast.literal_eval here. A board is named by a spec:
a serial port ("/dev/ttyACM0", "COM3"), "auto" (the first USB port that looks like a
MicroPython or CircuitPython board) or "virtual:PROFILE" (a VirtualBoard run with the heap and
interpreter of boards/PROFILE.json, its flash in a folder that survives restarts).

Board paths are relative to the board's root. The raw REPL is entered without a soft reset,
so what one exec leaves in the board's RAM (a model, a data buffer) is there for the next.
"""
import ast
import collections
import contextlib
import errno
import os
import re
import time
from pathlib import Path

import serial
import serial.tools.list_ports
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from .boards import ProfileError, load_profile
from .vboard import VirtualBoard, VirtualBoardError

# pyserial read timeout: bounds every wait on a silent port (the transport's own timeouts on
# a pty are only checked between reads); the board answers raw-REPL handshakes in milliseconds.
_READ_TIMEOUT = 2
# Bytes per exec when copying files: a 1 KB chunk is at most a 4 KB repr() to compile on the
# board, small next to a 100 KB heap, and 4x fewer round trips than mpremote's default 256.
_CHUNK = 1024
_RAW_REPL_TRIES = 3
# USB vendor ids of boards that run MicroPython/CircuitPython, and of the USB-UART bridges
# on ESP32 boards: Raspberry Pi, Adafruit, Espressif, MicroPython, CP210x, CH340, FTDI.
_BOARD_VIDS = (0x2E8A, 0x239A, 0x303A, 0xF055, 0x10C4, 0x1A86, 0x0403)
# errnos of a port that went away (unplugged, board powered off, pty closed).
_PORT_ERRNOS = (errno.EIO, errno.ENXIO, errno.ENODEV, errno.EBADF, errno.EPIPE)
# "OSError: [Errno 2] ENOENT" (MicroPython), "OSError: 2" (some ports), CPython's form.
_OSERROR_LINE = re.compile(r"OSError: (?:\[Errno )?(\d+)")

Entry = collections.namedtuple("Entry", "name is_dir")


class BoardError(Exception):
    """Any failure to reach a board or to do something on it."""


class BoardNotFound(BoardError):
    """No board at the port, or none found, or the virtual board could not start."""


class BoardDisconnected(BoardError):
    """The board stopped answering mid-operation: reset, power lost or unplugged."""


class BoardExecError(BoardError):
    """Code run on the board raised; .traceback is the board's, .output what it printed."""

    def __init__(self, message, traceback="", output=""):
        super().__init__(message)
        self.traceback = traceback
        self.output = output


class BoardFileError(BoardExecError):
    """An OSError on the board's file system; .errno says which."""

    def __init__(self, message, err, traceback="", output=""):
        super().__init__(message, traceback, output)
        self.errno = err


def virtual_root(profile, state_dir=None):
    """The folder that is the flash of virtual board PROFILE."""
    base = state_dir or os.environ.get("UDFA_VIRTUAL_DIR") or "~/.cache/udfa/virtual"
    return Path(base).expanduser() / profile


def find_port():
    """The first USB serial port that looks like a MicroPython or CircuitPython board."""
    ports = sorted(serial.tools.list_ports.comports(), key=lambda p: p.device)
    for p in ports:
        text = "%s %s" % (p.description, p.manufacturer)
        if p.vid in _BOARD_VIDS or "MicroPython" in text or "CircuitPython" in text:
            return p.device
    seen = ", ".join(p.device for p in ports) or "none"
    raise BoardNotFound(
        "no MicroPython board found on the USB serial ports (ports seen: %s): "
        "plug one in, or name its port with --board PORT" % seen
    )


class Board:
    """A connected board. Open with Board.open(spec); use as a context manager or close()."""

    def __init__(self, port, vboard=None, profile=None):
        self.port = port
        self.vboard = vboard
        self.profile = profile
        self._transport = None
        self._fs_ready = False  # _FS_ON_BOARD is defined in the board's RAM

    @classmethod
    def open(cls, spec, state_dir=None, interpreter=None):
        """Connect to the board named by spec (see the module docstring).

        For "virtual:PROFILE": state_dir is the parent of the board's flash folder, and
        interpreter overrides the profile's (e.g. /work/shared/bin/micropython-ulab-32).
        """
        if not spec.startswith("virtual:"):
            board = cls(find_port() if spec == "auto" else spec)
        else:
            name = spec[len("virtual:"):]
            try:
                profile = load_profile(name)
                vboard = VirtualBoard().start(
                    interpreter or profile["interpreter"] or "micropython",
                    profile["heap"], virtual_root(name, state_dir),
                )
            except (ProfileError, VirtualBoardError) as e:
                raise BoardNotFound(str(e)) from None
            board = cls(vboard.port, vboard, profile)
        try:
            board._connect()
        except BoardError:
            board.close()
            raise
        return board

    def _connect(self):
        self._fs_ready = False
        try:
            self._transport = SerialTransport(self.port, timeout=_READ_TIMEOUT)
        except TransportError:
            if not os.path.exists(self.port):
                raise BoardNotFound(
                    "no board at %s: check the cable, or name another port with --board PORT"
                    % self.port
                ) from None
            raise BoardNotFound("cannot open %s: %s" % (self.port, _why_unopenable(self.port))
                                ) from None
        for _ in range(_RAW_REPL_TRIES):
            if self.vboard is not None:
                self.vboard.interrupt()  # what the \x03 sent by enter_raw_repl does on a board
            try:
                self._transport.enter_raw_repl(soft_reset=False)
                return
            except (TransportError, serial.SerialException, OSError):
                # A board interrupted in its boot code (CircuitPython's code.py) may swallow
                # the first Ctrl-A while it says "Press any key to enter the REPL".
                time.sleep(0.5)
        fix = ("its --interpreter must be a MicroPython or CircuitPython unix port"
               if self.vboard is not None else "press its reset button and retry")
        raise BoardNotFound("board at %s does not answer the raw REPL: %s" % (self.port, fix))

    def reconnect(self):
        """Open the port again, after a reset or power loss; a dead virtual board is restarted
        first (its files are kept, its port changes)."""
        self._close_transport()
        if self.vboard is not None and not self.vboard.alive():
            try:
                self.port = self.vboard.restart().port
            except VirtualBoardError as e:
                raise BoardNotFound(str(e)) from None
        self._connect()

    def soft_reset(self):
        """Free the whole heap, as a reset does; files stay. On a board: a soft reset from the
        raw REPL (it runs boot.py, not main.py). A virtual board, whose unix port cannot
        soft-reset, is restarted. Long jobs start with one: a heap fragmented by earlier
        commands may hold no free block as large as a weight matrix."""
        if self.vboard is not None:
            self.vboard.kill()
            self.reconnect()
            return
        with self._talking("soft reset"):
            self._transport.enter_raw_repl(soft_reset=True)
        self._fs_ready = False

    def close(self):
        self._close_transport()
        if self.vboard is not None:
            self.vboard.stop()

    def _close_transport(self):
        if self._transport is not None:
            # The port may already be gone (that is often why we close): nothing to save.
            with contextlib.suppress(serial.SerialException, OSError):
                self._transport.close()
            self._transport = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def _talking(self, what):
        """Turn mpremote's and pyserial's exceptions into BoardErrors that say what to do."""
        if self._transport is None:
            raise BoardDisconnected("board at %s is closed: reconnect first" % self.port)
        try:
            yield
        except TransportExecError as e:
            raise self._raised(e.error_output, e.status_code) from None
        except (TransportError, serial.SerialException) as e:
            raise self._lost(what, e) from None
        except OSError as e:
            if e.errno is None or e.errno in _PORT_ERRNOS:
                raise self._lost(what, e) from None
            raise BoardFileError(
                "board at %s: %s: %s" % (self.port, what, os.strerror(e.errno)), e.errno
            ) from None

    def _lost(self, what, cause):
        return BoardDisconnected(
            "board at %s stopped answering during %s (%s): it is busy, was reset, lost power "
            "or was unplugged; reconnect (that interrupts it) and retry" % (self.port, what, cause)
        )

    def _raised(self, traceback, output):
        lines = [ln for ln in _text(traceback).splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else "an exception"
        message = "board at %s raised %s" % (self.port, last)
        match = _OSERROR_LINE.match(last)
        if match:
            return BoardFileError(message, int(match.group(1)), _text(traceback), _text(output))
        return BoardExecError(message, _text(traceback), _text(output))

    def _run(self, code, timeout, consumer=None):
        with self._talking("exec"):
            out, err = self._transport.exec_raw(code, timeout=timeout, data_consumer=consumer)
        if err:
            raise self._raised(err, out)
        return out

    def exec(self, code, timeout=10):
        """Run code on the board and return what it printed. timeout: seconds of silence
        after which the board counts as hung (None: wait for ever)."""
        return _text(self._run(code, timeout))

    def exec_stream(self, code, on_line, timeout=None):
        """Run code on the board, calling on_line(line) for each line as it is printed."""
        pending = bytearray()

        def consume(data):
            pending.extend(data.replace(b"\x04", b""))  # \x04 ends mpremote's output frame
            *lines, rest = pending.split(b"\n")
            pending[:] = rest
            for line in lines:
                on_line(_text(line))

        self._run(code, timeout, consume)
        if pending:
            on_line(_text(pending))

    def eval(self, expr, timeout=10):
        """The value of expr on the board, carried back as its repr()."""
        text = self.exec("print(repr(%s))" % expr, timeout).strip()
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise BoardError(
                "board at %s: repr(%s) is not a Python literal: %.80s" % (self.port, expr, text)
            ) from None

    def _path(self, path):
        # A virtual board's root is its cwd: a leading "/" would name the PC's root.
        return path.lstrip("/") if self.vboard is not None else path

    def put(self, local_path, remote_path, progress=None):
        """Copy a PC file to the board. It is written to remote_path + ".tmp", checked for size
        and renamed over remote_path, so a cut-off copy never replaces a good file.
        progress(done_bytes, total_bytes) is called after each chunk."""
        data = Path(local_path).read_bytes()
        dst = self._path(remote_path)
        tmp = dst + ".tmp"
        with self._talking("put " + remote_path):
            self._transport.fs_writefile(tmp, data, _CHUNK, progress)
        self.exec(_COMMIT.format(tmp=tmp, dst=dst, size=len(data)))

    def get(self, remote_path):
        """The bytes of a board file."""
        with self._talking("get " + remote_path):
            return bytes(self._transport.fs_readfile(self._path(remote_path), _CHUNK))

    def ls(self, path=""):
        """The entries of a board folder ("" is the root), as Entry(name, is_dir), by name."""
        found = self._fs("ls", path)
        return sorted(Entry(name, is_dir) for name, is_dir in found)

    def exists(self, path):
        return self._fs("stat", path) is not None

    def size(self, path):
        """A board file's size in bytes, or None if it is not there."""
        st = self._fs("stat", path)
        return None if st is None else st[6]

    def rm(self, path):
        """Remove a board file."""
        self._fs("rm", path)

    def mkdir(self, path, exist_ok=False):
        try:
            self._fs("mkdir", path)
        except BoardFileError as e:
            if not (exist_ok and e.errno == errno.EEXIST):
                raise

    def _fs(self, op, path):
        """One file-system operation of _FS_ON_BOARD on the board; an OSError there comes back
        by its errno, whatever the firmware's wording (CircuitPython's "[Errno 2] No such
        file/directory" or MicroPython's "[Errno 2] ENOENT"), as a BoardFileError."""
        call = "_udfa_fs(%r, %r)" % (op, self._path(path) or ".")
        if not self._fs_ready:  # defined once per reset; a reset we did not see drops it
            self.exec(_FS_ON_BOARD)
            self._fs_ready = True
        try:
            ok, value = self.eval(call)
        except BoardExecError as e:
            if "NameError" not in e.traceback:
                raise
            self.exec(_FS_ON_BOARD)
            ok, value = self.eval(call)
        if not ok:
            raise BoardFileError("board at %s: %s %s: %s"
                                 % (self.port, op, path or "/", os.strerror(value)), value)
        return value

    def rename(self, old, new):
        self.exec("import os\nos.rename(%r, %r)" % (self._path(old), self._path(new)))


# Board-side end of put(). littlefs and POSIX rename over a file atomically; FAT
# (CircuitPython) refuses to, and only there is the old file removed first.
# Board side of _fs(): stat (the stat tuple, None if absent), ls ([(name, is_dir)], from listdir
# and stat: CircuitPython has no os.ilistdir), rm, mkdir; (True, value) or (False, errno).
_FS_ON_BOARD = """
def _udfa_fs(op, p):
    import os
    try:
        if op == 'stat':
            try:
                return True, os.stat(p)
            except OSError as e:
                if e.args[0] == 2:
                    return True, None
                raise
        if op == 'ls':
            pre = '' if p == '.' else p.rstrip('/') + '/'
            return True, [(n, os.stat(pre + n)[0] & 0x4000 != 0) for n in os.listdir(p)]
        if op == 'rm':
            return True, os.remove(p)
        return True, os.mkdir(p)
    except OSError as e:
        return False, e.args[0]
"""

_COMMIT = """import os
if os.stat({tmp!r})[6] != {size}:
    raise ValueError('put: {tmp} is short of {size} bytes, put it again')
try:
    os.rename({tmp!r}, {dst!r})
except OSError:
    os.remove({dst!r})
    os.rename({tmp!r}, {dst!r})
"""


def _why_unopenable(port):
    """Why a port that exists cannot be opened as a serial port."""
    if not os.access(port, os.R_OK | os.W_OK):
        return "you lack permission to use it (on Linux, join the dialout group)"
    try:
        fd = os.open(port, os.O_RDWR | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        return os.strerror(e.errno)
    try:
        if not os.isatty(fd):
            return "it is not a serial port: name the board's port with --board PORT"
    finally:
        os.close(fd)
    return "another program holds it (a serial monitor, mpremote or another udfa): close it"


def _text(data):
    """Board output as str, with a board's \\r\\n line ends made \\n."""
    if isinstance(data, str):
        return data.replace("\r\n", "\n")
    return bytes(data).decode("utf-8", "replace").replace("\r\n", "\n")
