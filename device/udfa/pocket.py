# Pocket activations (device and host): piecewise-linear integer sigmoid, tanh and ReLU.
#
# Input: the pre-activation already scaled and clamped to the 8-bit range -128..127.
# The two ends are the saturated pieces: -128 stands for "-128 or below" and 127 for
# "127 or above". There tanh and sigmoid keep a small slope, 1/8, instead of 0: a unit pushed
# past the range still gets the error that pulls it back. With 0, units that saturate early
# stay dead and training collapses for some shifts (measured: 196-60-10 stuck at 77-85 %
# instead of 96.3 %, 784-512-10 at 87 % instead of 96.6 %). Outputs fit in int8. Slopes are
# integers in units of 1/8 (SLOPE_SHIFT): a derivative is a multiply by 0, 1, 2, 4, 8 or 16.
# Divisions by 2, 4, 8 are arithmetic right shifts (floor), the same on every port.
from array import array

SLOPE_SHIFT = 3  # slopes are in units of 1 / 2**SLOPE_SHIFT
BIAS_INPUT = 127  # the bias is the weight of a constant input of this value


def tanh(x):
    """PocketTanh: -127..127 (PocketNN's pieces)."""
    if x <= -128:
        return -127
    if x <= -75:
        return (x >> 2) - 88
    if x <= -32:
        return x - 32
    if x < 32:
        return 2 * x
    if x < 75:
        return x + 32
    if x < 127:
        return (x >> 2) + 88
    return 127


def tanh_slope(x):
    if x <= -128 or x >= 127:
        return 1  # saturated: 1/8
    if x <= -75 or x >= 75:
        return 2  # 1/4
    if x <= -32 or x >= 32:
        return 8  # 1
    return 16  # 2


def sigmoid(x):
    """PocketSigmoid: 1..127, centred on 64."""
    if x <= -128:
        return 1
    if x <= -75:
        return (x >> 3) + 20
    if x <= -33:
        return (x >> 1) + 48
    if x < 32:
        return x + 64
    if x < 75:
        return (x >> 1) + 80
    if x < 127:
        return (x >> 3) + 108
    return 127


def sigmoid_slope(x):
    if x <= -128 or x >= 127:
        return 1  # saturated: 1/8
    if x <= -75 or x >= 75:
        return 1  # 1/8
    if x <= -33 or x >= 32:
        return 4  # 1/2
    return 8  # 1


def relu(x):
    """PocketReLU8bit: clamp(x, 0, 127)."""
    return 0 if x < 0 else x


def relu_slope(x):
    return 8 if 0 < x < 127 else 0


def leaky(x):
    """Integer leaky ReLU (LES blocks): x at and above 0, x / 4 (floor) below: -32..127."""
    return x if x >= 0 else x >> 2


# LES trains these two with an L2 loss: their slopes pass straight through the 8-bit clamp
# (no saturated zero), so a unit pushed past the range still gets the error that pulls it back.
def leaky_slope(x):
    return 8 if x >= 0 else 2  # 1, or the negative slope 1/4


def linear(x):
    """Identity on the scaled pre-activation, -127..127 (LES heads and output layers)."""
    return -127 if x < -127 else x


def linear_slope(x):
    return 8


# Activation ids are stored in model files: never renumber.
ACTIVATIONS = {
    "sigmoid": (0, sigmoid, sigmoid_slope),
    "tanh": (1, tanh, tanh_slope),
    "relu": (2, relu, relu_slope),
    "leaky": (3, leaky, leaky_slope),
    "linear": (4, linear, linear_slope),
}
NAMES = {}
for _name in ACTIVATIONS:
    NAMES[ACTIVATIONS[_name][0]] = _name


_TABLES = {}  # type: dict  # one pair of tables per activation, shared by its layers


def tables(name):
    """(values, slopes): array('b') and bytearray of 256 entries, indexed by x + 128.
    Shared between callers: read them, never write them."""
    if name in _TABLES:
        return _TABLES[name]
    if name not in ACTIVATIONS:
        raise ValueError("unknown activation %r (have: %s)" % (name, ", ".join(ACTIVATIONS)))
    _, fn, slope = ACTIVATIONS[name]
    values = array("b", bytes(256))
    slopes = bytearray(256)
    for x in range(-128, 128):
        values[x + 128] = fn(x)
        slopes[x + 128] = slope(x)
    _TABLES[name] = (values, slopes)
    return values, slopes
