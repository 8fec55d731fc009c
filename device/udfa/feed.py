# Training feed (device and host): streams shard samples into a kernel's batch buffers in a
# reproducible order, so a board, a resumed run and the host all see the same batches.
#
# Epoch order: the shards in a shuffled order, and each shard's samples shuffled, both from
# XorShift32(seed, epoch). Only one shard's permutation (u16 per sample) is in RAM at a time:
# at most 2 * shard.MAX_SAMPLES bytes, since the reader refuses a larger shard.
from array import array

from udfa.files import exists
from udfa.rng import XorShift32
from udfa.shard import Shard, ShardError


class ShardFeed:
    """shards: a list of paths, or a prefix P naming P-000.uds, P-001.uds, ... (as the host
    writes them): then no list of names is kept in RAM, only one name at a time."""

    def __init__(self, shards, kernel, batch, n_inputs, n_classes):
        self.shards = shards
        if isinstance(shards, str):
            n = 0
            while exists(self.path(n)):
                n += 1
        else:
            n = len(shards)
        if not n:
            raise ShardError("no shards %s to train on: push some with 'udfa push'" % shards)
        self.counts = array("H", bytes(2 * n))
        for i in range(n):  # verify every CRC up front; open one shard at a time later
            p = self.path(i)
            with Shard(p) as s:
                s.expect(n_inputs, n_classes)
                self.counts[i] = s.count
        self.batch = batch
        self.x = kernel.buffer(batch, n_inputs, "B")
        self.labels = kernel.buffer(batch, 1, "B")
        self._rows = [kernel.row(self.x, r, n_inputs) for r in range(batch)]
        self._perm = array("H", bytes(2 * max(self.counts)))
        self._shard_order = list(range(n))
        self.total = sum(self.counts)

    def path(self, i):
        return self.shards[i] if isinstance(self.shards, list) else "%s-%03d.uds" % (
            self.shards, i)

    def batches(self, seed, epoch, skip=0):
        """Fill self.x / self.labels batch after batch; yields the rows in each batch.
        skip: samples of this epoch already trained (resume), a multiple of the batch."""
        rng = XorShift32(seed ^ ((epoch + 1) << 16))
        order = self._shard_order
        for i in range(len(order)):
            order[i] = i
        rng.shuffle(order)
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
            with Shard(self.path(si), verify=False) as shard:
                for i in range(skip, n):
                    self.labels[rows] = shard.read(perm[i], self._rows[rows])
                    rows += 1
                    if rows == self.batch:
                        yield rows
                        rows = 0
            skip = 0
        if rows:
            yield rows
