# Portable PRNG (device and host): xorshift32 that gives the same stream on every port.
# The 32-bit state is kept as two 16-bit halves, so no value ever reaches 2^30 and the
# generator allocates nothing on a 32-bit board (a full 32-bit word would be a heap int).


class XorShift32:
    def __init__(self, seed):
        seed &= 0xFFFFFFFF
        if seed == 0:
            seed = 0x9E3779B9  # xorshift must not start at zero
        self.hi = seed >> 16
        self.lo = seed & 0xFFFF

    def next30(self):
        """Next state of x ^= x << 13; x ^= x >> 17; x ^= x << 5; returns its top 30 bits."""
        hi = self.hi
        lo = self.lo
        # x ^= x << 13   (hi << 13 < 2^29)
        hi ^= ((hi << 13) | (lo >> 3)) & 0xFFFF
        lo ^= (lo << 13) & 0xFFFF
        # x ^= x >> 17
        lo ^= hi >> 1
        # x ^= x << 5
        hi ^= ((hi << 5) | (lo >> 11)) & 0xFFFF
        lo ^= (lo << 5) & 0xFFFF
        self.hi = hi
        self.lo = lo
        return (hi << 14) | (lo >> 2)

    def below(self, n):
        """Uniform-ish int in [0, n) for n <= 2^16 (modulo bias < 2^-14)."""
        return self.next30() % n

    def nonzero(self, r):
        """Int in [-r, r] without 0, uniform."""
        v = self.below(2 * r) - r
        return v + 1 if v >= 0 else v

    def shuffle(self, order, n=None):
        """Fisher-Yates shuffle, in place, of the first n items (default all) of a list/array."""
        for i in range((len(order) if n is None else n) - 1, 0, -1):
            j = self.next30() % (i + 1)
            order[i], order[j] = order[j], order[i]
