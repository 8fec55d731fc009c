# Runs on the PC: reads and writes IDX files (the MNIST / Fashion-MNIST format), plain or gzip.
import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
UINT8 = 0x08  # the IDX type code of unsigned bytes, the only one udfa reads
# split -> stems of (images, labels) files, as published for MNIST and Fashion-MNIST
SPLIT_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FETCH_HINT = "download MNIST or Fashion-MNIST in IDX format into it, or name another folder"
# Hard limits, checked before anything of that size is allocated: the data of one file
# (decompressed), and its dimensions (MNIST's are 3 for images, 1 for labels).
MAX_BYTES = 1 << 31
MAX_NDIM = 4


class DataError(ValueError):
    pass


def _read_bytes(path):
    """The file's bytes, decompressed if gzip; at most MAX_BYTES of them (a gzip file that
    would inflate beyond is refused while it is read)."""
    if path.stat().st_size > MAX_BYTES:
        raise DataError("%s: %d bytes, more than %d; name an MNIST-format file"
                        % (path, path.stat().st_size, MAX_BYTES))
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as z:
            data = z.read(MAX_BYTES + 1)
    except (EOFError, OSError, zlib.error) as e:
        raise DataError("%s: damaged gzip data (%s); download the file again" % (path, e))
    if len(data) > MAX_BYTES:
        raise DataError("%s: inflates to more than %d bytes; name an MNIST-format file"
                        % (path, MAX_BYTES))
    return data


def read_idx(path):
    """Read an IDX file of uint8 (gzip detected by its magic bytes 1f 8b, whatever the name).
    Returns a numpy uint8 array of the shape the header gives: (N, 28, 28) images or (N,)
    labels for MNIST."""
    path = Path(path)
    if not path.is_file():
        raise DataError("%s: no such file; %s" % (path, FETCH_HINT))
    data = _read_bytes(path)
    if len(data) < 4 or data[0] or data[1]:
        raise DataError("%s: not an IDX file (starts %r, expected 00 00 <type> <ndim>); "
                        "name an MNIST-format file" % (path, data[:4]))
    dtype, ndim = data[2], data[3]
    if dtype != UINT8:
        raise DataError("%s: IDX type 0x%02x, udfa reads only uint8 (0x08) files; "
                        "convert the data to uint8" % (path, dtype))
    head_len = 4 + 4 * ndim
    if not 0 < ndim <= MAX_NDIM or len(data) < head_len:
        raise DataError("%s: IDX header of %d dimensions (udfa reads 1 to %d), %d bytes in the "
                        "file; download the file again" % (path, ndim, MAX_NDIM, len(data)))
    shape = struct.unpack(">%dI" % ndim, data[4:head_len])
    count = 1
    for n in shape:  # Python ints: no overflow, whatever the header says
        count *= n
    expected = head_len + count
    if len(data) != expected:
        raise DataError("%s: %d bytes of data, the header (shape %s) needs %d; the file is %s, "
                        "download it again" % (path, len(data), shape, expected,
                                               "truncated" if len(data) < expected else "damaged"))
    return np.frombuffer(data, np.uint8, offset=head_len).reshape(shape)


def write_idx(path, array):
    """Write a uint8 array as an IDX file, gzip-compressed when path ends in .gz. The gzip
    header holds no name or time, so the same array always gives the same bytes."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError("write_idx writes uint8 arrays, got %s" % array.dtype)
    data = bytes([0, 0, UINT8, array.ndim]) + struct.pack(">%dI" % array.ndim, *array.shape)
    data += array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(data)


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError("%s: found neither %s nor %s.gz; %s" % (folder, stem, stem, FETCH_HINT))


def load_split(folder, split):
    """Load the "train" or "test" split from a folder holding the standard IDX file names
    (plain or .gz). Returns (images uint8 (N, H, W), labels uint8 (N,))."""
    if split not in SPLIT_STEMS:
        raise ValueError("split must be 'train' or 'test', got %r" % (split,))
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("%s: no such folder; %s" % (folder, FETCH_HINT))
    image_path, label_path = (_find(folder, stem) for stem in SPLIT_STEMS[split])
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError("%s, %s: shapes %s and %s, expected images (N, H, W) and labels (N,); "
                        "check the files are not swapped"
                        % (image_path.name, label_path.name, images.shape, labels.shape))
    if len(images) != len(labels):
        raise DataError("%s holds %d images but %s holds %d labels; the two files come from "
                        "different sets, download both again"
                        % (image_path, len(images), label_path, len(labels)))
    return images, labels


def load_images(folder, split, size, limit=None):
    """Images (N, size, size) and labels of a split, the first `limit` only if given;
    size is the files' side or half of it (2x2 downsampling)."""
    images, labels = load_split(folder, split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    if size == images.shape[1] // 2:
        images = downsample2x2(images)
    elif size != images.shape[1]:
        raise DataError("size %d: the images in %s are %dx%d; use %d or %d"
                        % (size, folder, images.shape[1], images.shape[2], images.shape[1],
                           images.shape[1] // 2))
    return images, labels


def downsample2x2(images):
    """Halve the height and width of uint8 images (N, H, W) with even H and W: each output
    pixel is the mean of a 2x2 block, rounded half up in integers: (a + b + c + d + 2) >> 2.
    (N, 28, 28) -> (N, 14, 14), still uint8."""
    images = np.asarray(images)
    n, h, w = images.shape
    if h % 2 or w % 2:
        raise ValueError("downsample2x2 needs even height and width, got %dx%d" % (h, w))
    # sum of four bytes <= 1020 + 2: uint16 holds it
    blocks = images.astype(np.uint16).reshape(n, h // 2, 2, w // 2, 2)
    return ((blocks.sum(axis=(2, 4), dtype=np.uint16) + 2) >> 2).astype(np.uint8)
