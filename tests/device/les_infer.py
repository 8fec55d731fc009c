# Inference of an integer CNN with the plain kernel: prints the class of each synthetic 12x12
# sample. With a model file argument (one trained on the host) it loads that file, else it
# builds a fresh model from its seed. tests/test_les.py compares with the numpy kernel.
import sys

from udfa.conv import ConvModel
from udfa.kernels import plain
from udfa.model import load

import synth

N, B = 30, 4

if __name__ == "__main__":
    if len(sys.argv) > 1:
        model = load(sys.argv[1])
    else:
        model = ConvModel("c6k3p2-c8k3p2-f12-f4", (12, 12, 1), seed=11)
        model.init_kaiming()
    from udfa.conv import ConvNetwork
    net = ConvNetwork(model, plain, None, B)
    xs, _ = synth.dataset(N, 144, 4, 17)
    x = plain.buffer(B, 144, "B")
    out = []
    for s in range(0, N, B):
        rows = min(B, N - s)
        for i in range(rows * 144):
            x[i] = xs[s * 144 + i]
        pred = net.predict(x, rows)
        out.extend(pred[r] for r in range(rows))
    print(model.describe(), "pred", " ".join(str(p) for p in out))
