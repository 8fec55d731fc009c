# Network runtime (device and host): a model bound to a kernel with preallocated batch buffers.
# Inference lives here; training rules (dfa.py) build on it.


class Network:
    def __init__(self, model, kernel, batch=1):
        self.model = model
        self.k = kernel
        self.batch = batch
        self.layers = [kernel.bind(l) for l in model.layers]
        # activations and slopes of every layer for one batch: B x width, int8 / uint8
        self.a = [kernel.buffer(batch, l.n_out, "b") for l in model.layers]
        self.s = [kernel.buffer(batch, l.n_out, "B") for l in model.layers]
        self.pred = kernel.buffer(batch, 1, "B")

    def forward(self, x, rows, slopes=True):
        """Run `rows` samples of the input buffer x (B x n_inputs, uint8) through the net."""
        k = self.k
        for n in range(len(self.layers)):  # no enumerate: it allocates on MicroPython
            k.forward(self.layers[n], x, rows, self.a[n], self.s[n] if slopes else None)
            x = self.a[n]
        return x

    def predict(self, x, rows):
        """Class index of each of `rows` samples, in self.pred."""
        y = self.forward(x, rows, False)
        self.k.argmax(y, rows, self.model.n_classes, self.pred)
        return self.pred
