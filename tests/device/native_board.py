# The native kernel on a board (the emulated Pico or a real one, after `udfa deploy`): it is
# the kernel loaded first, with its C conv ops, and it trains to the same bytes as plain
# (tests/device/train_exact.py's net, weights CRC after every 64 samples) and as viper (the
# board CNN of les_board14, 16 LES steps). Run with the board's lib/ holding udfa and
# udfa_native.mpy, and synth.py, train_exact.py and les_*.py of tests/device beside it:
#   mpremote connect PORT fs cp synth.py train_exact.py les_board14.py les_exact.py \
#     les_kernels.py : + run native_board.py
# Prints SKIP where udfa_native does not load (CPython, CircuitPython, another arch).
import sys

import les_kernels
import synth
import train_exact
from udfa import kernels
from udfa.conv import default_ops

try:
    native = kernels.load("native")
except ImportError as e:
    print("SKIP")
    print(e, file=sys.stderr)
    raise SystemExit
data, labels = synth.dataset(train_exact.N, train_exact.N_IN, train_exact.N_CLS, 11)
load = les_kernels.load_flat(data, labels, train_exact.N_IN)
print("loaded first:", kernels.load().__name__, default_ops(native).__name__)
crcs = {}
for name in ("plain", "native"):
    model, crcs[name] = train_exact.train(kernels.load(name), load)
    crcs[name].append(synth.weights_crc(model))
    print(name, " ".join(str(c) for c in crcs[name]))
cnn = {}
for name in ("native", "viper"):
    try:
        cnn[name] = les_kernels.board(kernels.load(name))
        print("board CNN", name, cnn[name])
    except ImportError:
        pass
same = crcs["native"] == crcs["plain"] and len(set(cnn.values())) == 1
print("native matches plain%s: %s" % (" and viper" if "viper" in cnn else "", same))
print("port:", sys.implementation.name, sys.platform, file=sys.stderr)
