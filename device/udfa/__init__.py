# udfa device package: integer-only neural-network training, runs on MicroPython,
# CircuitPython and CPython. Nothing in here uses floats.
