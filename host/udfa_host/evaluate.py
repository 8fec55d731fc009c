# Host evaluation: accuracy and confusion matrix of an integer model on numpy data, run with
# the numpy kernel through udfa.network, or udfa.conv with the numpy conv ops for a CNN (the
# same forward pass as the board, bit for bit).
import numpy as np

from udfa.conv import ConvModel, ConvNetwork
from udfa.network import Network
from udfa_host import conv_numpy, kernels_numpy


def predict(model, images, batch=1000, net=None):
    """Class predictions for uint8 images (N, n_inputs) or (N, H, W). net: the runtime to
    use, built for `batch` rows (default: the model's, with the numpy kernel)."""
    x_all = np.asarray(images, dtype=np.uint8).reshape(len(images), -1)
    if x_all.shape[1] != model.n_inputs:
        raise ValueError("the data has %d inputs per sample, the model expects %d"
                         % (x_all.shape[1], model.n_inputs))
    if net is None:
        net = (ConvNetwork(model, kernels_numpy, conv_numpy, batch)
               if isinstance(model, ConvModel) else Network(model, kernels_numpy, batch))
    x = kernels_numpy.buffer(batch, model.n_inputs, "B")
    out = np.empty(len(x_all), dtype=np.int64)
    for s in range(0, len(x_all), batch):
        rows = min(batch, len(x_all) - s)
        x[:rows] = x_all[s:s + rows].reshape(x[:rows].shape)  # 1 input: x is a vector
        out[s:s + rows] = net.predict(x, rows)[:rows]
    return out


def evaluate(model, images, labels, batch=1000):
    """(accuracy in 0..1, confusion matrix [true][predicted] as an int64 array)."""
    pred = predict(model, images, batch)
    labels = np.asarray(labels, dtype=np.int64)
    n = model.n_classes
    confusion = np.bincount(labels * n + pred, minlength=n * n).reshape(n, n)
    return float((pred == labels).mean()), confusion
