# Runs on the PC: udfa as a scikit-learn-style classifier (udfa_host.Classifier). It fits the
# integer input map (udfa.prep) on the training data, writes shards to a temp folder and
# trains through the board's own loop (udfa.agent.train, numpy kernel), so its weights equal a
# board's trained on the same shards; save() writes a model file, input map included, that a
# board loads. scikit-learn is optional (pip install udfa[sklearn]): with it the class is a
# BaseEstimator and drops into Pipeline and cross_val_score.
import contextlib
import inspect
import io
import tempfile
from pathlib import Path

import numpy as np

from udfa import agent, model as model_file
from udfa.network import Network
from udfa_host import datasets, kernels_numpy, preprocess
from udfa_host.boards import load_profile
from udfa_host.evaluate import predict as predict_u8
from udfa_host.fit import split_validation, train_epochs
from udfa_host.shards import write_shards

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
    HAVE_SKLEARN = True
except ImportError:  # the same contract without scikit-learn
    HAVE_SKLEARN = False

    class BaseEstimator:
        @classmethod
        def _get_param_names(cls):
            return sorted(p for p in inspect.signature(cls.__init__).parameters if p != "self")

        def get_params(self, deep=True):
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params):
            for k, v in params.items():
                if k not in self._get_param_names():
                    raise ValueError("%s takes no parameter %r" % (type(self).__name__, k))
                setattr(self, k, v)
            return self

    class ClassifierMixin:
        def score(self, X, y):
            return float(np.mean(self.predict(X) == np.asarray(y)))

DFA_RULE = {"fb_shift": 6, "target": [127, -127]}
LES_RULE = {"bw_shift": 10, "wd_shift": 0, "target": [64, 0]}


class NotFittedError(ValueError, AttributeError):
    """As scikit-learn's: predict before fit."""


# The learning-rate shift when none is given: the one the board recipes use (batch 8-16,
# mnist14-*); small data sets keep it and learn over more epochs (datasets.auto_epochs). A screen of
# 8 epochs, 3 folds: shift 12 helped iris and breast_cancer but cost digits 3-8 points,
# shift 10 was worse on all four of iris, wine, breast_cancer, digits.
DEFAULT_LR_SHIFT = 15


