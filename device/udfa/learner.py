# On-board learner (device and host): predict one sample and learn from samples one at a
# time, as a board measures them, with the DFA rule of udfa.dfa (MLP models only).
#
#   l = Learner("model.udfa")                  # a model file or a Learner's own checkpoint
#   l = Learner.create("model.udfa", [16, 32, 3])   # or a fresh model (weights zero)
#   cls, scores = l.predict(sample)            # sample: n_in uint8 values
#   l.learn(sample, label)                     # a DFA step each time `batch` samples are in
#   l.save()                                   # atomic; the next Learner(path) resumes
#   l.add_class()                              # one more class, the rest kept
#
# Mini-batching is inside: learn() copies the sample into the DFA batch buffer and steps when
# it is full, so the weights equal udfa.dfa.DFA's stepping the same samples in the same order
# (flush() steps a partial batch, as a feed's last one). predict() and learn() allocate
# nothing (the buffers and row views are made here once).
#
# Inputs: a model with an input map (udfa.prep: 'udfa prepare' of a CSV, the estimator's
# save) takes raw readings as integers (fixed point with the map's `frac` fraction bits, 0
# for ADC counts) and maps them as the PC did; a model without one takes uint8 values
# already on its scale (the examples scale theirs with integer shifts).
#
# The file at `path` after save() is a checkpoint (udfa.checkpoint: the model, then the state
# {"seen", "rounding", "config", "pending"}): agent.evaluate and model.load read it as they
# read a model. "pending" holds the samples of the unfinished batch (hex) and their labels,
# so a learner that resumes makes the same steps as one that never stopped.
#
# Cost (docs/RESULTS.md, Learning on the board; the rp2040 profile's 196-112-10, batch 8, on
# the emulated Pico's clock, native kernel): a learn() that completes a batch is one DFA step,
# about 30 ms, the worst case; one that only buffers 0.15 ms; predict() 2 ms. The learner holds
# about 58 KB of heap (46 KB of weights) and opening it allocates at most 69 KB.
import gc

from udfa import checkpoint, files, kernels
from udfa.dfa import DFA
from udfa.model import Dense, Model, ModelError, load
from udfa.network import Network

try:
    import binascii
except ImportError:  # a port without binascii: save() keeps only whole batches
    binascii = None  # type: ignore
    print("udfa: no binascii here: save() drops the samples of an unfinished batch")

DEFAULTS = {"batch": 8, "lr_shift": 14, "fb_shift": 6, "fb_range": 127, "target": [127, -127]}


