"""Runs on the PC: sends data shards to a board's data/ folder, skipping those it holds.

A shard's identity is the CRC-32 in its trailer (udfa_host.shards.shard_crc); the board
computes the CRC of its own copy (udfa_host.sync), so an unchanged shard is never sent twice
and a damaged or cut-off copy on the board is replaced.
"""
from pathlib import Path

from . import sync
from .board_train import BOARD_DATA
from .link import BoardFileError
from udfa.shard import Shard

from .shards import SUFFIX


def push(board, paths, prune=False, quiet=False):
    """Send the shard files `paths`; returns (sent, skipped, extra): board paths sent, board
    paths already there, and the board's other shards of the same sets (train-*, ...), which
    training would also read (removed when prune is set)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise FileNotFoundError("no shards to push: make some with 'udfa prepare'")
    files = [(p, BOARD_DATA + "/" + p.name, verified_crc(p)) for p in paths]
    board.mkdir(BOARD_DATA, exist_ok=True)
    sent, skipped = sync.send(board, files, "shard", tail=4, quiet=quiet)
    names = {p.name for p in paths}
    prefixes = {_prefix(n) for n in names}  # train-*.uds and test-*.uds are separate sets
    extra = [BOARD_DATA + "/" + e.name for e in board.ls(BOARD_DATA)
             if e.name.endswith(SUFFIX) and e.name not in names and _prefix(e.name) in prefixes]
    if prune:
        for path in extra:
            try:
                board.rm(path)
            except BoardFileError:
                pass
    return sent, skipped, extra


def verified_crc(path):
    """The shard's CRC after the board's own checks of the PC's copy (ShardError if bad):
    a damaged shard is refused here, before it costs a copy."""
    with Shard(str(path)) as shard:
        return shard.crc


def _prefix(name):
    return name.rsplit("-", 1)[0]
