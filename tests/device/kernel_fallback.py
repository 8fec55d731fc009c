# A firmware whose ulab lacks a function the ulab kernel needs (here a fake "ulab 6.1.0"
# without np.frombuffer, put in sys.modules ahead of any built-in ulab): kernels.load() finds
# out when the kernel loads, falls back to the next kernel with one line saying why, and a
# kernel named explicitly raises ImportError saying why and which kernels this board has.
import sys


class _Numpy:
    pass


for _name in ("array", "argmax", "bitwise_and", "clip", "dot", "floor", "full", "max", "min",
              "right_shift", "zeros", "take"):
    setattr(_Numpy, _name, None)


class _Ulab:
    __version__ = "6.1.0"
    numpy = _Numpy()


sys.modules["ulab"] = _Ulab()

from udfa import kernels  # noqa: E402

print("picked", kernels.load(None, ("ulab", "plain")).__name__)
print("again", kernels.load(None, ("ulab", "plain")).__name__)  # no second note
try:
    kernels.load("ulab")
    print("ulab loaded")
except ImportError as e:
    why, has = str(e).split("; this board has: ")
    print(why)
    # the board's kernels as load() tries them: whatever runs here, never the broken ulab
    print("lists the usable kernels:", has.split(", ") == kernels.usable(),
          "plain" in has, "ulab" in has)
