# Runs on the PC: splits uint8 samples into udfa data shards (docs/SHARDS.md) that each fit a
# board's flash budget, and reads shards back; the header checks are the device reader's own.
import struct
from pathlib import Path

import numpy as np

from udfa.checksum import crc32
from udfa.shard import (CRC_LEN, HEADER_FMT, HEADER_LEN, MAGIC, MAX_INPUTS, MAX_SAMPLES,
                        SAMPLE_UINT8, VERSION)
from udfa.shard import Shard, ShardError

SUFFIX = ".uds"
MAX_SHARD_BYTES = (1 << 30) - 1  # every file offset stays a small int on a 32-bit board
VERIFY_CHUNK = 1 << 16


def write_shards(images, labels, out_dir, prefix, max_bytes, n_classes=10):
    """Write uint8 images (N, H, W) or (N, H, W, C) and labels (N,) in order into shards
    out_dir/<prefix>-000.uds, -001, ... each at most max_bytes long and of at most
    MAX_SAMPLES samples (what a board can order in RAM). Returns their paths.
    Existing files of those names are overwritten; other files are left alone."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8:
        raise ValueError("shard samples are uint8, got %s; scale inputs to 0..255 first"
                         % images.dtype)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or labels.shape != images.shape[:1] or not len(images):
        raise ValueError("need images (N, H, W[, C]) and labels (N,) with N > 0, got %s and %s"
                         % (images.shape, labels.shape))
    n, h, w, c = images.shape
    if not (h and w and c) or h * w * c > MAX_INPUTS or c > 0xFF:
        raise ValueError("shape %dx%dx%d: a shard sample holds 1 to %d inputs and at "
                         "most 255 channels" % (h, w, c, MAX_INPUTS))
    if not 1 <= n_classes <= 0xFF:
        raise ValueError("n_classes must be 1..255, got %d" % n_classes)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError("labels must be 0..%d, got %d..%d"
                         % (n_classes - 1, labels.min(), labels.max()))
    rec = 1 + h * w * c
    per_shard = min(MAX_SAMPLES, (min(max_bytes, MAX_SHARD_BYTES) - HEADER_LEN - CRC_LEN) // rec)
    if per_shard < 1:
        raise ValueError("max_bytes %d is too small: a shard of one %dx%dx%d sample takes %d "
                         "bytes" % (max_bytes, h, w, c, HEADER_LEN + rec + CRC_LEN))
    records = np.empty((n, rec), np.uint8)
    records[:, 0] = labels
    records[:, 1:] = images.reshape(n, rec - 1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_shards = -(-n // per_shard)
    width = max(3, len(str(n_shards - 1)))
    paths = []
    for k in range(n_shards):
        part = records[k * per_shard:(k + 1) * per_shard]
        header = struct.pack(HEADER_FMT, MAGIC, VERSION, SAMPLE_UINT8, HEADER_LEN, len(part),
                             h, w, c, n_classes)
        body = part.tobytes()
        path = out_dir / ("%s-%0*d%s" % (prefix, width, k, SUFFIX))
        path.write_bytes(header + body + struct.pack("<I", crc32(body, crc32(header))))
        paths.append(path)
    return paths


def read_shard(path):
    """Read a whole shard after checking its header, size and CRC (ShardError if bad).
    Returns (images uint8 (N, H, W), or (N, H, W, C) when C > 1, labels uint8 (N,), header
    dict)."""
    with Shard(str(path), verify=False) as shard:
        shard.verify(bytearray(VERIFY_CHUNK))
        h, w, c = shard.shape
        header = {"version": shard.version, "sample_type": shard.sample_type,
                  "header_len": shard.header_len, "count": shard.count, "height": h,
                  "width": w, "channels": c, "n_classes": shard.n_classes, "crc": shard.crc}
        raw = np.fromfile(path, np.uint8, count=shard.count * (1 + shard.n_inputs),
                          offset=shard.header_len).reshape(shard.count, 1 + shard.n_inputs)
        labels = raw[:, 0].copy()
        bad = np.flatnonzero(labels >= shard.n_classes)
        if len(bad):
            shard.read(int(bad[0]), bytearray(shard.n_inputs))  # raises the board's own error
    images = raw[:, 1:].reshape((shard.count, h, w) if c == 1 else (shard.count, h, w, c))
    return images, labels, header


def shard_crc(path):
    """The CRC-32 stored in a shard's trailer: it identifies the content, so a board's copy is
    the same when its stored CRC is equal (and its own verify passes). The header and size are
    checked; the content is not read."""
    with Shard(str(path), verify=False) as shard:
        return shard.crc
