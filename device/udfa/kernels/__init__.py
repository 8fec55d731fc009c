# Kernel backends (device): one module each, same function names, picked at run time.
#
# The interface every backend implements (see plain.py, the reference):
#   buffer(rows, cols, typecode) -> a zeroed rows x cols buffer ('B', 'b', 'h' or 'i')
#   row(buf, r, cols) -> a writable view of row r, for readinto (made once)
#   matrix(flat_array, rows, cols) -> this backend's view of a flat row-major array
#   bind(layer) -> handle passed to the functions below
#   forward(L, x, rows, a, s)           activations a and slopes s of `rows` samples
#   output_delta(L, y, s, labels, rows, hi, lo, e, d)
#   hidden_delta(L, e, R, n_cls, s, rows, shift, d)
#   update(L, x, d, rows, lr_shift, offset)
#   argmax(y, rows, n, out)
# Backends are imported lazily so a board only pays for the one it runs.

# fastest first, measured on the unix ports (docs/RESULTS.md, Kernels): viper is exact,
# allocates nothing and beats ulab's exact float32 path; ulab still beats plain loops
# native (C, from udfa_native.mpy) is the plain loops compiled: on the emulated Pico it beats
# viper several times over (docs/RESULTS.md, On the emulated Pico)
PREFERENCE = ("native", "viper", "ulab", "plain")


def load(name=None, preference=PREFERENCE):
    """The kernel module `name`, or the first of `preference` that imports here.
    A module passed as `name` (e.g. the host's numpy kernel) is returned as it is."""
    if name is not None:
        return _import(name) if isinstance(name, str) else name
    for candidate in preference:
        try:
            return _import(candidate)
        except ImportError:
            pass
    raise ImportError("no kernel backend imports here (tried %s)" % ", ".join(preference))


def _import(name):
    if name == "plain":
        from udfa.kernels import plain as k
    elif name == "viper":
        try:
            from udfa.kernels import viper as k
        except SyntaxError:  # a port without the viper emitter (CircuitPython) rejects it
            raise ImportError("this port has no viper code emitter")
    elif name == "native":
        from udfa.kernels import native as k
    elif name == "ulab":
        from udfa.kernels import ulab as k
    else:
        raise ValueError("unknown kernel %r (have: %s)" % (name, ", ".join(PREFERENCE)))
    return k
