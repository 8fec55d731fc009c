"""Runs on the PC: `udfa fleet`, federated training over a local fleet of boards.

  udfa fleet --boards virtual:rp2040 x4 --data DIR --split iid|noniid:K --rounds N

splits the training data per board (split()), writes each board's shards, starts the global
model from the profile's network and seed, and runs the rounds: Flower's ServerApp (server.py)
and one ClientApp per board (client.py), on Flower's Deployment Engine (deployment.py: a
SuperLink and a SuperNode per board), on its simulation engine (--engine simulation, Ray,
host nodes) or, with --engine local, connected by the in-process Grid (grid.py). Each board
gets udfa installed and its shards pushed in its first round (later rounds skip what it
holds). In OUT: global.udfa, rounds.jsonl (one line a round), fleet.ckpt (the last completed
round, for --resume: resume.py), rounds.png, nodes/<i>/ (the shards of board i), boards/<i>/
(virtual boards' flash), app/ and flwr/ (the Flower app and its processes' logs, Flower's
engines). `--boards host x4` runs the same rounds on the PC's numpy kernel: the same weights
as boards for the same split and seed.
"""
import contextlib
import io
import json
import logging
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from udfa import agent, model as model_file

from .. import board_train
from ..boards import load_profile
from ..cli import UsageError, output_folder, positive, profile_name
from ..fit import fraction
from ..shards import write_shards
from . import client, data, grid, resume, server


def board_list(tokens):
    """["virtual:rp2040", "x4", "/dev/ttyACM0"] -> the board specs, "xN" repeating the one
    before it N times in all."""
    found = []
    for t in tokens:
        if t[:1] == "x" and t[1:].isdigit():
            if not found or int(t[1:]) < 1:
                raise UsageError("--boards: %r repeats the board before it: write e.g. "
                                 "'virtual:rp2040 x4'" % t)
            found += [found[-1]] * (int(t[1:]) - 1)
        else:
            found.append(t)
    if not found:
        raise UsageError("--boards: name at least one board (a port, virtual:PROFILE or host)")
    return found


def split_kind(text):
    """'iid' -> ('iid', 0); 'noniid:K' -> ('noniid', K): K label-sorted runs a board."""
    if text == "iid":
        return "iid", 0
    kind, _, k = text.partition(":")
    if kind == "noniid" and k.isdigit() and int(k) >= 1:
        return "noniid", int(k)
    raise UsageError("--split %r: write iid, or noniid:K (K label-sorted runs a board, e.g. "
                     "noniid:2)" % text)


def split(labels, n_boards, kind, k, seed):
    """Sample indices per board. iid: a seeded shuffle dealt in turn. noniid:K: the samples
    sorted by label, cut into n_boards*K runs of consecutive indices, K runs per board at
    random (McMahan et al.'s pathological split: a run spans one to a few classes, so a board
    sees few of them, mostly K)."""
    rng = np.random.default_rng(seed)
    if kind == "iid":
        order = rng.permutation(len(labels))
        return [np.sort(order[i::n_boards]) for i in range(n_boards)]
    by_label = np.argsort(labels, kind="stable")
    runs = np.array_split(by_label, n_boards * k)
    picks = rng.permutation(len(runs))
    return [np.sort(np.concatenate([runs[j] for j in picks[i * k:(i + 1) * k]]))
            for i in range(n_boards)]


