# Fake board hardware for the examples (tests only): machine (MicroPython) and board, busio,
# digitalio, analogio (CircuitPython), as one module the runner puts in sys.modules under each
# name. The button is held for BLOCK samples, then released for BLOCK, and so on; while it is
# held the sensor shows a shake (accelerometer x swinging +-60/128 g) or a bright analog
# level, else rest (gravity on z) or a dim level; noise from a fixed LCG. After LOOPS reads
# of the button, reading it raises KeyboardInterrupt: the examples' endless loop stops there.
MODE = "i2c"  # or "adc": no accelerometer on the bus
LOOPS = 300
SAMPLE = 8  # readings per sample, as in the examples
BLOCK = 12  # samples per button press or release
_state = {"reads": 0, "presses": 0, "noise": 12345}


def _noise(n):
    """An int in -n..n from an LCG: the same signal on every interpreter."""
    s = (_state["noise"] * 1103515245 + 12345) & 0x7FFFFFFF
    _state["noise"] = s
    return (s >> 8) % (2 * n + 1) - n


def _held(reads=None):
    """Whether the button is held during reading `reads` (default: the current one)."""
    reads = _state["reads"] if reads is None else reads
    return (reads // SAMPLE // BLOCK) % 2 == 1


def _button():
    if _state["presses"] >= LOOPS:
        raise KeyboardInterrupt
    _state["presses"] += 1
    return _held(_state["reads"] - 1)  # the sample just read


def _accel(buf):
    """x, y, z as big-endian int16 (1 g = 16384), one reading."""
    held = _held()
    swing = 60 if _state["reads"] % 2 else -60
    for a in range(3):
        top = (swing if a == 0 else 0) if held else (64 if a == 2 else 0)
        v = (top + _noise(10)) * 256
        v &= 0xFFFF
        buf[2 * a] = v >> 8
        buf[2 * a + 1] = v & 255
    _state["reads"] += 1


def _level():
    v = (40000 if _held() else 22000) + _noise(6000)
    _state["reads"] += 1
    return v


class Pin:  # machine.Pin
    IN = 0
    PULL_UP = 1

    def __init__(self, *args):
        pass

    def value(self):
        return 0 if _button() else 1  # pulled up: 0 while held


class I2C:  # machine.I2C and busio.I2C
    def __init__(self, *args, **kw):
        pass

    def scan(self):
        return [0x68] if MODE == "i2c" else []

    def try_lock(self):
        return True

    def writeto_mem(self, addr, reg, data):
        pass

    def writeto(self, addr, data):
        pass

    def readfrom_mem_into(self, addr, reg, buf):
        _accel(buf)

    def writeto_then_readfrom(self, addr, out, buf):
        _accel(buf)


class ADC:  # machine.ADC
    def __init__(self, pin):
        pass

    def read_u16(self):
        return _level()


class AnalogIn:  # analogio.AnalogIn
    def __init__(self, pin):
        pass

    @property
    def value(self):
        return _level()


class Pull:  # digitalio.Pull
    UP = 1


class DigitalInOut:  # digitalio.DigitalInOut
    def __init__(self, pin):
        pass

    def switch_to_input(self, pull=None):
        pass

    @property
    def value(self):
        return not _button()  # pulled up: False while held


GP4 = GP5 = GP15 = A0 = None  # board's pins
