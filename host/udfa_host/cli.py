"""Runs on the PC: the `udfa` command, one table of verbs (VERBS) -> (function, argparse setup).

Board verbs name the board with --board: a serial port (/dev/ttyACM0, COM3), `auto` (the first
USB port that looks like a MicroPython or CircuitPython board) or `virtual:PROFILE` (the
MicroPython unix port with the heap of boards/PROFILE.json, its flash a folder on this PC).

Every verb checks its arguments before it does any work (argparse types below, then the
verb's own checks), and every failure ends in one line on stderr, `udfa: error: ...`, saying
what is wrong and what to do; main() turns an unexpected exception into one line too
(UDFA_DEBUG=1 shows its traceback instead).
"""
import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from udfa.kernels import PREFERENCE

from . import advice, board_train
from .boards import ProfileError, load_profile
from .idx import load_images

DEFAULT_BOARD = os.environ.get("UDFA_BOARD", "auto")
DEMO_DATA = Path(__file__).resolve().parents[2] / "data" / "mnist-demo"


# The kernel names --kernel takes: udfa.kernels' own list (a kernel added there is accepted).
KERNELS = PREFERENCE
MAX_SHIFT = board_train.MAX_SHIFT


class UsageError(Exception):
    """A bad combination of arguments; the message says what to pass instead."""


class Parser(argparse.ArgumentParser):
    """argparse, its errors in the one-line form of every other udfa error."""

    def error(self, message):
        self.exit(2, "udfa: error: %s (see '%s --help')\n" % (message, self.prog))


# ---- argument types: argparse reports a bad value in one line ------------------------------

def _whole(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text) from None


