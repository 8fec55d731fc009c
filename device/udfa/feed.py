# Training feed (device and host): streams shard samples into a kernel's batch buffers in a
# reproducible order, so a board, a resumed run and the host all see the same batches.
#
# Epoch order: the shards in a shuffled order, and each shard's samples shuffled, both from
# XorShift32(seed, epoch). Only one shard's permutation (u16 per sample) is in RAM at a time:
# at most 2 * shard.MAX_SAMPLES bytes, since the reader refuses a larger shard.
#
# Training in rounds (more data than the flash holds): given every shard's sample count, the
# feed needs only the shards it is about to read. Each is checked when opened, and one that is
# not on the board raises ShardMissing before any of its samples is used, so the trainer can
# stop at its last full batch and the host bring the next shards (udfa_host.rounds).
from array import array

from udfa.files import exists
from udfa.rng import XorShift32
from udfa.shard import Shard, ShardError


class ShardMissing(ShardError):
    """A shard the feed is about to read is not on the board (training in rounds); args:
    the message and the shard's index."""


class ShardFeed:
    """shards: a list of paths, or a prefix P naming P-000.uds, P-001.uds, ... (as the host
    writes them): then no list of names is kept in RAM, only one name at a time.
    counts: every shard's sample count, when they are not all on the board (rounds)."""

    def __init__(self, shards, kernel, batch, n_inputs, n_classes, counts=None):
        self.shards = shards
        self.lazy = counts is not None
        if self.lazy:
            n = len(counts)
        elif isinstance(shards, str):
            n = 0
            while exists(self.path(n)):
                n += 1
        else:
            n = len(shards)
        if not n:
            raise ShardError("no shards %s to train on: push some with 'udfa push'" % shards)
        self.counts = array("H", bytes(2 * n))
        self.n_inputs, self.n_classes = n_inputs, n_classes
        for i in range(n):  # verify every CRC up front (unless lazy: on opening)
            if self.lazy:
                self.counts[i] = counts[i]
            else:
                self._open(i, True).close()
        self.batch = batch
        self.x = kernel.buffer(batch, n_inputs, "B")
        self.labels = kernel.buffer(batch, 1, "B")
        self._rows = [kernel.row(self.x, r, n_inputs) for r in range(batch)]
        self._perm = array("H", bytes(2 * max(self.counts)))
        self._shard_order = list(range(n))
        self.total = sum(self.counts)

    def _open(self, i, verify):
        """Shard i, opened and checked against the model (and the count it was given)."""
        p = self.path(i)
        if self.lazy and not exists(p):
            raise ShardMissing("shard %s is not on the board: train in rounds with 'udfa "
                               "train --from', which pushes each shard in turn" % p, i)
        s = Shard(p, verify)
        try:
            s.expect(self.n_inputs, self.n_classes)
            if self.lazy and s.count != self.counts[i]:
                raise ShardError("shard %s: %d samples, the job expects %d; push it again "
                                 "with 'udfa train --from'" % (p, s.count, self.counts[i]))
            self.counts[i] = s.count
        except ShardError:
            s.close()
            raise
        return s

    def path(self, i):
        return self.shards[i] if isinstance(self.shards, list) else "%s-%03d.uds" % (
            self.shards, i)

    def batches(self, seed, epoch, skip=0):
        """Fill self.x / self.labels batch after batch; yields the rows in each batch.
        skip: samples of this epoch already trained (resume), a multiple of the batch."""
        order = self._shard_order
        rng = epoch_order(seed, epoch, order)
        perm = self._perm
        rows = 0
        for si in order:
            n = self.counts[si]
            for i in range(n):
                perm[i] = i
            rng.shuffle(perm, n)
            if skip >= n:  # the whole shard was trained before the resume
                skip -= n
                continue
            with self._open(si, self.lazy) as shard:
                for i in range(skip, n):
                    self.labels[rows] = shard.read(perm[i], self._rows[rows])
                    rows += 1
                    if rows == self.batch:
                        yield rows
                        rows = 0
            skip = 0
        if rows:
            yield rows


def epoch_order(seed, epoch, order):
    """Put the shards' epoch order into the list `order` (its length: the number of shards);
    returns the generator, which goes on to shuffle each shard's samples. The host plans its
    rounds by it (udfa_host.rounds)."""
    rng = XorShift32(seed ^ ((epoch + 1) << 16))
    for i in range(len(order)):
        order[i] = i
    rng.shuffle(order)
    return rng
