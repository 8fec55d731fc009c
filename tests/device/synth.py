# Device-test support (runs everywhere): synthetic, learnable data (noisy class prototypes)
# and a checksum of a model's weights to compare runs across interpreters and kernels.
from udfa.checksum import crc32
from udfa.rng import XorShift32


def weights_crc(model):
    """CRC-32 of every layer's weights and biases, in order."""
    crc = 0
    for l in model.layers:
        crc = crc32(l.b, crc32(l.W, crc))
    return crc & 0xFFFFFFFF


def dataset(n, n_in, n_cls, seed):
    """(x, labels): n samples as one flat bytearray of n * n_in pixels, and their labels."""
    rng = XorShift32(seed)
    protos = bytearray(n_cls * n_in)
    for i in range(len(protos)):
        protos[i] = rng.below(256)
    x = bytearray(n * n_in)
    labels = bytearray(n)
    for s in range(n):
        c = rng.below(n_cls)
        labels[s] = c
        for i in range(n_in):
            v = protos[c * n_in + i] + rng.below(129) - 64
            x[s * n_in + i] = 0 if v < 0 else 255 if v > 255 else v
    return x, labels


def train_crcs(net, x, lab, load, n, batch, every):
    """Train net on n samples, batch by batch, through load(x, lab, start, rows) (copies
    samples into the kernel's buffers); returns the weights' CRC after every `every`-th
    sample's batch (start % every == 0)."""
    crcs = []
    for start in range(0, n, batch):
        rows = min(batch, n - start)
        load(x, lab, start, rows)
        net.step(x, lab, rows)
        if start % every == 0:
            crcs.append(weights_crc(net.model))
    return crcs
