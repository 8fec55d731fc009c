"""Runs on the PC: copies files to a board unless it already holds the same bytes.

The board's copy is checked on the board: it streams the file through CRC-32 in 512-byte
pieces (binascii.crc32, or udfa.checksum where a port lacks it) and sends back only the size,
the CRC and the file's last `tail` bytes. Nothing but those few bytes crosses the wire, so a
shard that is already there costs one round trip, not a copy.
"""
import ast
import errno
import zlib
from pathlib import Path

from tqdm import tqdm

from .link import BoardExecError, BoardFileError

# Board side of file_crcs(): defined under a private name, called once per file.
_CRC_ON_BOARD = """
try:
    from binascii import crc32 as _udfa_c
except ImportError:
    from udfa.checksum import crc32 as _udfa_c
def _udfa_crc(path, tail):
    import os
    try:
        size = os.stat(path)[6]
    except OSError:
        return None
    if size < tail:
        return (size, None, b'')
    buf = bytearray(512)
    view = memoryview(buf)
    crc = 0
    left = size - tail
    with open(path, 'rb') as f:
        while left:
            n = f.readinto(view[:min(left, 512)])
            if not n:
                return (size, None, b'')
            crc = _udfa_c(view[:n], crc)
            left -= n
        return (size, crc & 0xFFFFFFFF, f.read(tail))
"""

# Board side of fs_space(): statvfs gives (bsize, frsize, blocks, bfree, bavail, ...).
_FREE_ON_BOARD = "import os\nst = os.statvfs(%r)\nprint(repr((st[0], st[0] * st[4])))"


def file_crcs(board, paths, tail=0):
    """For each board path: None if absent, else (size, CRC-32 of all but the last `tail`
    bytes, those last bytes). The CRC is None when the file is shorter than `tail`."""
    if not paths:
        return []
    board.exec(_CRC_ON_BOARD)
    calls = ", ".join("_udfa_crc(%r, %d)" % (board._path(p), tail) for p in paths)
    return board.eval("[%s]" % calls, timeout=60)


def fs_space(board, folder=""):
    """(block size, bytes free) of the board's file system holding folder, or None if it
    cannot tell."""
    try:
        block, free = ast.literal_eval(board.exec(_FREE_ON_BOARD % (board._path(folder) or
                                                                     ".")).strip())
    except (BoardExecError, ValueError, SyntaxError, TypeError):
        return None  # no statvfs on this port, or no such folder yet
    return block, free


def free_bytes(board, folder=""):
    """Bytes free on the board's file system holding folder, or None if it cannot tell."""
    space = fs_space(board, folder)
    return None if space is None else space[1]


def local_crc(path):
    return zlib.crc32(Path(path).read_bytes()) & 0xFFFFFFFF


class NoSpace(BoardFileError):
    """The board's file system is full; nothing that was on it was lost."""


def send(board, files, what="file", tail=0, quiet=False):
    """Copy files to the board: `files` is a list of (local path, board path, crc) where crc
    is the CRC-32 the board's copy must have over all but its last `tail` bytes (and, when
    tail is 4, also store in those bytes, as a shard does). Files the board already holds
    are skipped. Returns (sent, skipped) lists of board paths.

    A full file system raises NoSpace before anything is written when the board can tell its
    free space, or when a write fails with ENOSPC; in both cases the half-written copy is
    removed and every file that was on the board is still there, unchanged."""
    found = file_crcs(board, [remote for _, remote, _ in files], tail)
    todo, skipped = [], []
    for (local, remote, crc), there in zip(files, found):
        if there is not None and there[1] == crc and (
                tail != 4 or there[2] == crc.to_bytes(4, "little")):
            skipped.append(remote)
        else:
            todo.append((local, remote, there[0] if there else 0))
    if not todo:
        return [], skipped
    need = sum(Path(local).stat().st_size - old for local, _, old in todo)
    folder = todo[0][1].rpartition("/")[0]
    free = free_bytes(board, folder)
    if free is not None and need > free:
        raise NoSpace(_full_message(board, need, free, what), errno.ENOSPC)
    total = sum(Path(local).stat().st_size for local, _, _ in todo)
    sent = []
    with tqdm(total=total, unit="B", unit_scale=True, desc="push %ss" % what,
              disable=quiet, leave=False) as bar:
        for local, remote, _ in todo:
            bar.set_postfix_str(Path(remote).name)
            base = bar.n
            try:
                board.put(local, remote, progress=lambda done, _t: bar.update(base + done - bar.n))
            except BoardFileError as e:
                if e.errno != errno.ENOSPC:
                    raise
                _remove_quietly(board, remote + ".tmp")
                raise NoSpace(_full_message(board, need, free_bytes(board, folder), what),
                              errno.ENOSPC) from None
            sent.append(remote)
    return sent, skipped


def _full_message(board, need, free, what):
    return ("board at %s: its file system is full: %d more bytes of %ss needed, %s free; "
            "nothing on the board was lost. Remove files (e.g. old shards) or push fewer "
            "samples ('udfa prepare --limit N')"
            % (board.port, need, what, "unknown" if free is None else "%d" % free))


def _remove_quietly(board, path):
    try:
        board.rm(path)
    except BoardFileError:
        pass
