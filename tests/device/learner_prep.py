# The Learner on raw readings (udfa.learner with a model's input map, udfa.prep): with
# arguments MODEL READINGS (int32 readings, n per sample, as tests/test_datasets.py writes
# them) it predicts every reading, learns them (label: index mod classes), saves, reopens the
# checkpoint and predicts again. Prints the predictions, the reopened map's class names and
# the weights' CRC, which must equal CPython's, and the host's predictions for the first line.
import sys
from array import array

from udfa.checksum import crc32
from udfa.learner import Learner

if len(sys.argv) < 3:
    print("SKIP needs MODEL READINGS: run by tests/test_datasets.py")
    sys.exit()
path, readings_path = sys.argv[1], sys.argv[2]
l = Learner(path, kernel="plain", batch=4, lr_shift=12)
n = l.model.n_inputs
with open(readings_path, "rb") as f:
    data = array("i", f.read())
samples = [data[r * n:(r + 1) * n] for r in range(len(data) // n)]
print("before", " ".join(str(l.predict(s)[0]) for s in samples))
for i, s in enumerate(samples):
    l.learn(s, i % l.model.n_classes)
l.save()
again = Learner(path, kernel="plain")
print("names", ",".join(again.model.prep.names), "frac", again.model.prep.frac)
print("after", " ".join(str(again.predict(s)[0]) for s in samples))
crc = 0
for layer in again.model.layers:
    crc = crc32(layer.W, crc32(layer.b, crc))
print("weights crc", crc & 0xFFFFFFFF)
