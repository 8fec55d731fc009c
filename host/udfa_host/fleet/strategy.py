"""Runs on the PC (ServerApp side): federated averaging over a udfa model's integer weights.

integer_average() is the rule, written once:

    w = clip(floor((sum_i w_i n_i + N // 2) / N), -wmax, +wmax),   N = sum_i n_i

for every weight, w_i the board's int16 weight and n_i its sample count for the round: the
sample-weighted mean rounded half up (floor of x + 1/2), computed exactly in int64
(|sum_i w_i n_i| <= 32767 N < 2^63 while N < 2^48 samples), then clipped to the layer's
wmax (udfa.model.Dense: the bound that keeps a board's dot products small ints). Integer
sums do not depend on the order the replies arrive in, so a round's result is the same
whichever board answers first.

IntegerFedAvg is Flower's FedAvg with that rule: every reply is checked first (its arrays
against the model's layout and the CRC-32 sent with them, its sample count), a bad one is
dropped with a log line naming the node, and a round with fewer than `min_replies` good
replies leaves the global model as it was.
"""
from logging import WARNING

import numpy as np
from flwr.app import ArrayRecord, MetricRecord
from flwr.serverapp.strategy import FedAvg
from flwr.supercore import log

from . import weights

COUNT_KEY = "num-examples"  # the sample count a reply is weighted by (FedAvg's default key)
CRC_KEY = "weights-crc"


def integer_average(replies, wmaxes):
    """replies: [(arrays, n_samples), ...]; wmaxes: one bound per array. Returns the
    averaged int16 arrays (the rule in the module's docstring)."""
    total = sum(int(n) for _, n in replies)
    if total < 1:
        raise ValueError("no samples to average over")
    out = []
    for k, wmax in enumerate(wmaxes):
        acc = np.zeros(np.shape(replies[0][0][k]), np.int64)
        for arrays, n in replies:
            acc += arrays[k].astype(np.int64) * int(n)
        mean = np.floor_divide(acc + total // 2, total)  # floors, for negatives too
        out.append(np.clip(mean, -wmax, wmax).astype(np.int16))
    return out


class IntegerFedAvg(FedAvg):
    """FedAvg over int16 weights. layout: weights.layout(model) of the global model;
    min_replies: good replies a round needs to change the model. on_round(dict) sees each
    round's figures (replies, dropped, bytes moved); done: rounds run before this start (a
    resumed fleet: Flower counts from 1 again, the logs go on from done + 1)."""

    def __init__(self, layout, min_replies=1, on_round=None, done=0, **fedavg):
        super().__init__(weighted_by_key=COUNT_KEY, **fedavg)
        self.layout = layout
        self.done = done
        self.min_replies = min_replies
        self.on_round = on_round
        self.asked = []

    def configure_train(self, server_round, arrays, config, grid):
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self.asked = [m.metadata.dst_node_id for m in messages]
        return messages

    def configure_evaluate(self, server_round, arrays, config, grid):
        return []  # the server evaluates the global model itself (server.py)

    def aggregate_train(self, server_round, replies):
        server_round += self.done
        replies = list(replies)
        good, dropped = [], []
        for msg in replies:
            node = msg.metadata.src_node_id
            if msg.has_error():
                dropped.append(node)
                log(WARNING, "udfa fleet: round %d: node %d failed (%s): left out of the "
                    "average", server_round, node, msg.error.reason)
                continue
            try:
                good.append(self._unpack(msg.content))
            except weights.WeightsError as e:
                dropped.append(node)
                log(WARNING, "udfa fleet: round %d: node %d sent bad weights (%s): dropped",
                    server_round, node, e)
        answered = {msg.metadata.src_node_id for msg in replies}
        missing = [n for n in self.asked if n not in answered]
        for node in missing:
            log(WARNING, "udfa fleet: round %d: node %d did not answer in time (--timeout): "
                "left out of the average", server_round, node)
        model_bytes = weights.nbytes([np.zeros(s, np.int16) for s, _ in self.layout])
        sent = len(self.asked)
        figures = {"round": server_round, "asked": sent, "replies": len(good),
                   "dropped": dropped + missing, "missing": missing,
                   "bytes": model_bytes * (sent + len(good)),
                   "samples": sum(n for _, n, _ in good)}
        if len(good) < max(1, self.min_replies):
            log(WARNING, "udfa fleet: round %d: %d good replies of %d, %d needed: the global "
                "model stays as it was", server_round, len(good), sent, self.min_replies)
            figures["kept"] = True
            self._report(figures)
            return None, None
        averaged = integer_average([(a, n) for a, n, _ in good], [w for _, w in self.layout])
        metrics = _weighted_metrics([(m, n) for _, n, m in good])
        figures.update(metrics)
        self._report(figures)
        return ArrayRecord(averaged), MetricRecord(metrics)

    def _unpack(self, content):
        """(arrays, n_samples, metrics) of a reply; WeightsError if it is not usable."""
        if len(content.array_records) != 1 or len(content.metric_records) != 1:
            raise weights.WeightsError("expected one ArrayRecord and one MetricRecord")
        arrays = next(iter(content.array_records.values())).to_numpy_ndarrays()
        metrics = dict(next(iter(content.metric_records.values())))
        n = metrics.get(COUNT_KEY)
        if not isinstance(n, int) or n < 1:
            raise weights.WeightsError("sample count %r is not a whole number >= 1" % (n,))
        weights.check(arrays, self.layout, metrics.get(CRC_KEY))
        metrics = {k: v for k, v in metrics.items() if k not in (COUNT_KEY, CRC_KEY)}
        return arrays, n, metrics

    def _report(self, figures):
        if self.on_round:
            self.on_round(figures)


def _weighted_metrics(pairs):
    """Sample-weighted means of the numeric metrics every reply holds."""
    keys = set.intersection(*(set(m) for m, _ in pairs))
    total = sum(n for _, n in pairs)
    return {k: float(sum(float(m[k]) * n for m, n in pairs) / total) for k in sorted(keys)}