def add_arguments(p):
    p.add_argument("--boards", nargs="+", required=True, metavar="BOARD",
                   help="the boards: ports, virtual:PROFILE or host, 'xN' repeating the one "
                   "before (e.g. virtual:rp2040 x4)")
    p.add_argument("--data", type=Path, required=True, help="folder of MNIST-format IDX files, "
                   "or a file of your own data (.csv with a header row, .npy, .npz)")
    p.add_argument("--label", help="own data: the label column or array (default: label, "
                   "class, target or y)")
    p.add_argument("--test-part", type=fraction, default=0.2, help="own data: the share of "
                   "each class held out as the test set (default 0.2)")
    p.add_argument("--split", default="iid",
                   help="iid, or noniid:K (K runs of label-sorted samples a board)")
    p.add_argument("--rounds", type=positive, default=5)
    p.add_argument("--epochs", type=positive, default=1, help="epochs per board per round")
    p.add_argument("--samples", type=positive, help="only the first N training samples (own "
                   "data: the first N rows, the test part held out of them)")
    p.add_argument("--profile", type=profile_name, help="network and training settings "
                   "(default: the first virtual board's profile, else rp2040)")
    p.add_argument("--timeout", type=positive, default=3600, metavar="SECONDS",
                   help="a round waits this long for the boards; one that has not answered "
                   "by then is left out of it (default 3600)")
    p.add_argument("--min-replies", type=positive, default=1,
                   help="good replies a round needs to change the model (default 1)")
    p.add_argument("--seed", type=int, default=1, help="the seed of the split per board "
                   "(and of own data's test part)")
    p.add_argument("--out", type=Path, default=Path("udfa-fleet"), help="folder for results")
    p.add_argument("--resume", action="store_true", help="continue after the last completed "
                   "round in --out (a fleet stopped midway; the same options), if it has one")
    p.add_argument("--interpreter", help="for virtual boards: the MicroPython to run")
    p.add_argument("--kernel", help="the boards' kernel (default: the fastest each has)")
    p.add_argument("--engine", choices=("deployment", "local", "simulation"),
                   default="deployment",
                   help="deployment: Flower's Deployment Engine, a SuperLink and one SuperNode "
                   "per board on loopback (default); local: the same apps over an in-process "
                   "grid (no processes to start: about 6 s a round faster); simulation: "
                   "Flower's simulation engine on Ray, for host nodes (pip install "
                   "'udfa[simulation]')")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def check_engine(engine, boards):
    if engine != "simulation":
        return
    if any(b != client.HOST for b in boards):
        raise UsageError("--engine simulation runs every node on the PC's numpy kernel (the "
                         "same weights as boards): name them --boards host x%d" % len(boards))
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise UsageError("--engine simulation needs Flower's simulation engine (Ray): pip "
                         "install 'udfa[simulation]'")


def default_profile(boards):
    for b in boards:
        if b.startswith("virtual:"):
            return b[len("virtual:"):]
    return "rp2040"


def prepare(args, boards, profile_name_):
    """Write each board's shards; returns (node configs, run config)."""
    profile = load_profile(profile_name_)
    if "hidden" not in profile["network"]:
        raise UsageError("profile %s trains a CNN; a fleet averages MLPs: name an MLP "
                         "profile with --profile (e.g. rp2040)" % profile_name_)
    out = args.out
    found = data.load(args, profile, out)
    images, labels = found.x, found.y
    kind, k = split_kind(args.split)
    parts = split(labels, len(boards), kind, k, args.seed)
    if min(len(p) for p in parts) < 1:
        raise UsageError("%d samples do not give every one of %d boards a sample: use more "
                         "data or fewer boards" % (len(labels), len(boards)))
    nodes = []
    for i, (spec, idx) in enumerate(zip(boards, parts)):
        folder = out / "nodes" / str(i)
        for old in folder.glob("train-*.uds"):
            old.unlink()
        write_shards(images[idx], labels[idx], folder, "train", profile["shard_bytes"],
                     n_classes=found.sizes[-1])
        node = {"board": spec, "shards": str(folder), "profile": profile_name_,
                "virtual-dir": str(out / "boards" / str(i)), "log": str(folder / "train.jsonl")}
        node.update({k: v for k, v in (("interpreter", args.interpreter),
                                       ("kernel", args.kernel)) if v})
        nodes.append(node)
    setup = board_train.settings(profile, {})
    init = out / "init.udfa"
    with contextlib.redirect_stdout(io.StringIO()):
        agent.create(str(init), found.sizes, **{
            k: setup[k] for k in board_train.MODEL_KEYS if k in setup})
    if found.prep is not None:  # the global model carries the data's input map
        start = model_file.load(str(init))
        start.prep = found.prep
        start.save(str(init))
    config = dict(found.test, model=str(init), out=str(out), rounds=args.rounds,
                  epochs=args.epochs, resume=args.resume,
                  plan=json.dumps(plan(args, boards, profile_name_), sort_keys=True))
    config["min-replies"] = args.min_replies
    config["timeout"] = args.timeout
    return nodes, config, [len(p) for p in parts]


