"""Runs on the PC: a lasting virtual board, to poke with plain mpremote (`udfa board start`).

A VirtualBoard lives as long as the udfa command that opened it. This one runs in a process of
its own until `udfa board stop`, on a pseudo-terminal that keeps its path: PORT, a symlink to
the /dev/pts/N it serves, with PORT.pid beside it (as the emulated Pico's pico.sh does). The
supervisor holds both ends of the pty, so a host that closes the port does not end the board;
when the interpreter exits (the unix port's answer to the soft reset that mpremote sends as
Ctrl-D in the raw REPL) it starts a new one on the same pty, files kept, and answers as a
board does after a soft reset: "soft reboot", then the raw REPL the host was in.

A unix port reads no Ctrl-C while it runs code: stop a long job with `udfa board stop` and
start the board again (its files stay).
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .vboard import VirtualBoardError, die_with_host, command

_SOFT_REBOOT = b"soft reboot\r\n"
_RAW_REPL = b"\x01"  # Ctrl-A, as the host had sent before its soft reset
_START_TIMEOUT = 10


def serve(port, interpreter, heap, root_dir):
    """Run the board until SIGTERM; port: the path of the symlink to the pty."""
    import tty

    argv, env, root = command(interpreter, heap, root_dir)
    master, slave = os.openpty()
    tty.setraw(slave)
    link = Path(port)
    if link.is_symlink():
        link.unlink()
    link.symlink_to(os.ttyname(slave))

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    proc = None
    restarted = False
    try:
        while True:
            proc = subprocess.Popen(argv, stdin=master, stdout=master, stderr=master,
                                    cwd=root, env=env, preexec_fn=die_with_host())
            if restarted:
                os.write(slave, _RAW_REPL)  # read by the new interpreter
            proc.wait()  # a soft reset (or a crash): power on again
            os.write(master, _SOFT_REBOOT)  # read by the host
            restarted = True
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        link.unlink()


def start(port, interpreter, heap, root_dir):
    """Start a lasting board in a process of its own; returns once PORT answers."""
    port = Path(port).absolute()
    if running(port):
        raise VirtualBoardError("a board already runs on %s: 'udfa board stop %s' first"
                                % (port, port))
    command(interpreter, heap, root_dir)  # fails here, in this process, if it cannot start
    log = open(str(port) + ".log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "udfa_host.lasting", str(port), interpreter,
                             heap, os.path.abspath(root_dir)], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, start_new_session=True)
    Path(str(port) + ".pid").write_text("%d\n" % proc.pid)
    deadline = time.monotonic() + _START_TIMEOUT
    while not port.is_symlink():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise VirtualBoardError("the board on %s did not start: see %s.log" % (port, port))
        time.sleep(0.05)
    return port


def running(port):
    try:
        os.kill(int(Path(str(port) + ".pid").read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def stop(port):
    """Stop the lasting board on port; False if none ran there."""
    pid_file = Path(str(port) + ".pid")
    was = running(port)
    if was:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        deadline = time.monotonic() + _START_TIMEOUT
        while running(port) and time.monotonic() < deadline:
            time.sleep(0.05)
    for leftover in (pid_file, Path(str(port) + ".log")):
        if leftover.exists():
            leftover.unlink()
    return was


if __name__ == "__main__":
    serve(*sys.argv[1:5])
