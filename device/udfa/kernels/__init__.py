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
# Backends are imported lazily so a board only pays for the one it runs. A backend that
# cannot run on this firmware raises ImportError with the reason when it is imported (no
# module ulab, a ulab lacking a function it needs, no viper emitter), so load() finds out
# before training starts, not in the middle of it.

# fastest first, measured by the emulated Pico's clock (docs/RESULTS.md, On the emulated Pico):
# native (the plain loops in C, udfa_native.mpy) trains 11x viper, viper 9x plain; ulab (no
# viper or native on CircuitPython) beats plain on the x86 ports (docs/RESULTS.md, Kernels)
PREFERENCE = ("native", "viper", "ulab", "plain")
KNOWN = PREFERENCE  # every backend name load() accepts (a new one: a module and its name here)

_unusable = {}  # type: dict  # name -> why it cannot run here (each is tried once per boot)
_noted = []  # type: list  # fallback notes already printed


def load(name=None, preference=PREFERENCE):
    """The kernel module `name`, or the first of `preference` that runs here; a fallback
    past kernels that cannot run prints one line saying why. A module passed as `name`
    (e.g. the host's numpy kernel) is returned as it is. A `name` that cannot run here
    raises ImportError saying why and which kernels this board has."""
    if name is not None and not isinstance(name, str):
        return name
    if name is not None:
        k = _try(name)
        if k is None:
            raise ImportError("kernel %s cannot run here (%s); this board has: %s"
                              % (name, _unusable[name], ", ".join(usable())))
        return k
    skipped = []
    for candidate in preference:
        k = _try(candidate)
        if k is not None:
            if len(skipped) == 1:
                _note("udfa: kernel %s unusable here (%s): using %s"
                      % (skipped[0], _unusable[skipped[0]], candidate))
            elif skipped:
                _note("udfa: kernels %s unusable here: using %s" % (", ".join(
                    "%s (%s)" % (n, _unusable[n]) for n in skipped), candidate))
            return k
        skipped.append(candidate)
    raise ImportError("no kernel backend runs here (%s)"
                      % "; ".join(n + ": " + _unusable[n] for n in preference))


def usable():
    """The names of the kernels that run on this firmware, in PREFERENCE order."""
    return [n for n in KNOWN if _try(n) is not None]


def _note(line):
    if line not in _noted:
        _noted.append(line)
        print(line)


def _try(name):
    """The backend module, or None when it cannot run here (the reason kept in _unusable)."""
    if name not in KNOWN:
        raise ValueError("unknown kernel %r (have: %s)" % (name, ", ".join(KNOWN)))
    if name in _unusable:
        return None
    try:
        # a non-empty fromlist makes __import__ return the submodule itself
        return __import__("udfa.kernels." + name, None, None, ("bind",))
    except SyntaxError as e:  # CircuitPython rejects @micropython.viper/native when compiling
        _unusable[name] = "no viper/native code emitter: %s" % e
    except ImportError as e:
        _unusable[name] = str(e)
    return None
