# Integer data augmentation (host training): every epoch sees each training image moved by
# a whole-pixel shift drawn for it, and for clothing mirrored left-right at random; pixels
# shifted in are 0, the images' background. Only integers move: the samples stay uint8, the
# same as a board could make from its own. A recipe's "augment" setting, e.g. {"shift": 2,
# "flip": true}, turns it on; the draws depend on the seed and the epoch alone.
import numpy as np


def epoch_images(images, augment, seed, epoch):
    """images (N, H, W[, C]) uint8 as epoch `epoch` (from 0) of a run with `seed` sees them:
    unchanged when augment is None, else each shifted by up to augment["shift"] pixels in y
    and x (uniform) and, when augment["flip"], mirrored with probability 1/2."""
    if not augment:
        return images
    rng = np.random.default_rng([seed, epoch, 0xA6])
    n, h, w = images.shape[:3]
    m = augment.get("shift", 0)
    dy, dx = rng.integers(-m, m + 1, (2, n))
    padded = np.pad(images, ((0, 0), (m, m), (m, m)) + ((0, 0),) * (images.ndim - 3))
    rows = np.arange(h)[None, :] + m - dy[:, None]  # out[y] = in[y - dy]: moved down by dy
    cols = np.arange(w)[None, :] + m - dx[:, None]
    if augment.get("flip"):
        flip = rng.integers(0, 2, n).astype(bool)
        cols[flip] = cols[flip, ::-1]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
