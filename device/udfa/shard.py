# Runs on the board (MicroPython, CircuitPython) and on CPython: reads a udfa data shard
# (layout in docs/SHARDS.md) one sample at a time into the caller's buffer.
import struct

from udfa.checksum import crc32

MAGIC = b"UDSH"
VERSION = 1
SAMPLE_UINT8 = 0  # the only sample type of version 1: one uint8 per input
# magic, version, sample type, header_len, count, height, width, channels, n_classes, 6 reserved
HEADER_FMT = "<4sBBHIHHBB6x"
HEADER_LEN = 24  # struct.calcsize(HEADER_FMT)
CRC_LEN = 4  # trailing CRC-32, little-endian u32
CHUNK = 256  # bytes of RAM the CRC check streams through when the caller lends no buffer
# Hard limits of a shard. MAX_SAMPLES bounds what a board holds for a shard's sample order
# (udfa.feed: a u16 per sample, 8 KB at most), whatever the profile; the host writer splits
# data into shards of at most this many. MAX_INPUTS: inputs per sample (a Dense layer's n_in).
MAX_SAMPLES = 4096
MAX_INPUTS = 65535


class ShardError(ValueError):
    pass


class Shard:
    """An open shard file. Samples are read with readinto: nothing is allocated per sample.

    Offsets stay small ints on a 32-bit board because a shard is under 2^30 bytes (the host
    writer guarantees it; a larger file fails the size check before any sample is read).
    """

    def __init__(self, path, verify=True):
        self.path = path
        try:
            self._f = open(path, "rb")
        except OSError as e:
            raise ShardError("shard %s: cannot open it (%s); copy it to the board with "
                             "'udfa push'" % (path, e))
        self._lab = bytearray(1)  # label byte of the current sample
        try:
            self._read_header()
            if verify:
                self.verify()
            else:
                self.rewind()
        except Exception:
            self._f.close()
            raise

    def _fail(self, what, todo):
        raise ShardError("shard %s: %s; %s" % (self.path, what, todo))

    def _read_header(self):
        f = self._f
        head = f.read(HEADER_LEN)
        if head[:4] != MAGIC[:len(head)]:
            self._fail("not a udfa shard (starts %r, expected %r)" % (head[:4], MAGIC),
                       "write shards with 'udfa prepare'")
        if len(head) < HEADER_LEN:
            self._fail("%d bytes, shorter than the %d-byte header" % (len(head), HEADER_LEN),
                       "the file is truncated, copy it again with 'udfa push'")
        (_, version, stype, hlen, count, h, w, c, n_classes) = struct.unpack(HEADER_FMT, head)
        if version != VERSION:
            self._fail("format version %d, this udfa reads version %d" % (version, VERSION),
                       "re-run 'udfa prepare' with this udfa, or update udfa on the board")
        if stype != SAMPLE_UINT8:
            self._fail("sample type %d is unknown (0 = uint8 inputs)" % stype,
                       "re-run 'udfa prepare'")
        if hlen < HEADER_LEN or not (h and w and c and n_classes):
            self._fail("damaged header (header_len %d, shape %dx%dx%d, %d classes)"
                       % (hlen, h, w, c, n_classes), "re-run 'udfa prepare'")
        if not 0 < count <= MAX_SAMPLES:
            self._fail("%d samples, not 1..%d" % (count, MAX_SAMPLES),
                       "re-run 'udfa prepare' with this udfa (it splits data into shards of "
                       "at most %d samples)" % MAX_SAMPLES)
        if h * w * c > MAX_INPUTS:
            self._fail("%dx%dx%d inputs per sample, more than %d" % (h, w, c, MAX_INPUTS),
                       "re-run 'udfa prepare' with smaller samples")
        self.version = version
        self.sample_type = stype
        self.header_len = hlen
        self.count = count
        self.shape = (h, w, c)
        self.n_inputs = h * w * c
        self.n_classes = n_classes
        self._rec = 1 + self.n_inputs
        size = f.seek(0, 2)
        # May be a big int on a board when the header is garbage; it then fails the test below.
        expected = hlen + count * self._rec + CRC_LEN
        if size != expected:
            self._fail("%d bytes, the header promises %d (%d samples of %d bytes)"
                       % (size, expected, count, self._rec),
                       "the file is %s, copy it again with 'udfa push'"
                       % ("truncated" if size < expected else "damaged"))
        self._data_len = size - CRC_LEN
        f.seek(self._data_len)
        # u32: a big int on a 32-bit board when >= 2^30; read once per shard, compared exactly.
        self.crc = struct.unpack("<I", f.read(CRC_LEN))[0]

    def verify(self, buf=None):
        """Check the trailing CRC-32 by streaming the file through buf (any bytearray, e.g.
        the caller's sample buffer) or, if None, through one CHUNK-byte bytearray. Rewinds."""
        if buf is None:
            buf = bytearray(CHUNK)
        n = len(buf)
        f = self._f
        f.seek(0)
        left = self._data_len
        crc = 0
        # On a 32-bit board a CRC >= 2^30 is a big int, so each crc32 call may allocate a few
        # bytes: acceptable for a once-per-shard check, never done per sample.
        while left:
            if left < n:
                buf = memoryview(buf)[:left]
                n = left
            if f.readinto(buf) != n:
                self._fail("the file changed while it was checked", "copy it again")
            crc = crc32(buf, crc)
            left -= n
        if crc != self.crc:
            self._fail("CRC mismatch (stored %08x, computed %08x)" % (self.crc, crc),
                       "the file is damaged, copy it again with 'udfa push'")
        self.rewind()

    def expect(self, n_inputs, n_classes):
        """Raise ShardError unless the samples fit a model with n_inputs and n_classes."""
        if n_inputs != self.n_inputs:
            side = 0
            while (side + 1) * (side + 1) <= n_inputs:
                side += 1
            hint = " with --size %d" % side if side * side == n_inputs else ""
            self._fail("%d inputs per sample (%dx%dx%d), the model expects %d"
                       % ((self.n_inputs,) + self.shape + (n_inputs,)),
                       "re-run 'udfa prepare'%s" % hint)
        if n_classes != self.n_classes:
            self._fail("%d classes, the model has %d outputs" % (self.n_classes, n_classes),
                       "re-run 'udfa prepare' for %d classes or build the model with %d outputs"
                       % (n_classes, self.n_classes))

    def rewind(self):
        """Make read_next start again at sample 0."""
        self._f.seek(self.header_len)
        self._next = 0

    def read(self, i, buf):
        """Read sample i's inputs into buf (exactly n_inputs bytes long); return its label."""
        if not 0 <= i < self.count:
            self._fail("sample %d is out of range 0..%d" % (i, self.count - 1), "fix the caller")
        self._f.seek(self.header_len + i * self._rec)
        self._next = i
        return self.read_next(buf)

    def read_next(self, buf):
        """Read the next sample into buf; return its label, or -1 after the last sample."""
        i = self._next
        if i >= self.count:
            return -1
        if len(buf) != self.n_inputs:
            self._fail("a buffer of %d bytes was given for a sample of %d inputs"
                       % (len(buf), self.n_inputs), "fix the caller")
        f = self._f
        if f.readinto(self._lab) != 1 or f.readinto(buf) != self.n_inputs:
            self._fail("short read at sample %d" % i, "the file changed, copy it again")
        self._next = i + 1
        label = self._lab[0]
        if label >= self.n_classes:
            self._fail("sample %d has label %d, but only %d classes" % (i, label, self.n_classes),
                       "re-run 'udfa prepare' with the right number of classes")
        return label

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
