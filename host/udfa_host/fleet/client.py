"""Runs on the PC (ClientApp side): one round of training on ONE board, behind Flower.

The node config names the board the client proxies:
  board        a serial port, "virtual:PROFILE", the emulated Pico's port, or "host" (the
               PC's numpy kernel through udfa.agent.train: the same arithmetic as a board,
               so the same weights for the same shards: for planning a fleet)
  shards       the folder of this node's shards (train-*.uds)
  profile      boards/PROFILE.json (default: the virtual board's own, else rp2040): the
               training settings, the same on every node
  virtual-dir, interpreter, kernel   as the board verbs' options
  log          the JSONL file the board's reports are appended to
A round: the global model arrives as int16 arrays; it becomes the board's model.udfa (its
checkpoint is discarded, so training starts from it), the board trains on its own shards for
the round's epochs, and the weights come back by board_train.pull (CRC-checked) and leave as
int16 arrays with the sample count, a CRC-32 of the arrays and the train accuracy. The client
keeps nothing between rounds: the board's flash holds its shards, the message the model.
"""
import contextlib
import io
import json
import tempfile
import threading
import time
from pathlib import Path

from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from udfa import agent, checkpoint

from .. import board_train
from ..boards import load_profile
from ..shards import SUFFIX
from . import weights
from .strategy import COUNT_KEY, CRC_KEY

HOST = "host"
# agent.train reports by print(): host rounds capture sys.stdout one at a time (the numpy
# kernel holds the GIL for most of a step anyway, so host nodes gain little from overlapping)
_STDOUT = threading.Lock()
app = ClientApp()


@app.train()
def train(msg, context):
    """Flower's entry point: the round's model in, the board's trained weights out."""
    config = msg.content["config"]
    arrays = msg.content["arrays"].to_numpy_ndarrays()
    model = weights.build(config, arrays)
    node = node_of(context)
    started = time.monotonic()
    trained, seen, train_bp = train_round(node, model, int(config["epochs"]))
    out = weights.to_arrays(trained)
    metrics = MetricRecord({COUNT_KEY: seen, CRC_KEY: weights.crc(out),
                            "train-accuracy": train_bp / 10000,
                            "seconds": time.monotonic() - started})
    return Message(RecordDict({"arrays": ArrayRecord(out), "metrics": metrics}), reply_to=msg)


def node_of(context):
    """The node config of the board this ClientApp proxies. Flower's simulation engine
    numbers its nodes (partition-id) instead: their configs are in the run config's `nodes`
    file (deployment.py)."""
    node = dict(context.node_config)
    if "board" not in node and "partition-id" in node:
        nodes = json.loads(Path(str(context.run_config["nodes"])).read_text())
        node = nodes[int(node["partition-id"])]
    return node


def node_shards(node):
    folder = Path(str(node["shards"]))
    found = sorted(folder.glob("train-*" + SUFFIX))
    if not found:
        raise FileNotFoundError("node %s: no shards train-*%s in %s: run 'udfa fleet' (it "
                                "splits the data per board)" % (node["board"], SUFFIX, folder))
    return found


def train_round(node, model, epochs):
    """Train model (a udfa Model) for `epochs` on the node's board; returns (model, samples
    seen, last epoch's train accuracy in basis points)."""
    with tempfile.TemporaryDirectory(prefix="udfa-fleet-") as tmp:
        path = Path(tmp) / board_train.BOARD_MODEL
        model.save(str(path))
        if str(node["board"]) == HOST:
            return _train_host(node, path, Path(tmp), epochs)
        return _train_board(node, path, Path(tmp), epochs)


def profile_of(node, board=None):
    if node.get("profile"):
        return load_profile(str(node["profile"]))
    if board is not None and board.profile is not None:
        return board.profile
    return load_profile("rp2040")


def _train_board(node, model_path, tmp, epochs):
    from ..deploy import deploy
    from ..link import Board
    from ..push import push

    with Board.open(str(node["board"]), node.get("virtual-dir"), node.get("interpreter")) as b:
        if not b.exists("lib/udfa"):  # a new board: the first round installs udfa
            deploy(b, quiet=True)
        push(b, node_shards(node), prune=True, quiet=True)  # skips shards it holds
        b.put(model_path, board_train.BOARD_MODEL)
        for suffix in ("", ".new", ".old"):  # start from the round's model, not a checkpoint
            if b.exists(board_train.BOARD_CKPT + suffix):
                b.rm(board_train.BOARD_CKPT + suffix)
        log = Path(str(node.get("log") or tmp / "train.jsonl"))
        events = board_train.train(b, profile_of(node, b), {"epochs": epochs,
                                                            "kernel": node.get("kernel")},
                                   log, quiet=True)
        model, state = board_train.pull(b, tmp / "trained.udfa")
    return model, state["seen"], _last_train_bp(events)


def _train_host(node, model_path, tmp, epochs):
    from threadpoolctl import threadpool_limits

    from .. import kernels_numpy

    setup = board_train.settings(profile_of(node), {"epochs": epochs})
    keys = [k for k in board_train.TRAIN_KEYS if k in setup and k not in ("kernel",)]
    kw = {k: setup[k] for k in keys}
    kw.update(every=1 << 29, report_every=1 << 29)  # the weights do not depend on these
    ckpt = str(tmp / board_train.BOARD_CKPT)
    lines = io.StringIO()
    with _STDOUT, contextlib.redirect_stdout(lines), threadpool_limits(1, "blas"):
        agent.train([str(p) for p in node_shards(node)], str(model_path), kernel=kernels_numpy,
                    ckpt=ckpt, fresh=True, **kw)
    events = [json.loads(l[5:]) for l in lines.getvalue().splitlines() if l.startswith("UDFA ")]
    model, state = checkpoint.load(ckpt)
    return model, state["seen"], _last_train_bp(events)


def _last_train_bp(events):
    found = [e["train_bp"] for e in events if e["event"] == "epoch"]
    return found[-1] if found else 0
