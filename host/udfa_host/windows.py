# Runs on the PC: turns sensor recordings (an accelerometer's or gyroscope's channels over
# time) into the fixed-length feature vectors a network takes, one per window.
#
#   w = windows.sliding(recording, 100, 50)   # (T, C) readings -> (N, 100, C) windows
#   x = windows.features(w)                    # -> (N, 5 C): per channel, FEATURES
#
# Every feature is a sum, a difference or an extreme of the readings, so a board can compute
# the same ones in integers from its raw readings (the mean and deviations as the integer
# sum over the window's length, which the input map's scale absorbs).
import numpy as np

FEATURES = ("mean", "mean absolute deviation", "min", "max", "mean absolute change")


def sliding(recording, length, step=None):
    """Windows of `length` readings every `step` (default: length, no overlap) of a
    recording (T, C) or (T,); returns (N, length, C). A tail shorter than a window is left
    out."""
    r = np.asarray(recording)
    r = r.reshape(len(r), -1)
    step = step or length
    if length < 2 or step < 1:
        raise ValueError("windows of %d readings every %d: need at least 2 readings and a "
                         "step of at least 1" % (length, step))
    if len(r) < length:
        raise ValueError("a recording of %d readings is shorter than one window of %d"
                         % (len(r), length))
    starts = range(0, len(r) - length + 1, step)
    return np.stack([r[s:s + length] for s in starts])


def features(windows):
    """(N, length, C) windows -> (N, 5 C): for each channel the FEATURES in that order,
    channel after channel."""
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 3 or w.shape[1] < 2:
        raise ValueError("windows of shape %s: need (samples, readings >= 2, channels)"
                         % (w.shape,))
    mean = w.mean(axis=1)
    parts = (mean, np.abs(w - mean[:, None]).mean(axis=1), w.min(axis=1), w.max(axis=1),
             np.abs(np.diff(w, axis=1)).mean(axis=1))
    return np.stack(parts, axis=2).reshape(len(w), -1)
