# Train a small net with the plain kernel and print a CRC of the weights after each batch
# group: the same lines must come out of CPython, MicroPython and the numpy kernel.
from udfa.dfa import DFA
from udfa.kernels import plain
from udfa.model import Model

import synth
from synth import weights_crc

N, N_IN, N_CLS, B = 240, 48, 5, 8
# every activation as a hidden layer's, and both output kinds the recipes use (linear:
# recipe pocketnn's output layer)
ACTS = (["tanh", "relu", "sigmoid"], ["tanh", "tanh", "linear"])


def train(kernel, load, acts=ACTS[0]):
    """load(x_buf, lab_buf, start, rows) copies samples into the kernel's batch buffers."""
    model = Model([N_IN, 24, 12, N_CLS], acts, [11, 9, 9], seed=3)
    model.init_uniform(40)
    net = DFA(model, kernel, batch=B, lr_shift=12, fb_shift=7, target=(110, 3))
    x = kernel.buffer(B, N_IN, "B")
    lab = kernel.buffer(B, 1, "B")
    crcs = synth.train_crcs(net, x, lab, load, N, B, 8 * B)
    return model, crcs


if __name__ == "__main__":
    data, labels = synth.dataset(N, N_IN, N_CLS, 11)

    def load(x, lab, start, rows):
        for i in range(rows * N_IN):
            x[i] = data[start * N_IN + i]
        for r in range(rows):
            lab[r] = labels[start + r]

    for acts in ACTS:
        model, crcs = train(plain, load, acts)
        for c in crcs:
            print("crc", c)
        print("final", weights_crc(model))
