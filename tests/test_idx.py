# Runs on the PC under pytest: the IDX reader/writer, split loading, its errors, the 2x2
# downsampling rule and the shipped MNIST demo subset.
import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "host") not in sys.path:
    sys.path.insert(0, str(ROOT / "host"))

from udfa_host.idx import DataError, downsample2x2, load_split, read_idx, write_idx  # noqa: E402

DEMO = ROOT / "data" / "mnist-demo"
FULL_MNIST = ROOT.parent / "shared" / "datasets" / "mnist"


def _split_folder(folder, n_images=5, n_labels=5, gz=True):
    folder.mkdir(exist_ok=True)
    ext = ".gz" if gz else ""
    images = np.arange(n_images * 28 * 28, dtype=np.uint32).reshape(n_images, 28, 28) % 256
    write_idx(folder / ("train-images-idx3-ubyte" + ext), images.astype(np.uint8))
    write_idx(folder / ("train-labels-idx1-ubyte" + ext), np.arange(n_labels, dtype=np.uint8))
    return images


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_plain_and_gzip(tmp_path, gz):
    images = _split_folder(tmp_path, gz=gz)
    got_images, got_labels = load_split(tmp_path, "train")
    assert got_images.dtype == np.uint8 and got_images.shape == (5, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, np.arange(5))


def test_gzip_is_detected_by_magic_not_name(tmp_path):
    write_idx(tmp_path / "labels.gz", np.arange(4, dtype=np.uint8))
    (tmp_path / "labels").write_bytes((tmp_path / "labels.gz").read_bytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), np.arange(4))


def test_write_idx_is_reproducible(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(9, dtype=np.uint8))
    write_idx(tmp_path / "b.gz", np.arange(9, dtype=np.uint8))
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_missing_folder_and_files_say_what_was_looked_for(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_split(tmp_path / "nope", "train")
    with pytest.raises(DataError, match="neither train-images-idx3-ubyte nor "
                                        "train-images-idx3-ubyte.gz"):
        load_split(tmp_path, "train")
    _split_folder(tmp_path)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_split(tmp_path, "test")
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_split(tmp_path, "valid")


def test_count_mismatch(tmp_path):
    _split_folder(tmp_path, n_images=5, n_labels=4)
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        load_split(tmp_path, "train")


@pytest.mark.parametrize("damage,words", [
    (lambda raw: raw[:-7], "truncated"),
    (lambda raw: raw + b"\0", "damaged"),
    (lambda raw: b"\x12\x34" + raw[2:], "not an IDX file"),
    (lambda raw: raw[:2] + b"\x0d" + raw[3:], "IDX type 0x0d"),
    (lambda raw: raw[:6], "IDX header of 3 dimensions"),
])
def test_damaged_plain_files(tmp_path, damage, words):
    write_idx(tmp_path / "images", np.zeros((3, 4, 4), np.uint8))
    raw = (tmp_path / "images").read_bytes()
    (tmp_path / "images").write_bytes(damage(raw))
    with pytest.raises(DataError, match=words) as err:
        read_idx(tmp_path / "images")
    assert str(tmp_path / "images") in str(err.value)


def test_truncated_gzip(tmp_path):
    write_idx(tmp_path / "x.gz", np.arange(200, dtype=np.uint8))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(DataError, match="damaged gzip data"):
        read_idx(tmp_path / "x.gz")
    (tmp_path / "y.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2])))
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "y.gz")


def test_downsample_rounds_half_up():
    block = np.array([[[0, 0, 0, 1], [1, 1, 0, 0]],
                      [[255, 255, 3, 4], [255, 255, 5, 6]]], np.uint8)  # (2, 2, 4)
    got = downsample2x2(block)
    assert got.dtype == np.uint8 and got.shape == (2, 1, 2)
    # (0+0+1+1+2)>>2 = 1, (0+1+0+0+2)>>2 = 0, (4*255+2)>>2 = 255, (3+4+5+6+2)>>2 = 5
    np.testing.assert_array_equal(got, [[[1, 0]], [[255, 5]]])
    with pytest.raises(ValueError, match="even"):
        downsample2x2(np.zeros((1, 3, 4), np.uint8))


def test_demo_subset_is_shipped():
    train, test = load_split(DEMO, "train"), load_split(DEMO, "test")
    assert train[0].shape == (4000, 28, 28) and test[0].shape == (1000, 28, 28)
    assert sorted(set(train[1].tolist())) == list(range(10))
    assert downsample2x2(test[0]).shape == (1000, 14, 14)


def test_demo_subset_is_the_start_of_mnist():
    if not FULL_MNIST.is_dir():
        pytest.skip("%s is absent" % FULL_MNIST)
    full_images, full_labels = load_split(FULL_MNIST, "test")
    images, labels = load_split(DEMO, "test")
    np.testing.assert_array_equal(images, full_images[:1000])
    np.testing.assert_array_equal(labels, full_labels[:1000])
    # the training images are left out: decompressing 47 MB would slow the suite down
    full_train_labels = read_idx(FULL_MNIST / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(load_split(DEMO, "train")[1], full_train_labels[:4000])


def test_load_images_downsamples_and_refuses_other_sizes():
    from udfa_host.idx import load_images
    x, y = load_images(DEMO, "test", 14, limit=5)
    assert x.shape == (5, 14, 14) and len(y) == 5
    assert load_images(DEMO, "test", 28, limit=5)[0].shape == (5, 28, 28)
    with pytest.raises(DataError, match="size 20"):
        load_images(DEMO, "test", 20)
