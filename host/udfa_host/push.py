"""Runs on the PC: sends data shards to a board's data/ folder, skipping those it holds.

A shard's identity is the CRC-32 in its trailer (udfa_host.shards.shard_crc); the board
computes the CRC of its own copy (udfa_host.sync), so an unchanged shard is never sent twice
and a damaged or cut-off copy on the board is replaced.
"""
import zlib
from pathlib import Path

from . import sync
from .board_train import BOARD_DATA, board_map, shard_names
from .link import BoardFileError
from .preprocess import MAP_NAME
from udfa.shard import Shard


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
    for prefix in prefixes:
        push_map(board, prefix, [p for p in paths if _prefix(p.name) == prefix], quiet)
    extra = [BOARD_DATA + "/" + n for prefix in sorted(prefixes)
             for n in shard_names(board, prefix) if n not in names]
    if prune:
        for path in extra:
            try:
                board.rm(path)
            except BoardFileError:
                pass
    return sent, skipped, extra


def push_map(board, prefix, paths, quiet):
    """The input map 'udfa prepare' wrote beside a set's shards goes with them (a fresh model
    trained on them stores it); a set without one removes the board's old one."""
    local = paths[0].parent / MAP_NAME
    remote = board_map(BOARD_DATA + "/" + prefix)
    if local.is_file():  # it ends with the CRC of the rest, as a shard does
        crc = zlib.crc32(local.read_bytes()[:-4])
        sync.send(board, [(local, remote, crc)], "input map", tail=4, quiet=quiet)
    elif board.exists(remote):
        board.rm(remote)


def verified_crc(path):
    """The shard's CRC after the board's own checks of the PC's copy (ShardError if bad):
    a damaged shard is refused here, before it costs a copy."""
    with Shard(str(path)) as shard:
        return shard.crc


def _prefix(name):
    return name.rsplit("-", 1)[0]