def positive(text):
    """A count or interval: a whole number >= 1."""
    n = _whole(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more, not %d" % n)
    return n


def shift_arg(text):
    """A learning-rate or scaling shift (2^-N) in the range the device takes."""
    n = _whole(text)
    if not 0 <= n <= MAX_SHIFT:
        raise argparse.ArgumentTypeError("must be 0..%d (a shift: 2^-N), not %d"
                                         % (MAX_SHIFT, n))
    return n


def widths(text):
    """Hidden-layer widths "256,128" -> [256, 128]."""
    try:
        found = [int(n) for n in text.split(",")]
    except ValueError:
        found = []
    if not found or min(found) < 1:
        raise argparse.ArgumentTypeError("%r: give widths of 1 or more, comma-separated, e.g. "
                                         "256,128" % text)
    return found


def layer_list(text):
    """Layer indices "0,-1" -> [0, -1] (0 the first layer, -1 the output layer)."""
    try:
        return [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("%r: give layer numbers, comma-separated, e.g. 1,2 "
                                         "or -1 for the output layer" % text) from None


def profile_name(text):
    """The name of a profile in boards/ (checked: the error lists the ones there are)."""
    try:
        load_profile(text)
    except ProfileError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def kernel_option(p):
    p.add_argument("--kernel", choices=KERNELS,
                   help="%s (default: the fastest the board has)" % ", ".join(KERNELS))


def output_file(path, what):
    """Refuse an output path that cannot be the file `what` (a folder); make its folder."""
    path = Path(path)
    if path.is_dir():
        raise UsageError("%s is a folder: name a file for the %s" % (path, what))
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError("%s: %s is a file, not a folder: name another path for the %s"
                         % (path, path.parent, what))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def output_folder(path, what):
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError("%s is a file: name a folder for the %s" % (path, what))
    return path


def data_folder(path):
    if not Path(path).is_dir():
        raise UsageError("%s is not a folder: name the folder of MNIST-format IDX files "
                         "(e.g. data/mnist-demo)" % path)
    return path


# ---- shared option groups and helpers -------------------------------------------------------

def board_options(p):
    g = p.add_argument_group("board")
    g.add_argument("--board", default=DEFAULT_BOARD, metavar="PORT|auto|virtual:PROFILE",
                   help="the board (default: $UDFA_BOARD or auto)")
    g.add_argument("--profile", type=profile_name, help="board profile in boards/ (default: "
                   "the virtual board's, else guessed from the board)")
    g.add_argument("--interpreter", help="for virtual boards: the MicroPython to run "
                   "(default: the profile's, or micropython)")
    g.add_argument("--virtual-dir", help="for virtual boards: the folder holding their flash "
                   "folders (default: $UDFA_VIRTUAL_DIR or ~/.cache/udfa/virtual)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def open_board(args):
    from .link import Board

    return Board.open(args.board, args.virtual_dir, args.interpreter)


def board_profile(args, board):
    """The profile named by --profile, the virtual board's own, or one guessed from the
    board's firmware and chip."""
    if args.profile:
        return load_profile(args.profile)
    if board.profile is not None:
        return board.profile
    name, machine = board.eval("(__import__('sys').implementation.name, "
                               "getattr(__import__('sys').implementation, '_machine', ''))")
    m = machine.upper()
    guess = ("circuitpython-rp2040" if name == "circuitpython" else
             "esp32s3-psram" if "ESP32S3" in m and "SPIRAM" in m else
             "esp32" if "ESP32" in m else "rp2040")
    print("udfa: board is %s on %r: using profile %s (pass --profile to choose)"
          % (name, machine, guess), file=sys.stderr)
    return load_profile(guess)


def side_for(n_inputs):
    side = int(round(n_inputs ** 0.5))
    if side * side != n_inputs or side not in (14, 28):
        raise UsageError("a network of %d inputs takes no MNIST image size: pass --size"
                         % n_inputs)
    return side


def shard_files(paths):
    """Shard files named directly or as folders holding *.uds."""
    from .shards import SUFFIX

    found = []
    for p in map(Path, paths):
        found += sorted(p.glob("*" + SUFFIX)) if p.is_dir() else [p]
    missing = [str(p) for p in found if not p.is_file()]
    if missing or not found:
        raise UsageError("no shard files at %s: make them with 'udfa prepare'"
                         % ", ".join(missing or map(str, paths)))
    return found


def load_model_file(path):
    from udfa import model as model_file

    if not Path(path).is_file():
        raise UsageError("model %s not found: make one with 'udfa pull' (from a board), "
                         "'udfa fit' or 'udfa fit-cnn'" % path)
    return model_file.load(str(path))  # a checkpoint file starts with its model: loads too


# ---- verbs ----------------------------------------------------------------------------------

def data_options(p, required):
    p.add_argument("--data", required=required, type=Path,
                   help="a .csv file (header row), .npy or .npz (X and y) file, or a folder of "
                   "MNIST-format IDX files (e.g. data/mnist-demo)")
    p.add_argument("--label", help="CSV: the label column (default: the column named "
                   "label, class, target or y, else the last); .npy: its index")
    p.add_argument("--map", type=Path, help="a file's input map (offset and scale per "
                   "feature): written by 'prepare --split train', read by the test split "
                   "and eval (default: OUT/input-map.udfp; eval: the model's own)")


def setup_prepare(p):
    data_options(p, True)
    p.add_argument("--split", choices=("train", "test"), default="train")
    p.add_argument("--size", type=int, choices=(28, 14),
                   help="image side; 14 halves each side (default: the profile's network)")
    p.add_argument("--out", type=Path, default=Path("shards"), help="folder for the shards")
    p.add_argument("--profile", default="rp2040", type=profile_name,
                   help="board profile giving the shard size")
    p.add_argument("--limit", type=positive, help="only the first N samples")


def cmd_prepare(args):
    from .shards import write_shards

    profile = load_profile(args.profile)
    output_folder(args.out, "shards")
    if not args.data.is_dir():
        return prepare_file(args, profile)
    size = args.size or side_for(profile["network"]["inputs"])
    images, labels = load_images(args.data, args.split, size, args.limit)
    paths = write_shards(images, labels, args.out, args.split, profile["shard_bytes"],
                         n_classes=profile["network"]["outputs"])
    total = sum(p.stat().st_size for p in paths)
    print("wrote %d shards to %s: %d %s samples %dx%d, %d bytes (at most %d a shard for %s)"
          % (len(paths), args.out, len(labels), args.split, size, size, total,
             profile["shard_bytes"], args.profile))
    return paths


def prepare_file(args, profile):
    """prepare for a .csv / .npy / .npz file: the train split fits the input map and writes it
    beside the shards; the test split applies that map."""
    from udfa import prep as prep_file

    from . import datasets, preprocess
    from .shards import write_shards

    if args.size:
        raise UsageError("--size halves IDX images; %s is a file: leave --size out" % args.data)
    data = datasets.load(args.data, args.label, limit=args.limit)
    map_path = args.map or args.out / preprocess.MAP_NAME
    if args.split == "train":
        # the widest hidden layer within the board's budget: refused only if none fits
        datasets.check_fits(data, profile, [datasets.auto_hidden(
            data.n_inputs, len(data.classes), datasets.weights_budget(profile))])
        input_map = preprocess.fit(data.x, data.shape, data.classes)
        args.out.mkdir(parents=True, exist_ok=True)
        with open(output_file(map_path, "input map"), "wb") as f:
            input_map.write(f)
    else:
        input_map = read_map(map_path, "make it with 'udfa prepare --split train' first")
        data.y = names_to_indices(data, input_map.names)
    x = preprocess.apply(input_map, data.x).reshape((len(data),) + data.shape)
    paths = write_shards(x, data.y, args.out, args.split, profile["shard_bytes"],
                         n_classes=len(input_map.names))
    print("wrote %d shards to %s: %d %s samples of %d inputs, %d classes (%s); input map %s"
          % (len(paths), args.out, len(data), args.split, data.n_inputs,
             len(input_map.names), ", ".join(input_map.names[:8]), map_path))
    return paths


def read_map(path, todo):
    from udfa import prep as prep_file

    if not Path(path).is_file():
        raise UsageError("no input map at %s: %s" % (path, todo))
    with open(path, "rb") as f:
        try:
            found = prep_file.read(f, str(path))
        except ValueError as e:
            raise UsageError(str(e)) from None
    if found is None:
        raise UsageError("%s is not an input map: %s" % (path, todo))
    return found


def names_to_indices(data, names):
    """data's labels as indices into the class names of a training split (or a model)."""
    from .idx import DataError

    where = {n: i for i, n in enumerate(names or ())}
    missing = [c for c in data.classes if c not in where]
    if missing:
        raise DataError("%s: label %r is not one of the trained classes (%s)"
                        % (data.source, missing[0], ", ".join(names or ())))
    return np.array([where[c] for c in data.classes], np.int64)[data.y]


def setup_deploy(p):
    board_options(p)
    p.add_argument("--source", action="store_true",
                   help="copy the .py sources instead of mpy-cross bytecode")
    p.add_argument("--no-entry", action="store_true",
                   help="leave main.py / code.py / boot.py on the board alone")
    p.add_argument("--package-json", action="store_true",
                   help="only rewrite device/package.json (for mpremote mip); no board")
    p.add_argument("--drive", type=Path, metavar="PATH",
                   help="CircuitPython: write udfa, code.py and boot.py onto the board's "
                   "mounted CIRCUITPY drive instead of over the serial port; then reset it")
    p.add_argument("--mpy-cross", metavar="PATH", help="CircuitPython's mpy-cross for the "
                   "board's firmware (default: $UDFA_MPY_CROSS; without one, the .py source)")


def cmd_deploy(args):
    from . import deploy

    if args.package_json:
        print("wrote", deploy.write_package_json())
        return None
    if args.drive:
        written = deploy.deploy_drive(args.drive, args.source, not args.no_entry,
                                      args.mpy_cross)
        print("wrote %d files to the drive %s (the others were there); reset the board: its "
              "boot.py gives the flash to udfa, and the other verbs work over its serial port"
              % (len(written), args.drive))
        return written
    with open_board(args) as board:
        sent, skipped = deploy.deploy(board, args.source, not args.no_entry, args.quiet,
                                      args.mpy_cross)
        print("deployed udfa to %s: %d files sent, %d already there"
              % (board.port, len(sent), len(skipped)))
    return sent


def setup_push(p):
    board_options(p)
    p.add_argument("shards", nargs="+", help="shard files or folders of them")
    p.add_argument("--prune", action="store_true",
                   help="remove the board's other shards of the same sets")


def cmd_push(args):
    from .push import push

    files = shard_files(args.shards)
    with open_board(args) as board:
        sent, skipped, extra = push(board, files, args.prune, args.quiet)
    print("pushed %d shards to the board's %s/, %d already there (same CRC)"
          % (len(sent), board_train.BOARD_DATA, len(skipped)))
    if extra:
        print("%s %d other shards: %s" % ("removed" if args.prune else
                                           "the board also holds (training reads them; "
                                           "--prune removes them)", len(extra), " ".join(extra)))
    return sent, skipped


def setup_train(p):
    board_options(p)
    p.add_argument("--epochs", type=positive, help="train up to this many epochs in all")
    p.add_argument("--batch", type=positive)
    p.add_argument("--lr-shift", type=shift_arg, help="learning rate 2^-N")
    kernel_option(p)
    p.add_argument("--every", type=positive, help="checkpoint every N samples")
    p.add_argument("--report-every", type=positive, help="a progress line every N samples")
    p.add_argument("--shards", default="train", metavar="PREFIX",
                   help="train on the board's data/PREFIX-*.uds (default: train)")
    p.add_argument("--fresh", action="store_true",
                   help="start over: a new model, ignore the checkpoint")
    p.add_argument("--init", type=Path, metavar="MODEL", help="start from this model file "
                   "(e.g. trained on the PC) instead of a new one, and go on training it on "
                   "the board's own shards (personalisation)")
    frozen = p.add_mutually_exclusive_group()
    frozen.add_argument("--only-last", action="store_true", help="train the output layer "
                        "alone, the others frozen (personalising an --init model: fewer "
                        "updates, less heap)")
    frozen.add_argument("--layers", type=layer_list, metavar="N,N",
                        help="train only these layers of an MLP (0 the first, -1 the output "
                        "layer); the others stay as they are")
    p.add_argument("--from", dest="source", nargs="+", metavar="SHARDS",
                   help="train on these shards of the PC (files or a folder of one set): "
                   "pushed at once when they fit the board's free flash, else in rounds "
                   "(push what fits, train, replace), with the same result")
    p.add_argument("--flash-budget", type=positive, metavar="BYTES",
                   help="with --from: use at most BYTES of the board's flash for shards")
    p.add_argument("--log", type=Path, default=Path("train.jsonl"),
                   help="JSONL log of the board's reports (appended unless --fresh)")


def cmd_train(args):
    overrides = {"epochs": args.epochs, "batch": args.batch, "lr_shift": args.lr_shift,
                 "kernel": args.kernel, "every": args.every, "report_every": args.report_every,
                 "train_layers": [-1] if args.only_last else args.layers}
    output_file(args.log, "training log")
    if args.flash_budget and args.source is None:
        raise UsageError("--flash-budget goes with --from (the PC's shards)")
    # a damaged or missing file: refused before the board
    init = load_model_file(args.init) if args.init else None
    with open_board(args) as board:
        profile = board_profile(args, board)
        if overrides["train_layers"]:
            check_train_layers(overrides["train_layers"], init, profile)
        if args.source is None:
            events = board_train.train(board, profile, overrides, args.log, args.shards,
                                       args.fresh, args.quiet, init=args.init)
            how = ""
        else:
            from . import rounds

            mode, n, events = rounds.train_from(board, profile, overrides, args.log,
                                                shard_files(args.source), args.fresh,
                                                args.quiet, init=args.init,
                                                budget=args.flash_budget)
            how = (" (the shards fit its flash: pushed once)" if mode == "flash" else
                   " (in %d rounds: more shards than its flash holds)" % n)
        summary = summarize(events, board.vboard is not None)
    print("trained on %s%s: %s; log in %s" % (args.board, how, summary, args.log))
    return events


def check_train_layers(layers, init, profile):
    """Refuse --only-last/--layers for a CNN, or naming a layer the MLP (the --init model's,
    or the profile's) does not have."""
    from udfa.dfa import trained_layers

    net = profile["network"]
    if (init is not None and hasattr(init, "blocks")) or (init is None and "spec" in net):
        raise UsageError("--only-last and --layers choose an MLP's layers (DFA); a CNN "
                         "trains every block")
    n = len(init.layers) if init is not None else len(net["hidden"]) + 1
    try:
        trained_layers(n, layers)
    except ValueError as e:
        raise UsageError("--layers: %s" % e) from None


def training_time(events):
    """(samples trained, seconds, clock) of a training run's events, in one or more rounds
    (each begins with a "start" event; the time is the training's, without the pushes
    between rounds); clock "ms": the board's own (older device code reports none: "t", the
    PC's). None if nothing was trained."""
    epochs = [e for e in events if e["event"] == "epoch"]
    starts = [i for i, e in enumerate(events) if e["event"] == "start"]
    if not epochs or not starts:
        return None
    start = events[starts[0]]
    key, unit = ("ms", 1000) if "ms" in start else ("t", 1)
    seconds = sum(events[b - 1][key] - events[a][key]
                  for a, b in zip(starts, starts[1:] + [len(events)])) / unit
    return len(epochs) * start["samples"] - start["next"], seconds, key


def summarize(events, virtual=False):
    """One line on a training run; virtual: the board is this PC's unix port, whose clock
    says nothing of a real board's speed."""
    found = training_time(events)
    if found is None:
        return "nothing left to train (the checkpoint is at the last epoch; raise --epochs)"
    samples, seconds, key = found
    if key == "ms":
        clock = "by the virtual board's clock (this PC's)" if virtual else "by the board's clock"
    else:
        clock = "by the PC's clock"
    epochs = [e for e in events if e["event"] == "epoch"]
    start = next(e for e in events if e["event"] == "start")
    return ("%d epochs with the %s kernel, last train accuracy %.2f%%, %.1f samples/s %s"
            % (len(epochs), start["kernel"], epochs[-1]["train_bp"] / 100,
               samples / max(seconds, 1e-9), clock))


def setup_pull(p):
    board_options(p)
    p.add_argument("--out", type=Path, default=Path("model.udfa"), help="model file to write")


def cmd_pull(args):
    output_file(args.out, "model")
    with open_board(args) as board:
        model, state = board_train.pull(board, args.out)
    print("pulled %s (epoch %d, %d samples seen), CRC verified, to %s"
          % (model.describe(), state["epoch"], state["seen"], args.out))
    return model, state


def setup_eval(p):
    p.add_argument("model", type=Path, help="model (or checkpoint) file")
    data_options(p, False)
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--size", type=int, choices=(28, 14),
                   help="image side (default: from the model's inputs)")
    p.add_argument("--shards", nargs="+", help="evaluate on these shards (files or folders)")
    p.add_argument("--out", type=Path, help="write accuracy and confusion matrix as JSON")


def cmd_eval(args):
    from .evaluate import evaluate

    if bool(args.data) == bool(args.shards):
        raise UsageError("name the data: --data DIR (IDX) or --shards FILES, one of the two")
    if args.out:
        output_file(args.out, "evaluation JSON")
    model = load_model_file(args.model)
    if args.shards:
        images, labels = eval_shards(model, args.model, shard_files(args.shards))
    elif not args.data.is_dir():
        images, labels = eval_file(model, args)
    else:
        if args.size and args.size ** 2 != model.n_inputs:
            raise UsageError("%s takes %d inputs, not %dx%d images: %s" % (
                args.model, model.n_inputs, args.size, args.size,
                "leave --size out" if side_of(model.n_inputs) else
                "evaluate it on --shards of its input size"))
        images, labels = load_images(args.data, args.split,
                                     args.size or side_for(model.n_inputs))
        check_labels(model, args.model, labels, args.data)
    accuracy, confusion = evaluate(model, images, labels)
    names = class_names(model)
    print("%s on %d samples: accuracy %.2f%%" % (model.describe(), len(labels), 100 * accuracy))
    print("confusion matrix (rows: true class, columns: predicted):")
    width = max(len(n) for n in names)
    for name, row in zip(names, confusion):
        print("%*s %s" % (width, name, " ".join("%5d" % v for v in row)))
    result = {"model": str(args.model), "samples": int(len(labels)), "accuracy": accuracy,
              "confusion": confusion.tolist(), "classes": names}
    if args.out:
        args.out.write_text(json.dumps(result) + "\n")
    return result


def class_names(model):
    """The model's class names (its input map's), else its class indices as text."""
    names = getattr(getattr(model, "prep", None), "names", None)
    return list(names) if names else [str(i) for i in range(model.n_classes)]


def eval_file(model, args):
    """(inputs, labels) of a .csv / .npy / .npz file, through the model's input map (or
    --map's)."""
    from . import datasets, preprocess

    data = datasets.load(args.data, args.label)
    input_map = (read_map(args.map, "name the input-map.udfp 'udfa prepare' wrote")
                 if args.map else getattr(model, "prep", None))
    if input_map is None:
        raise UsageError("%s holds no input map: pass --map (the input-map.udfp 'udfa "
                         "prepare' wrote beside the shards)" % args.model)
    if data.n_inputs != model.n_inputs:
        raise UsageError("%s has %d features a sample, %s takes %d" % (
            args.data, data.n_inputs, args.model, model.n_inputs))
    return preprocess.apply(input_map, data.x), names_to_indices(data, input_map.names)


def side_of(n_inputs):
    """The MNIST image side (14 or 28) of n_inputs pixels, or None."""
    try:
        return side_for(n_inputs)
    except UsageError:
        return None


def eval_shards(model, name, paths):
    """(images (N, inputs), labels) of shard files, each checked against the model."""
    from .shards import read_shard

    images, labels = [], []
    for path in paths:
        x, y, head = read_shard(path)
        x = x.reshape(len(x), -1)
        if x.shape[1] != model.n_inputs:
            raise UsageError("shard %s holds %dx%dx%d samples (%d inputs), %s takes %d: make "
                             "shards of its size with 'udfa prepare --size'" % (
                                 path, head["height"], head["width"], head["channels"],
                                 x.shape[1], name, model.n_inputs))
        check_labels(model, name, y, path)
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels)


def check_labels(model, name, labels, source):
    top = int(labels.max()) if len(labels) else 0
    if top >= model.n_classes:
        raise UsageError("%s holds labels up to %d, %s has %d classes: evaluate it on data "
                         "of its classes" % (source, top, name, model.n_classes))


def setup_export(p):
    from .export import FORMATS

    p.add_argument("model", type=Path, help="model (or checkpoint) file")
    p.add_argument("--out", type=Path, required=True, help="file to write: .h, .npz or .json")
    p.add_argument("--format", choices=FORMATS, help="default: from the --out suffix")


def cmd_export(args):
    from .export import FORMATS, export

    from udfa.conv import ConvModel

    if not args.format and args.out.suffix.lstrip(".") not in FORMATS:
        raise UsageError("%s: name the file .h, .npz or .json, or pass --format (%s)"
                         % (args.out, ", ".join(FORMATS)))
    output_file(args.out, "export")
    model = load_model_file(args.model)
    if isinstance(model, ConvModel):
        raise UsageError("%s is a CNN (%s): export writes MLPs only; the model file itself is "
                         "what udfa.conv.ConvNetwork runs" % (args.model, model.describe()))
    path = export(model, args.out, args.format)
    print("wrote", path)
    return path


def setup_plot(p):
    p.add_argument("--log", type=Path, help="JSONL training log written by 'udfa train'")
    p.add_argument("--eval", type=Path, help="JSON written by 'udfa eval --out'")
    p.add_argument("--out", type=Path, default=Path("plots"), help="folder for the PNG files")


def cmd_plot(args):
    from . import plots

    if not args.log and not args.eval:
        raise UsageError("nothing to plot: pass --log (learning curve) and/or --eval "
                         "(confusion matrix)")
    output_folder(args.out, "plots")
    result = plots.read_eval(args.eval) if args.eval else None
    events = plots.read_log(args.log) if args.log else None
    if events is not None and not any(plots.learning_curve(events)):
        raise UsageError("%s holds no progress or epoch lines: train for longer, or lower "
                         "--report-every" % args.log)
    made = []
    if events is not None:
        made.append(plots.plot_learning_curve(events, args.out / "learning_curve.png",
                                              result and result["accuracy"]))
    if result:
        made.append(plots.plot_confusion(result["confusion"], args.out / "confusion.png",
                                         "confusion matrix, %d samples" % result["samples"],
                                         result.get("classes")))
    for path in made:
        print("wrote", path)
    return made


def setup_demo(p):
    p.add_argument("--out", type=Path, default=Path("udfa-demo"),
                   help="folder for the shards, the board's flash, model, log and plots")
    p.add_argument("--board", default="virtual:rp2040", metavar="PORT|auto|virtual:PROFILE")
    p.add_argument("--profile", type=profile_name,
                   help="board profile (default: the virtual board's, or guessed)")
    p.add_argument("--interpreter", help="for a virtual board: the MicroPython to run")
    p.add_argument("--virtual-dir", help="for a virtual board: where its flash folder goes "
                   "(default: OUT/board)")
    p.add_argument("--data", type=Path, default=DEMO_DATA,
                   help="IDX folder (default: the MNIST subset shipped in data/; a full MNIST "
                   "folder makes this the on-board accuracy benchmark)")
    p.add_argument("--samples", type=positive,
                   help="use only the first N training samples (default: all)")
    p.add_argument("--epochs", type=positive, default=5)
    kernel_option(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def cmd_demo(args):
    from .demo import run

    return run(args)


def setup_board(p):
    p.add_argument("action", choices=("start", "stop"))
    p.add_argument("--port", help="the port's path (default: udfa-board, or udfa-pico with "
                   "--pico, in the temp folder)")
    p.add_argument("--pico", choices=("micropython", "circuitpython"),
                   help="an emulated Pico with this real firmware instead of a unix port")
    p.add_argument("--emulator", help="the Pico emulator's folder, holding pico.sh (default: "
                   "$UDFA_PICO_EMU)")
    p.add_argument("--drive", type=Path, help="--pico circuitpython: copy this folder onto "
                   "the CIRCUITPY drive before boot (see 'udfa deploy --drive')")
    p.add_argument("--fresh", action="store_true", help="--pico: a newly formatted flash")
    p.add_argument("--profile", default="rp2040", help="unix port: the profile whose heap "
                   "and interpreter it runs with (default: rp2040)")
    p.add_argument("--interpreter", help="unix port: the MicroPython to run")
    p.add_argument("--virtual-dir", help="unix port: the folder holding its flash folder")


def cmd_board(args):
    from . import board_cmd

    return (board_cmd.start if args.action == "start" else board_cmd.stop)(args)


def optional_verb(module, missing):
    """(cmd, setup) of a verb whose module may be absent from this install (an optional
    extra): setup then records why (`missing` % the ImportError), and the verb says it in one
    line instead of running."""
    def setup(p):
        try:
            found = importlib.import_module(module, __package__)
        except ImportError as e:
            p.set_defaults(missing=missing % e)
            return
        found.add_arguments(p)

    def cmd(args):
        if getattr(args, "missing", None):
            raise UsageError(args.missing)
        return importlib.import_module(module, __package__).run(args)

    return cmd, setup


def setup_fit_cnn(p):
    from . import fit_cnn

    fit_cnn.add_arguments(p)


def cmd_fit_cnn(args):
    from . import fit_cnn

    return fit_cnn.run(args)


# name -> (function, argparse setup, one-line help)
VERBS = {
    "prepare": (cmd_prepare, setup_prepare,
                "CSV, numpy or IDX data -> data shards sized for a board"),
    "deploy": (cmd_deploy, setup_deploy, "install the udfa device package on a board"),
    "push": (cmd_push, setup_push, "send shards to a board (skips those it holds)"),
    "train": (cmd_train, setup_train, "train on the board, with live progress and a log"),
    "pull": (cmd_pull, setup_pull, "bring the board's newest checkpoint back as a model"),
    "eval": (cmd_eval, setup_eval, "accuracy and confusion matrix of a model, on the PC"),
    "export": (cmd_export, setup_export, "a model as a C header, .npz or JSON"),
    "plot": (cmd_plot, setup_plot, "learning curve and confusion matrix as PNG"),
    "demo": (cmd_demo, setup_demo, "the whole workflow on the shipped MNIST subset"),
    "board": (cmd_board, setup_board,
              "start/stop a lasting virtual board or emulated Pico, for mpremote"),
    "fit": optional_verb(".fit", "host training (udfa_host.fit) is not in this install: %s") +
    ("train on the PC (numpy kernel, same integer rules)",),
    "fit-cnn": (cmd_fit_cnn, setup_fit_cnn,
                "train an integer CNN or LES MLP on the PC (spec string, e.g. c16k3p2-f10)"),
    "fleet": optional_verb(".fleet.run", "udfa fleet needs Flower: pip install 'udfa[fleet]' "
                           "(%s)") + ("federated training over several boards, on Flower",),
}


def parser(verb=None):
    """The argument parser; only `verb`'s options are set up (each setup may import its
    module: a verb pays only for its own, and a broken optional module hurts only its verb)."""
    top = Parser(prog="udfa", description="Integer-only neural-network training on "
                 "microcontrollers (direct feedback alignment).")
    sub = top.add_subparsers(dest="verb", metavar="VERB", required=True)
    for name, (func, setup, text) in VERBS.items():
        p = sub.add_parser(name, help=text, description=text)
        if name == verb:
            setup(p)
        p.set_defaults(func=func)
    return top


def errors():
    """The exception types that are the user's to fix: reported in one line, exit code 1."""
    from udfa.model import ModelError
    from udfa.shard import ShardError

    from .deploy import DeployError
    from .idx import DataError
    from .link import BoardError
    from .pico import EmulatorError
    from .plots import PlotError
    from .vboard import VirtualBoardError

    return (UsageError, ProfileError, board_train.TrainError, DeployError, DataError,
            BoardError, ModelError, ShardError, PlotError, EmulatorError, VirtualBoardError)


def verb_of(argv):
    return next((a for a in argv if not a.startswith("-")), None)


def run(argv=None):
    """Parse argv and run the verb; returns its result, raises its errors."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(verb_of(argv)).parse_args(argv)
    return args.func(args)


def explain(e, verb):
    """The one line that says what went wrong (e: an exception main() caught)."""
    from .link import BoardFileError
    from .sync import NoSpace

    if isinstance(e, BoardFileError) and not isinstance(e, NoSpace):  # NoSpace advises itself
        return "%s: %s" % (e, advice.board_file(e.errno, verb))
    if isinstance(e, errors()):
        return str(e)
    if isinstance(e, OSError):  # the PC's own files: a path, a permission
        if not e.strerror:
            return str(e)  # raised with a message of ours
        return "%s%s: check the path and its permissions" % (
            "%s: " % e.filename if e.filename else "", e.strerror)
    return ("unexpected %s in 'udfa %s': %s; rerun with UDFA_DEBUG=1 for the traceback"
            % (type(e).__name__, verb, e))


def main(argv=None):
    """The `udfa` command: runs the verb, ends any failure in one line; returns the exit code.
    UDFA_DEBUG=1 lets exceptions through, with their tracebacks."""
    argv = sys.argv[1:] if argv is None else list(argv)
    started = time.monotonic()
    try:
        run(argv)
    except KeyboardInterrupt:
        print("udfa: interrupted after %.0f s; a board keeps its last checkpoint: 'udfa train' "
              "resumes it" % (time.monotonic() - started), file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001  (the guard: no traceback reaches a user)
        if os.environ.get("UDFA_DEBUG", "0") not in ("", "0"):
            raise
        line = " ".join(explain(e, verb_of(argv)).split())  # one line, whatever e held
        print("udfa: error: %s" % line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
