"""Runs on the PC: writes a trained model as a C header, a numpy .npz or JSON.

Every format carries what an inference routine needs to reproduce the board's integer forward
pass exactly (udfa.model): per layer, W (int16, n_in x n_out, input-major), b (int16), the
right shift, the activation name and its 256-entry lookup table (int8, index z + 128), plus the
bias input and the input scale in_max.
"""
import json
import re
from pathlib import Path

import numpy as np

from udfa.pocket import BIAS_INPUT

FORMATS = ("h", "npz", "json")


def layers(model):
    """Per layer: a dict of numpy arrays and numbers, W shaped (n_in, n_out)."""
    out = []
    for l in model.layers:
        out.append({"n_in": l.n_in, "n_out": l.n_out, "act": l.act, "shift": l.shift,
                    "W": np.array(l.W, np.int16).reshape(l.n_in, l.n_out),
                    "b": np.array(l.b, np.int16),
                    "act_table": np.array(l.values, np.int8)})
    return out


def to_json(model):
    return {"sizes": list(model.sizes), "in_max": model.in_max, "bias_input": BIAS_INPUT,
            "seed": model.seed,
            "layers": [{k: (v.tolist() if isinstance(v, np.ndarray) else v)
                        for k, v in layer.items()} for layer in layers(model)]}


def to_npz(model, path):
    arrays = {"sizes": np.array(model.sizes, np.int32), "in_max": np.int32(model.in_max),
              "bias_input": np.int32(BIAS_INPUT)}
    for k, layer in enumerate(layers(model)):
        for key in ("W", "b", "act_table"):
            arrays["%s%d" % (key, k)] = layer[key]
        arrays["shift%d" % k] = np.int32(layer["shift"])
        arrays["act%d" % k] = np.array(layer["act"])
    np.savez(path, **arrays)


def to_c_header(model, name="udfa_model"):
    """A self-contained C header: sizes, shifts, activation names and tables, weights."""
    guard = re.sub(r"\W", "_", name).upper() + "_H"
    n = len(model.layers)
    lines = [
        "/* udfa model %s, written by 'udfa export'. Layer k:" % model.describe(),
        " *   h[j] = sum_i x[i] * W[i][j] + %s_BIAS_INPUT * b[j]   (int32; |h| < 2^30)"
        % name.upper(),
        " *   z = clamp(h >> shift[k], -128, 127);  a[j] = act_table[z + 128]",
        " * The first layer's inputs are 0..%d (pixels), later ones the int8 activations;"
        % model.in_max,
        " * the prediction is the index of the largest output. */",
        "#ifndef %s" % guard, "#define %s" % guard, "#include <stdint.h>", "",
        "#define %s_N_LAYERS %d" % (name.upper(), n),
        "#define %s_BIAS_INPUT %d" % (name.upper(), BIAS_INPUT),
        "#define %s_IN_MAX %d" % (name.upper(), model.in_max), "",
        "static const uint16_t %s_sizes[%d] = {%s};" % (name, n + 1, _ints(model.sizes)),
        "static const uint8_t %s_shifts[%d] = {%s};"
        % (name, n, _ints(l.shift for l in model.layers)),
        "static const char *const %s_acts[%d] = {%s};"
        % (name, n, ", ".join('"%s"' % l.act for l in model.layers)), "",
    ]
    for k, layer in enumerate(layers(model)):
        lines.append("static const int8_t %s_act%d[256] = {%s};"
                     % (name, k, _ints(layer["act_table"])))
        lines.append("static const int16_t %s_b%d[%d] = {%s};"
                     % (name, k, layer["n_out"], _ints(layer["b"])))
        lines.append("static const int16_t %s_W%d[%d][%d] = {" % (name, k, layer["n_in"],
                                                                   layer["n_out"]))
        lines += ["    {%s}," % _ints(row) for row in layer["W"]]
        lines += ["};", ""]
    lines.append("#endif /* %s */" % guard)
    return "\n".join(lines) + "\n"


def _ints(values):
    return ", ".join(str(int(v)) for v in values)


def export(model, path, fmt=None):
    """Write model to path in fmt ('h', 'npz' or 'json'; default: from the suffix)."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise ValueError("unknown export format %r: name the file .h, .npz or .json, or "
                         "pass --format" % fmt)
    if fmt == "h":
        name = re.sub(r"\W", "_", path.stem)
        path.write_text(to_c_header(model, name if name[:1].isalpha() else "udfa_" + name))
    elif fmt == "npz":
        to_npz(model, path)
    else:
        path.write_text(json.dumps(to_json(model)) + "\n")
    return path