class Learner:
    def __init__(self, path="model.udfa", kernel=None, **settings):
        """Open a model file, or resume the checkpoint a Learner saved at `path`. settings:
        DEFAULTS' names (batch, lr_shift, fb_shift, fb_range, target); a resumed learner
        takes its saved ones unless given others. kernel: a name, a module, a list of names
        in order of preference, or None for the fastest here."""
        self.path = path
        found = checkpoint.restore(path)  # None for a plain model file
        model, state = found if found else (load(path), {})
        if hasattr(model, "blocks"):
            raise ModelError("%s holds a CNN (trained by LES): the Learner trains MLPs; "
                             "create one with Learner.create" % path, "a CNN")
        config = dict(DEFAULTS)
        config.update(state.get("config", {}))
        for name in settings:
            if name not in DEFAULTS:
                raise ValueError("Learner takes no setting %r (it takes %s)"
                                 % (name, ", ".join(sorted(DEFAULTS))))
            v = settings[name]
            config[name] = list(v) if isinstance(v, tuple) else v
        self.config = config
        self.model = model
        self.k = kernels.load(None, kernel) if isinstance(kernel, list) else kernels.load(kernel)
        self.seen = state.get("seen", 0)  # samples learnt since the model was created
        self._plain = not found  # path holds a plain model file, not yet a checkpoint
        self.fill = 0  # samples waiting in the batch buffer
        self._build(state.get("rounding"))
        self._restore_pending(state.get("pending"))

    @classmethod
    def create(cls, path, sizes, acts=None, seed=1, init=0, kernel=None, **settings):
        """A fresh model of layer sizes [n_in, hidden..., n_out] (one activation per layer,
        default tanh; weights zero, or uniform in +-init, from the seed) written to `path`
        (an older checkpoint there and its .old/.new are removed), and its Learner."""
        checkpoint.discard(path)
        model = Model(sizes, acts or ["tanh"] * (len(sizes) - 1), None, 255, seed)
        model.init_uniform(init)
        model.save(path)
        del model
        gc.collect()  # its weights go before the Learner reads them back
        return cls(path, kernel, **settings)

    def _build(self, rounding):
        """The DFA trainer and the buffers, for the model as it is now."""
        c = self.config
        self.net = self.pnet = None
        gc.collect()  # add_class: the old trainer's buffers go before the new ones come
        m = self.model
        n_in = m.n_inputs
        k = self.k
        self.net = DFA(m, k, c["batch"], c["lr_shift"], c["fb_shift"], c["fb_range"],
                       tuple(c["target"]))
        if rounding:
            self.net.rounding.hi, self.net.rounding.lo = rounding
        if getattr(self, "x", None) is None:  # the inputs outlive add_class (same n_in)
            self.x = k.buffer(c["batch"], n_in, "B")
            self.labels = k.buffer(c["batch"], 1, "B")
            self._rows = [k.row(self.x, r, n_in) for r in range(c["batch"])]
        # predict: its own one-row network on the same weights, so a partial batch stays and
        # each binding keeps its own cached view of its input (viper's checks it per call)
        self.pnet = Network(m, k, 1)
        self._one = k.buffer(1, n_in, "B")
        self._one_row = k.row(self._one, 0, n_in)
        self.scores = k.row(self.pnet.a[-1], 0, m.n_classes)
        self._result = [0, self.scores]  # predict's answer, reused: a tuple would allocate

    def _copy(self, dest, sample):
        """Copy one sample into a buffer row, through the model's input map if it has one."""
        if len(sample) != len(dest):
            raise ValueError("a sample of %d values; the model %s takes %d"
                             % (len(sample), self.path, len(dest)))
        prep = getattr(self.model, "prep", None)
        if prep:
            prep.apply(sample, dest)
        else:
            dest[:] = sample

    def predict(self, sample):
        """[class, scores] of one sample, to unpack (cls, scores = l.predict(s)): one list
        reused by every call, scores a view of the output layer's int8 activations (valid
        until the next predict or learn step)."""
        self._copy(self._one_row, sample)
        self._result[0] = self.pnet.predict(self._one, 1)[0]
        return self._result

    def learn(self, sample, label):
        """Add one labelled sample; a DFA step when the batch is full. True if it stepped."""
        if not 0 <= label < self.model.n_classes:
            raise ValueError("label %d; the model %s has classes 0..%d (add_class for more)"
                             % (label, self.path, self.model.n_classes - 1))
        self._copy(self._rows[self.fill], sample)
        self.labels[self.fill] = label
        self.fill += 1
        self.seen += 1
        if self.fill < self.config["batch"]:
            return False
        self.flush()
        return True

    def flush(self):
        """Step on the samples waiting in the batch buffer, however few."""
        if self.fill:
            self.net.step(self.x, self.labels, self.fill)
            self.fill = 0

    def save(self):
        """Write the model and the learner's state to `path`, atomically (checkpoint.save)."""
        r = self.net.rounding
        state = {"seen": self.seen, "rounding": [r.hi, r.lo], "config": self.config}
        if self.fill and binascii is not None:
            n = self.fill * self.model.n_inputs
            state["pending"] = [binascii.hexlify(memoryview(self.x)[:n]).decode(),
                                list(self.labels[:self.fill])]
        checkpoint.save(self.path, self.model, state)
        if self._plain:  # PATH.old is the plain model: not a checkpoint restore could take
            files.remove(self.path + ".old")
            self._plain = False

    def _restore_pending(self, pending):
        if not pending or binascii is None:
            return
        data = binascii.unhexlify(pending[0])
        n_in = self.model.n_inputs
        rows = len(pending[1])
        if rows >= self.config["batch"] or len(data) != rows * n_in:
            raise ModelError("checkpoint %s holds %d waiting samples, which a batch of %d "
                             "cannot take: open it with its batch" % (self.path, rows,
                                                                      self.config["batch"]))
        for r in range(rows):
            self._rows[r][:] = data[r * n_in:(r + 1) * n_in]
            self.labels[r] = pending[1][r]
        self.fill = rows

    def add_class(self, name=None):
        """Grow the output layer by one class, keeping what was learnt (the input map's
        class names, if the model has them, get `name`, default its label): the new class's
        weights and bias are zero, the old ones unchanged; the trainer is rebuilt as
        udfa.dfa.DFA builds it for the grown model, so a saved and reopened learner goes on
        identically. Rule for the feedback: DFA draws each hidden layer's matrix class by
        class from XorShift32(seed), first layer first, so the first hidden layer keeps its
        rows and gets the stream's next n_out draws as the new class's row; deeper layers'
        matrices are drawn again from a stream shifted by those draws (still fixed random
        feedback, but new). Returns the new class's label."""
        m = self.model
        old = m.layers[-1]
        n, n_in = old.n_out, old.n_in
        new = Dense(n_in, n + 1, old.act, old.shift, old.in_max)
        for i in range(n_in):
            for j in range(n):
                new.W[i * (n + 1) + j] = old.W[i * n + j]
        for j in range(n):
            new.b[j] = old.b[j]
        m.layers[-1] = new
        m.sizes = m.sizes[:-1] + (n + 1,)
        prep = getattr(m, "prep", None)
        if prep and prep.names:
            prep.names.append(name or str(n))
        del old
        r = self.net.rounding
        self._build([r.hi, r.lo])
        return n
