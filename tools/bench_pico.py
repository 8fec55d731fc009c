# Runs on the PC: drives an emulated Raspberry Pi Pico (../shared/pico, the real MicroPython
# rp2 firmware, Cortex-M0+ cycles counted) and, as its device half, on the board itself.
"""bench_pico: kernel speed by the board's own clock on the emulated Pico (or a real board).

Usage: python3 tools/bench_pico.py [--port PTY] [--firmware micropython|circuitpython]
                                   [--profiles rp2040,esp32,rp2040-cnn]
                                   [--kernels native,viper,ulab,plain] [--json FILE]

Starts an emulated Pico on its own pseudo-terminal (--pty, default /tmp/pico-bench; stopped at
the end) unless --port names a board already running, installs udfa with `udfa deploy`'s code
(the .mpy files the board's architecture loads), pushes a shard of MNIST demo samples and, for
each profile and kernel the firmware imports, measures on the board with time.ticks_us (which
follows the emulated cycle count at 125 MHz, so these are a real Pico's figures, not the PC's):
  - training and inference samples/s (the trainer's own step / predict, batch of the profile);
  - the cycles of each part of a training step per sample (cycles = us * 125): forward,
    feedback (output and hidden deltas), update, activation (a forward of an all-zero input:
    bias, the zero test of each input, clamp and table look-ups), data feed (ShardFeed
    reading the batch from the flash file system);
  - cycles per multiply-accumulate: a step's cycles over its dense MAC count (every input
    times every output in forward and update, errors times feedback; zero inputs are
    skipped by every kernel, so a sparse image costs less than this count);
  - heap: gc.mem_free before udfa is imported, after setup, and the lowest seen while training.
It prints a table and the same figures as JSON (--json FILE writes them too).
The CNN (rp2040-cnn) reports training and inference only (LES, batch 1).
"""
import gc
import sys

CLOCK_HZ = 125000000  # the RP2040's system clock, which the emulator's ticks_us follows


# ---- device half: sent to the board as source (inspect.getsource), run there -------------

def bench_dense(kernel, sizes, batch, prefix, n_train, n_infer):
    """Train n_train batches and predict n_infer of the profile's MLP; print a RESULT line."""
    import time

    gc.collect()
    free0 = gc.mem_free()
    from udfa import kernels
    from udfa.dfa import DFA
    from udfa.feed import ShardFeed
    from udfa.model import Model

    try:
        k = kernels.load(kernel)
    except ImportError as e:
        print("RESULT", repr({"kernel": kernel, "skip": str(e)}))
        return
    model = Model(sizes, ["tanh"] * (len(sizes) - 1), seed=1)
    model.init_uniform(3000)  # about where training from zero leaves layer 1 after an epoch
    net = DFA(model, k, batch=batch, lr_shift=15, fb_shift=6, target=(127, -127))
    feed = ShardFeed(prefix, k, batch, sizes[0], sizes[-1])
    parts = PartTimer(k)
    zeros = [k.buffer(batch, l.n_in, "B" if n == 0 else "b") for n, l in enumerate(model.layers)]
    it = feed.batches(1, 0)
    rows = next(it)
    x = feed.x
    lab = feed.labels
    net.step(x, lab, rows)  # warm up (viper's per-buffer checks, first allocations)
    gc.collect()
    setup = gc.mem_free()
    low = setup
    ticks, diff = clock()
    train_us = feed_us = 0
    samples = 0
    for n in range(n_train):
        t0 = ticks()
        try:
            rows = next(it)
        except StopIteration:
            it = feed.batches(1, n)
            rows = next(it)
        t1 = ticks()
        net.step(x, lab, rows)
        t2 = ticks()
        feed_us += diff(t1, t0)
        train_us += diff(t2, t1)
        samples += rows
        low = min(low, gc.mem_free())
    net.k = parts  # the same step once more, each kernel call timed
    net.step(x, lab, rows)
    net.k = k
    act_us = 0
    for n in range(len(model.layers)):
        t0 = ticks()
        k.forward(net.layers[n], zeros[n], rows, net.a[n], net.s[n])
        act_us += diff(ticks(), t0)
    infer_us = 0
    for n in range(n_infer):
        t0 = ticks()
        net.predict(x, rows)
        infer_us += diff(ticks(), t0)
        low = min(low, gc.mem_free())
    print("RESULT", repr({
        "kernel": kernel, "train_us": train_us, "train_samples": samples,
        "infer_us": infer_us, "infer_samples": n_infer * rows, "part_rows": rows,
        "forward_us": parts.us[0], "feedback_us": parts.us[1], "update_us": parts.us[2],
        "activation_us": act_us, "feed_us": feed_us, "free_before": free0,
        "free_setup": setup, "free_low": low}))


