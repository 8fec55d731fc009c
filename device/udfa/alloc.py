# Zeroed arrays (device): one allocation where the port allows it. array(t, bytes(n)) first
# makes an n-byte temporary, so a 44 KB weight matrix needs 88 KB at once: on CircuitPython's
# Pico heap (171 KB, fragmented by the imports) that fails. CircuitPython and CPython repeat an
# array in place of that; MicroPython cannot (TypeError) and keeps the temporary.
from array import array

_SIZE = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4}


def zeros(typecode, n):
    try:
        return array(typecode, (0,)) * n
    except TypeError:
        return array(typecode, bytes(_SIZE[typecode] * n))
