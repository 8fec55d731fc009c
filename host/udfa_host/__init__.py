# udfa host package (CPython): data preparation, board I/O, training drivers, evaluation, plots.
# udfa_host.Classifier (estimator.py) is imported on first use: the CLI does not pay for it.


def __getattr__(name):
    if name == "Classifier":
        from .estimator import Classifier
        return Classifier
    raise AttributeError("module 'udfa_host' has no attribute %r" % name)