class PartTimer:
    """A kernel stand-in that times the calls a DFA step makes (explicit arguments: *args
    would allocate a tuple per call)."""

    def __init__(self, k):
        import time

        self.k = k
        self.ticks, self.diff = clock()
        self.us = [0, 0, 0]  # forward, feedback (output + hidden deltas), update

    def forward(self, L, x, rows, a, s):
        t0 = self.ticks()
        self.k.forward(L, x, rows, a, s)
        self.us[0] += self.diff(self.ticks(), t0)

    def output_delta(self, L, y, s, labels, rows, hi, lo, e, d):
        t0 = self.ticks()
        self.k.output_delta(L, y, s, labels, rows, hi, lo, e, d)
        self.us[1] += self.diff(self.ticks(), t0)

    def hidden_delta(self, L, e, R, n_cls, s, rows, shift, d):
        t0 = self.ticks()
        self.k.hidden_delta(L, e, R, n_cls, s, rows, shift, d)
        self.us[1] += self.diff(self.ticks(), t0)

    def update(self, L, x, d, rows, lr_shift, offset):
        t0 = self.ticks()
        self.k.update(L, x, d, rows, lr_shift, offset)
        self.us[2] += self.diff(self.ticks(), t0)


def bench_cnn(kernel, profile_path, prefix, n_train, n_infer):
    """LES steps (batch 1) and predictions of the profile's CNN; print a RESULT line."""
    import json
    import time

    gc.collect()
    free0 = gc.mem_free()
    from udfa import kernels
    from udfa.conv import ConvModel
    from udfa.feed import ShardFeed
    from udfa.les import LES, check_kernel

    try:
        k = kernels.load(kernel)
        check_kernel(k)  # LES trains on every kernel but ulab
    except (ImportError, ValueError) as e:
        print("RESULT", repr({"kernel": kernel, "skip": str(e)}))
        return
    with open(profile_path) as f:
        profile = json.load(f)
    t = profile["train"]
    model = ConvModel(profile["network"]["spec"], profile["network"]["shape"], 255, 1)
    model.init_kaiming()
    net = LES(model, k, None, 1, t["lr_shift"], t["head_lr_shift"], t["bw_shift"],
              t["wd_shift"], t["target"])
    feed = ShardFeed(prefix, k, 1, model.n_inputs, model.n_classes)
    it = feed.batches(1, 0)
    x = feed.x
    lab = feed.labels
    next(it)
    net.step(x, lab, 1)
    gc.collect()
    setup = gc.mem_free()
    low = setup
    ticks, diff = clock()
    train_us = 0
    for n in range(n_train):
        try:
            next(it)
        except StopIteration:
            it = feed.batches(1, n)
            next(it)
        t0 = ticks()
        net.step(x, lab, 1)
        train_us += diff(ticks(), t0)
        low = min(low, gc.mem_free())
    infer_us = 0
    for n in range(n_infer):
        t0 = ticks()
        net.predict(x, 1)
        infer_us += diff(ticks(), t0)
    print("RESULT", repr({
        "kernel": kernel, "train_us": train_us, "train_samples": n_train,
        "infer_us": infer_us, "infer_samples": n_infer, "free_before": free0,
        "free_setup": setup, "free_low": low}))


