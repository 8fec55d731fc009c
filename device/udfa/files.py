# Board files (device): the two file tests every module needs, on every port (no os.path on
# MicroPython or CircuitPython).
import os


def exists(path):
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def remove(path):
    """Remove a file if it is there."""
    try:
        os.remove(path)
    except OSError:
        pass
