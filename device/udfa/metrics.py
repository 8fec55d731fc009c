# Accuracy bookkeeping (device and host): a confusion matrix of integer counts.
from array import array


class Confusion:
    def __init__(self, n_classes):
        self.n = n_classes
        self.counts = array("i", bytes(4 * n_classes * n_classes))  # [true][predicted]

    def add(self, labels, pred, rows):
        n = self.n
        for r in range(rows):
            self.counts[int(labels[r]) * n + int(pred[r])] += 1

    def clear(self):
        for i in range(len(self.counts)):
            self.counts[i] = 0

    def total(self):
        return sum(self.counts)

    def correct(self):
        return sum(self.counts[i * self.n + i] for i in range(self.n))

    def basis_points(self):
        """Accuracy in units of 0.01 % (integer division, floor)."""
        total = self.total()
        return self.correct() * 10000 // total if total else 0

    def rows(self):
        n = self.n
        return [list(self.counts[i * n:(i + 1) * n]) for i in range(n)]
