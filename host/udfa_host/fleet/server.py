"""Runs on the PC (ServerApp side): the rounds of a fleet, the global model and its log.

The run config (Flower's [tool.flwr.app.config], or run.py's dict) names:
  model        the starting model file (udfa.model format; its seed is the fleet's)
  out          folder for global.udfa (rewritten after every round) and rounds.jsonl
  rounds, epochs, min-replies   rounds to run, epochs each board trains per round, the good
               replies a round needs to change the model
  min-nodes    nodes that must be connected before a round starts (default 1)
  timeout      seconds a round waits for replies (default 3600): later ones are left out
  test-data, size   optional: the test set for the test accuracy per round (data.py: an IDX
               folder and image side, or OUT/test.npz)
  plan         JSON text: what the rounds depend on besides the model (run.py's plan())
  resume       true: continue after the last completed round in out (resume.py), if any
After every round one JSON line goes to rounds.jsonl: the round, replies, dropped nodes,
bytes moved (model down to every node asked plus the good replies up), samples, the boards'
train accuracy, the global model's test accuracy and the round's seconds; then the round's
checkpoint (resume.py).
"""
import json
import time
from pathlib import Path

from flwr.app import ArrayRecord, ConfigRecord, MetricRecord
from flwr.serverapp import ServerApp

from udfa import model as model_file

from ..evaluate import evaluate
from . import data, resume, weights
from .strategy import IntegerFedAvg

app = ServerApp()
GLOBAL = "global.udfa"
LOG = resume.LOG


@app.main()
def main(grid, context):
    run(grid, dict(context.run_config))


def run(grid, config, on_round=None):
    """Run the rounds over grid; returns the global model. on_round(figures) sees each
    round's log line as it is written."""
    start = model_file.load(str(config["model"]))
    prep = getattr(start, "prep", None)  # own data: the input map goes with the model
    out = Path(str(config["out"]))
    out.mkdir(parents=True, exist_ok=True)
    plan = json.loads(str(config.get("plan") or "{}"))
    found = resume.restore(out, plan) if config.get("resume") else None
    done = 0
    if found is None:
        resume.clear(out)
    else:
        start, done = found
        start.prep = prep
    net = weights.spec(start)
    test = data.test_set(config)
    pending = {}
    strategy = IntegerFedAvg(weights.layout(start), int(config.get("min-replies", 1)),
                             on_round=pending.update, done=done, min_train_nodes=1,
                             min_available_nodes=int(config.get("min-nodes", 1)))
    log_path = out / LOG
    clock = [time.monotonic()]
    final = [start]

    def after_round(server_round, arrays):
        if server_round == 0:  # Flower's call before the first round
            clock[0] = time.monotonic()
            return None
        model = weights.build(net, arrays.to_numpy_ndarrays())
        model.prep = prep
        model.save(str(out / GLOBAL))
        final[0] = model
        figures = dict(pending, round=done + server_round)
        pending.clear()
        if test is not None:
            figures["test-accuracy"] = evaluate(model, *test)[0]
        now = time.monotonic()
        figures["seconds"] = round(now - clock[0], 3)
        clock[0] = now
        with open(log_path, "a") as f:
            f.write(json.dumps(figures) + "\n")
        resume.save(out, model, figures["round"], plan)
        if on_round:
            on_round(figures)
        if test is None:
            return None
        return MetricRecord({"test-accuracy": figures["test-accuracy"]})

    train_config = ConfigRecord(dict(net, epochs=int(config.get("epochs", 1))))
    if int(config["rounds"]) <= done:
        return start
    strategy.start(grid, ArrayRecord(weights.to_arrays(start)), int(config["rounds"]) - done,
                   timeout=float(config.get("timeout", 3600)), train_config=train_config,
                   evaluate_fn=after_round)
    return final[0]
