# Synthetic, learnable data for device tests (runs everywhere): noisy class prototypes.
from udfa.rng import XorShift32


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