def clock():
    """(ticks_us, ticks_diff) of the board: MicroPython's, or CircuitPython's monotonic_ns
    (the same cycle-counted clock; a big int there, read outside the timed calls)."""
    import time

    if hasattr(time, "ticks_us"):
        return time.ticks_us, time.ticks_diff
    return (lambda: time.monotonic_ns() // 1000), (lambda a, b: a - b)


DEVICE_CODE = (clock, bench_dense, PartTimer, bench_cnn)

# ---- host half ---------------------------------------------------------------------------

PROFILES = ("rp2040", "esp32", "rp2040-cnn")
KERNELS = ("native", "viper", "ulab", "plain")
# (training batches or CNN samples, inference batches or samples) per kernel: plain loops take
# ~0.3 s of board time per MLP sample and ~2.5 s per CNN sample
RUNS = {"plain": (1, 1), "viper": (6, 6), "native": (24, 24), "ulab": (2, 2)}
CNN_RUNS = {"plain": (2, 2), "viper": (8, 16), "native": (16, 32), "ulab": (2, 2)}
N_SAMPLES = 96  # pushed once, 19 KB


def dense_macs(sizes):
    """Multiply-accumulates of one training step per sample, every input counted: forward
    and update (x W, x^T d and the bias) of every layer, e R of every hidden layer."""
    macs = 0
    for n in range(len(sizes) - 1):
        macs += 2 * sizes[n] * sizes[n + 1] + sizes[n + 1]
        if n < len(sizes) - 2:
            macs += sizes[-1] * sizes[n + 1]
    return macs


def summarize(profile, sizes, r):
    """The figures of one RESULT: samples/s, cycles per sample of each part, per MAC, heap."""
    out = {"profile": profile, "kernel": r["kernel"]}
    if "skip" in r:
        out["skip"] = r["skip"]
        return out
    out["train_per_s"] = round(r["train_samples"] * 1e6 / r["train_us"], 1)
    out["infer_per_s"] = round(r["infer_samples"] * 1e6 / r["infer_us"], 1)
    out["heap_free_before"] = r["free_before"]
    out["heap_used"] = r["free_before"] - r["free_setup"]
    out["heap_free_low"] = r["free_low"]
    if sizes:
        cyc = CLOCK_HZ // 1000000
        rows = r["part_rows"]
        for part in ("forward", "feedback", "update", "activation"):
            out[part + "_cyc"] = r[part + "_us"] * cyc // rows
        out["feed_cyc"] = r["feed_us"] * cyc // r["train_samples"]
        step_cyc = r["train_us"] * cyc / r["train_samples"]
        out["train_cyc"] = int(step_cyc)
        out["macs"] = dense_macs(sizes)
        out["cyc_per_mac"] = round(step_cyc / out["macs"], 2)
    return out


def table(rows):
    head = ("profile", "kernel", "train/s", "infer/s", "cyc/MAC", "fwd", "fback", "upd",
            "act", "feed", "heap used", "free low")
    lines = ["%-10s %-6s %8s %8s %7s %8s %7s %8s %7s %7s %9s %8s" % head]
    for o in rows:
        if "skip" in o:
            lines.append("%-10s %-6s skipped: %s" % (o["profile"], o["kernel"], o["skip"]))
            continue
        lines.append("%-10s %-6s %8s %8s %7s %8s %7s %8s %7s %7s %9s %8s" % (
            o["profile"], o["kernel"], o["train_per_s"], o["infer_per_s"],
            o.get("cyc_per_mac", "-"), o.get("forward_cyc", "-"), o.get("feedback_cyc", "-"),
            o.get("update_cyc", "-"), o.get("activation_cyc", "-"), o.get("feed_cyc", "-"),
            o["heap_used"], o["heap_free_low"]))
    lines.append("(fwd .. feed: board cycles per sample of a training step; heap in bytes)")
    return "\n".join(lines)


def host_main():
    import argparse
    import ast
    import inspect
    import json
    import os
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(root / "host"), str(root / "device")]
    from udfa_host import deploy
    from udfa_host import pico as pico_mod
    from udfa_host.idx import load_images
    from udfa_host.link import Board
    from udfa_host.shards import write_shards

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", help="a board already running (default: start an emulated one)")
    ap.add_argument("--pty", default="/tmp/pico-bench", help="the emulated Pico's pty")
    ap.add_argument("--profiles", default=",".join(PROFILES))
    ap.add_argument("--kernels", default=",".join(KERNELS))
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--firmware", choices=pico_mod.FIRMWARES, default="micropython",
                    help="the emulated Pico's firmware (circuitpython: udfa goes onto its "
                    "drive, compiled by --mpy-cross)")
    ap.add_argument("--mpy-cross", default=os.environ.get(
        "UDFA_MPY_CROSS", str(root.parent / "shared" / "bin" / "mpy-cross-circuitpython")),
                    help="CircuitPython's mpy-cross (default: $UDFA_MPY_CROSS, or ../shared's)")
    args = ap.parse_args()
    emulator = pico_mod.EmulatedPico(args.pty, args.firmware, os.environ.get(
        "UDFA_PICO_EMU", str(root.parent / "shared" / "pico" / "emu")))
    port = args.port
    if port is None:
        drive = None
        if args.firmware == "circuitpython":
            drive = tempfile.mkdtemp()
            deploy.deploy_drive(drive, entry=True, mpy_cross=args.mpy_cross)
        emulator.start(drive=drive, fresh=True)
        port = args.pty
    results = []
    try:
        with Board.open(port) as board, tempfile.TemporaryDirectory() as tmp:
            sent, skipped = deploy.deploy(board, entry=False, quiet=True,
                                          mpy_cross=args.mpy_cross)
            print("deployed: %d files sent, %d already there" % (len(sent), len(skipped)),
                  flush=True)
            images, labels = load_images(root / "data" / "mnist-demo", "train", 14, N_SAMPLES)
            shard = write_shards(images, labels, tmp, "bench", 1 << 20)[0]
            board.mkdir("bench", exist_ok=True)
            board.put(str(shard), "bench/bench-000.uds")
            board.put(str(root / "boards" / "rp2040-cnn.json"), "bench/rp2040-cnn.json")
            code = "import gc\n" + "\n".join(inspect.getsource(f) for f in DEVICE_CODE)
            for prof in args.profiles.split(","):
                spec = json.loads((root / "boards" / (prof + ".json")).read_text())
                cnn = "spec" in spec["network"]
                net = spec["network"]
                sizes = None if cnn else [net["inputs"]] + net["hidden"] + [net["outputs"]]
                for kernel in args.kernels.split(","):
                    n_train, n_infer = (CNN_RUNS if cnn else RUNS)[kernel]
                    if cnn:
                        call = "bench_cnn(%r, 'bench/rp2040-cnn.json', 'bench/bench', %d, %d)" % (
                            kernel, n_train, n_infer)
                    else:
                        call = "bench_dense(%r, %r, %d, 'bench/bench', %d, %d)" % (
                            kernel, sizes, spec["train"]["batch"], n_train, n_infer)
                    board.soft_reset()  # a fresh heap for each run
                    out = board.exec(code + "\n" + call, timeout=1800)
                    line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
                    if not line:
                        raise SystemExit("bench_pico: no RESULT from %s %s:\n%s"
                                         % (prof, kernel, out))
                    o = summarize(prof, sizes, ast.literal_eval(line[0][len("RESULT "):]))
                    results.append(o)
                    print(table([o]).splitlines()[1], flush=True)
    finally:
        if args.port is None:
            emulator.stop()
    print()
    print(table(results))
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    host_main()
