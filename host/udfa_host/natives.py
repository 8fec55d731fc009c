"""Runs on the PC: which prebuilt native module (.mpy, device/natmod/dist/<arch>/) a board
gets from `udfa deploy`.

A dynamic native module is machine code for one architecture and one .mpy format: it goes to
the board's lib/ only when its header matches what the board reports in
sys.implementation._mpy (format version, sub-version and architecture). Any other board, and
CircuitPython (which loads no native code), gets none and trains on the next kernel
(udfa.kernels.PREFERENCE); tools/build_native.sh makes the files.
"""
from pathlib import Path

import udfa

from . import sync

DIST = Path(udfa.__file__).resolve().parents[1] / "natmod" / "dist"  # beside device/udfa
MODULES = ("udfa_native",)


def board_mpy(board):
    """sys.implementation._mpy of a MicroPython board, else None."""
    return board.eval("getattr(__import__('sys').implementation, '_mpy', None) "
                      "if __import__('sys').implementation.name == 'micropython' else None")


def matches(path, mpy):
    """Whether the native .mpy at path loads on a board reporting _mpy == mpy: the same
    version byte, and the same architecture and sub-version (header byte 2 is mpy >> 8)."""
    head = Path(path).read_bytes()[:3]
    return len(head) == 3 and head[0] == ord("M") and head[1] == mpy & 0xFF and \
        head[2] == mpy >> 8


def files(board, dist=DIST):
    """(local path, board path, crc) of each native module built for this board."""
    mpy = board_mpy(board)
    if mpy is None:
        return []
    out = []
    for mod in MODULES:
        for path in sorted(Path(dist).glob("*/%s.mpy" % mod)):
            if matches(path, mpy):
                out.append((path, "lib/%s.mpy" % mod, sync.local_crc(path)))
                break
    return out