def plan(args, boards, profile_name_):
    """What a fleet's rounds depend on besides the global model (resume.py): the same plan
    gives the same shards and the same rounds. The boards by number only: a board may come
    back on another port."""
    return {"data": str(Path(args.data).resolve()), "samples": args.samples,
            "label": args.label, "test-part": args.test_part, "split": args.split,
            "seed": args.seed, "boards": len(boards), "profile": profile_name_,
            "epochs": args.epochs, "min-replies": args.min_replies}


def plot(log_path, out_path, title):
    from ..plots import _plt

    rows = [json.loads(l) for l in Path(log_path).read_text().splitlines() if l.strip()]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    r = [row["round"] for row in rows]
    ax.plot(r, [100 * row.get("test-accuracy", 0) for row in rows], "o-", label="test (global)")
    ax.plot(r, [100 * row.get("train-accuracy", 0) for row in rows], "s--",
            label="train (boards, mean)")
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy %")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path


def run(args):
    if not Path(args.data).exists():
        raise UsageError("--data %s: no such folder or file; name an IDX folder or a .csv, "
                         ".npy or .npz file" % args.data)
    boards = board_list(args.boards)
    check_engine(args.engine, boards)
    output_folder(args.out, "fleet's files")
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.profile or default_profile(boards)
    nodes, config, sizes = prepare(args, boards, name)
    found = resume.restore(args.out, json.loads(config["plan"])) if args.resume else None
    done = found[1] if found else 0
    print("udfa fleet: %d boards (%s), split %s: %s samples; %d rounds of %d epochs; in %s%s"
          % (len(boards), ", ".join(sorted(set(boards))), args.split,
             "+".join(map(str, sizes)), args.rounds, args.epochs, args.out,
             "; resuming after round %d" % done if found else ""))
    logging.getLogger("flwr").setLevel(logging.WARNING)  # Flower's INFO: pages a round
    bar = tqdm(total=args.rounds, initial=min(done, args.rounds), unit="round", desc="fleet",
               disable=args.quiet, dynamic_ncols=True, file=sys.stdout)

    def on_round(f):
        bar.update(1)
        bar.write("round %d: test %.2f%%, boards' train %.2f%%, %d/%d replies%s, %d bytes, "
                  "%.1f s" % (f["round"], 100 * f.get("test-accuracy", 0),
                              100 * f.get("train-accuracy", 0), f["replies"], f["asked"],
                              " (dropped nodes %s)" % f["dropped"] if f["dropped"] else "",
                              f["bytes"], f["seconds"]))

    try:
        if done >= args.rounds:
            model = found[0]
        elif args.engine in ("deployment", "simulation"):
            from . import deployment

            deployment.run(nodes, config, args.out, on_round, done,
                           simulation=args.engine == "simulation")
            model = model_file.load(str(args.out / server.GLOBAL))
        else:
            local = grid.LocalGrid(client.app, nodes)
            try:
                model = server.run(local, config, on_round)
            finally:
                local.close()
    finally:
        bar.close()
    chart = plot(args.out / server.LOG, args.out / "rounds.png",
                 "%d x %s, %s" % (len(boards), name, args.split))
    print("global model %s: %s; log %s; plot %s" % (
        model.describe(), args.out / server.GLOBAL, args.out / server.LOG, chart))
    return model
