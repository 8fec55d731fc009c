"""Runs on the PC: a udfa MLP's weights as the int16 numpy arrays that cross the wire.

The order is W0, b0, W1, b1, ... (layer by layer, weights then biases); W has the model's
(n_in, n_out) layout. check() refuses arrays that do not fit a model's layout (shape, dtype,
|w| <= the layer's wmax, udfa.model.Dense) or whose CRC-32 does not match the one sent with
them, so a damaged reply never reaches the average.
"""
import numpy as np

from udfa.checksum import crc32
from udfa.model import Model


class WeightsError(ValueError):
    """Arrays that do not fit the model's layout, or that crossed damaged."""


def spec(model):
    """The network's description, as ConfigRecord values: enough to rebuild the model file
    around arrays (the seed fixes the feedback matrices and the sample order: every board must
    train with the same one)."""
    return {"sizes": list(model.sizes), "acts": [l.act for l in model.layers],
            "shifts": [l.shift for l in model.layers], "in_max": model.in_max,
            "seed": model.seed}


def build(net, arrays):
    """A Model from spec() values and arrays (checked)."""
    model = Model(list(net["sizes"]), list(net["acts"]), list(net["shifts"]),
                  int(net["in_max"]), int(net["seed"]))
    check(arrays, layout(model))
    for k, layer in enumerate(model.layers):
        layer.W[:] = _h(arrays[2 * k])
        layer.b[:] = _h(arrays[2 * k + 1])
    return model


def _h(a):
    from array import array

    return array("h", np.ascontiguousarray(a, np.int16).tobytes())


def to_arrays(model):
    """[W0, b0, W1, b1, ...] as int16 numpy arrays (copies)."""
    out = []
    for l in model.layers:
        out.append(np.frombuffer(bytes(l.W), np.int16).reshape(l.n_in, l.n_out).copy())
        out.append(np.frombuffer(bytes(l.b), np.int16).copy())
    return out


def layout(model):
    """[(shape, wmax), ...] of to_arrays(model)."""
    found = []
    for l in model.layers:
        found += [((l.n_in, l.n_out), l.wmax), ((l.n_out,), l.wmax)]
    return found


def crc(arrays):
    """CRC-32 of the arrays' little-endian int16 bytes, in order."""
    value = 0
    for a in arrays:
        value = crc32(np.ascontiguousarray(a, "<i2").tobytes(), value)
    return value


def nbytes(arrays):
    return sum(int(np.asarray(a).nbytes) for a in arrays)


def check(arrays, expected, sent_crc=None):
    """Raise WeightsError unless arrays fit expected (layout()) and match sent_crc."""
    if len(arrays) != len(expected):
        raise WeightsError("%d arrays, the model has %d" % (len(arrays), len(expected)))
    for i, (a, (shape, wmax)) in enumerate(zip(arrays, expected)):
        name = "%s%d" % ("Wb"[i % 2], i // 2)
        if a.dtype != np.int16 or a.shape != shape:
            raise WeightsError("%s is %s %s, the model's is int16 %s"
                               % (name, a.dtype, a.shape, shape))
        if a.size and int(np.abs(a.astype(np.int32)).max()) > wmax:
            raise WeightsError("%s holds weights beyond +-%d (the layer's wmax)" % (name, wmax))
    if sent_crc is not None and crc(arrays) != sent_crc:
        raise WeightsError("CRC-32 %08x of the weights received, %08x sent: damaged on the way"
                           % (crc(arrays), sent_crc))