class Classifier(ClassifierMixin, BaseEstimator):
    """An integer MLP trained by DFA (rule="dfa") or local error signals (rule="les").

    hidden: hidden width (default: from the data's size and the profile's weight budget);
    epochs (default: from the data's size); batch; lr_shift (learning rate 2^-N); seed;
    validation: fraction of the training data held out, stratified, to pick the epoch to
    keep (0: keep the last); patience: stop after this many epochs without a better
    validation score; profile: a board profile whose heap the weights must fit."""

    def __init__(self, hidden=None, rule="dfa", epochs=None, batch=16, lr_shift=None, seed=1,
                 validation=0.1, patience=10, decay=None, profile=None):
        self.hidden = hidden
        self.rule = rule
        self.epochs = epochs
        self.batch = batch
        self.lr_shift = lr_shift
        self.seed = seed
        self.validation = validation
        self.patience = patience
        self.decay = decay
        self.profile = profile

    # ---- scikit-learn's contract --------------------------------------------------------

    if HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.allow_nan = False
            return tags

    def fit(self, X, y):
        if y is None:
            raise ValueError("Classifier requires y to be passed, but the target y is None")
        X, y = self._validate(X, y, True)
        data = datasets.from_arrays(X, y, "X")
        train, val = (split_validation(data.y, self.validation, self.seed) if self.validation
                      else (np.arange(len(data)), np.zeros(0, np.int64)))
        if not len(train):
            raise ValueError("no samples left to train on after the validation split")
        self._start(data.take(train), np.unique(y))
        return self._train(data, self._epochs(len(data)), train, val)

    def _validate(self, X, y=None, reset=False):
        """scikit-learn's own input checks where it is installed (its error messages, sparse
        and complex input refused, n_features_in_); numpy arrays otherwise."""
        if not HAVE_SKLEARN:
            return np.asarray(X), (None if y is None else np.asarray(y))
        if y is None:
            return validate_data(self, X, reset=reset, allow_nd=True), None
        X, y = validate_data(self, X, y, reset=reset, allow_nd=True)
        check_classification_targets(y)
        return X, y

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), from where the last call left the weights (the first call
        fits the input map on its X and needs `classes`, or takes y's). Each call is
        agent.train on shards of this data, fresh=True from the current model."""
        first = not hasattr(self, "model_")
        X, y = self._validate(X, y, first)
        if first:
            classes = np.unique(y) if classes is None else np.asarray(classes)
            data = datasets.from_arrays(X, y, "X", classes=np.sort(classes))
            self._start(data, np.sort(classes))
        else:
            data = datasets.from_arrays(X, y, "X", classes=self.classes_)
            self._check_features(data)
        return self._train(data, 1, np.arange(len(data)), np.zeros(0, np.int64))

    def predict(self, X):
        u8 = self._inputs(X)
        return self.classes_[predict_u8(self.model_, u8, 500)]

    def decision_function(self, X):
        """The output layer's integer activations (N, classes); for two classes, the second
        minus the first (N,), as scikit-learn expects."""
        u8 = self._inputs(X)
        if hasattr(self.model_, "blocks"):  # trained by LES: a udfa.conv model
            from udfa.conv import ConvNetwork
            from udfa_host import conv_numpy
            net = ConvNetwork(self.model_, kernels_numpy, conv_numpy, len(u8))
        else:
            net = Network(self.model_, kernels_numpy, len(u8))
        y = np.asarray(net.forward(np.ascontiguousarray(u8), len(u8), False), np.int64)
        y = y.reshape(len(u8), -1).astype(np.float64)
        return y[:, 1] - y[:, 0] if y.shape[1] == 2 else y

    def save(self, path):
        """Write the model file a board loads (udfa.model.load), with the input map, class
        names and input shape in its trailing section."""
        self._check_fitted()
        self.model_.prep = self.prep_
        preprocess.save_model(self.model_, str(path))
        return path

    # ---- the work -----------------------------------------------------------------------

    def _check_fitted(self):
        if HAVE_SKLEARN:
            check_is_fitted(self, "model_")
        elif not hasattr(self, "model_"):
            raise NotFittedError("this Classifier is not fitted yet: call fit first")

    def _check_features(self, data):
        if data.n_inputs != self.prep_.n:
            raise ValueError("X has %d features, but this Classifier was fitted on %d"
                             % (data.n_inputs, self.prep_.n))

    def _inputs(self, X):
        self._check_fitted()
        x = self._validate(X)[0]
        if x.ndim < 2:
            raise ValueError("expected 2D array (samples, features), got shape %s; reshape "
                             "a single sample with X.reshape(1, -1)" % (x.shape,))
        if x.dtype.kind not in "iufb":
            raise ValueError("X holds %s, not numbers" % x.dtype)
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError("X holds NaN or infinity; fill in or drop missing values")
        if int(np.prod(x.shape[1:])) != self.prep_.n:
            raise ValueError("X has %d features, but this Classifier was fitted on %d"
                             % (int(np.prod(x.shape[1:])), self.prep_.n))
        return preprocess.apply(self.prep_, x)

    def _epochs(self, n):
        return self.epochs or datasets.auto_epochs(n)

    def _start(self, data, classes):
        """Fix the classes, the input map (fitted on `data`: the training part, without the
        validation split), the network."""
        if self.rule not in ("dfa", "les"):
            raise ValueError("rule must be 'dfa' or 'les', not %r" % (self.rule,))
        self.classes_ = classes
        if not HAVE_SKLEARN:
            self.n_features_in_ = data.n_inputs
        k = len(classes)
        profile = load_profile(self.profile) if self.profile else None
        budget = datasets.weights_budget(profile) if profile else None
        self.hidden_ = self.hidden or datasets.auto_hidden(data.n_inputs, k, budget)
        if profile:
            datasets.check_fits(data, profile, [self.hidden_])
        self.prep_ = preprocess.fit(data.x, data.shape, data.classes)
        self.rule_ = dict(DFA_RULE if self.rule == "dfa" else LES_RULE)
        with tempfile.TemporaryDirectory(prefix="udfa-est-") as work, \
                contextlib.redirect_stdout(io.StringIO()):
            model_path = str(Path(work) / "model.udfa")
            if self.rule == "dfa":
                agent.create(model_path, [data.n_inputs, self.hidden_, max(2, k)],
                             ["tanh", "tanh"], None, self.seed)
            else:
                agent.create(model_path, "f%d-f%d" % (self.hidden_, max(2, k)),
                             shape=data.shape, seed=self.seed)
            self.model_ = model_file.load(model_path)

    def _train(self, data, epochs, train_idx, val_idx):
        """Train `epochs` on data's rows train_idx; rows val_idx pick the epoch kept."""
        k = len(self.classes_)
        u8 = preprocess.apply(self.prep_, data.x)
        val_x, val_y = u8[val_idx], data.y[val_idx]
        shape = data.shape if data.x.ndim == 4 else (1, data.n_inputs, 1)
        lr = DEFAULT_LR_SHIFT if self.lr_shift is None else self.lr_shift
        rule = dict(self.rule_, lr_shift=lr if self.rule == "dfa" else lr - 2)
        if self.rule == "les":
            rule["head_lr_shift"] = lr - 5
        with tempfile.TemporaryDirectory(prefix="udfa-fit-") as work:
            x = u8[train_idx].reshape((len(train_idx),) + shape)
            shards = [str(p) for p in write_shards(x, data.y[train_idx], work, "train",
                                                   1 << 30, n_classes=max(2, k))]
            model_path = str(Path(work) / "start.udfa")
            preprocess.save_model(self.model_, model_path)

            def figures(model, h):
                if len(val_y):
                    h["val_accuracy"] = float((predict_u8(model, val_x, 500) == val_y).mean())
                return h.get("val_accuracy")

            self.model_, self.history_ = train_epochs(
                shards, model_path, work, epochs, self.batch, self.decay or 10 ** 6, rule,
                figures, self.patience)
        self.model_.prep = self.prep_
        return self
