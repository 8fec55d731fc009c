# Board clock (device): milliseconds since udfa was imported, on every port, for reports.
# MicroPython's ticks_ms wraps (ticks_diff handles it); CircuitPython and CPython have no
# ticks_ms but monotonic_ns (a big int there: fine for a report now and then, not per step).
import time

_ticks = getattr(time, "ticks_ms", None)
_diff = getattr(time, "ticks_diff", None)


def _now():
    return _ticks() if _ticks else time.monotonic_ns() // 1000000


_T0 = _now()


def ms():
    return _diff(_now(), _T0) if _diff else _now() - _T0
