# Heap that training the rp2040 profile's network takes beyond the loaded code: model,
# feedback matrices, batch buffers, shard feed, one step. argv: shard prefix, hidden, batch.
import gc
import sys

from udfa import kernels
from udfa.dfa import DFA
from udfa.feed import ShardFeed
from udfa.metrics import Confusion
from udfa.model import Model

prefix, hidden, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
k = kernels.load()
gc.collect()
base = gc.mem_alloc()
model = Model([196, hidden, 10], ["tanh", "tanh"])
net = DFA(model, k, batch, 15)
feed = ShardFeed(prefix, k, batch, 196, 10)
conf = Confusion(10)
for rows in feed.batches(1, 0):
    net.step(feed.x, feed.labels, rows)
    k.argmax(net.a[-1], rows, 10, net.pred)
    conf.add(feed.labels, net.pred, rows)
gc.collect()
print(k.__name__, gc.mem_alloc() - base)
