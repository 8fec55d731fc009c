"""Runs on the PC (ServerApp side): a fleet's progress on disk, so a restarted server resumes.

After every round the server writes OUT/fleet.ckpt: the global model and {"round": r, "plan":
P}, as a udfa checkpoint (udfa.checkpoint: written whole, then renamed, so a crash leaves the
previous round's). P names what the rounds' results depend on besides the model (the data,
split, seed, boards, profile, epochs, min-replies), as run.py's plan(). A round is a function of
the global model and the boards' shards only (every board starts it from the global model,
with the model's seed, and the average is exact), so rounds r+1.. after a restart give the
weights an uninterrupted run gives. The round's line goes to rounds.jsonl before the
checkpoint; lines after the checkpoint's round (a round that finished but was not saved) are
dropped on resume and that round runs again.
"""
import json
from pathlib import Path

from udfa import checkpoint
from udfa.files import remove
from udfa.model import ModelError

from ..cli import UsageError

CKPT = "fleet.ckpt"
LOG = "rounds.jsonl"


def save(out, model, done, plan):
    checkpoint.save(str(Path(out) / CKPT), model, {"round": done, "plan": plan})


def clear(out):
    """A fresh run: no checkpoint, an empty log."""
    for suffix in ("", ".new", ".old"):
        remove(str(Path(out) / CKPT) + suffix)
    (Path(out) / LOG).write_text("")


def restore(out, plan):
    """(model, rounds done) of the last completed round in out, the log trimmed to it; None
    when out holds no completed round. UsageError when it holds one of another plan."""
    try:
        found = checkpoint.restore(str(Path(out) / CKPT), "round",
                                   "start over without --resume")
    except ModelError as e:
        raise UsageError("--resume: %s" % e)
    if found is None:
        return None
    model, state = found
    saved = state.get("plan") or {}
    changed = sorted(k for k in set(saved) | set(plan) if saved.get(k) != plan.get(k))
    if changed:
        raise UsageError("--resume: the rounds in %s were run with other %s (%s): resume "
                         "with the same options, or leave out --resume to start over"
                         % (out, ", ".join(changed),
                            ", ".join("%s %s" % (k, saved.get(k)) for k in changed)))
    done = state["round"]
    log = Path(out) / LOG
    lines = log.read_text().splitlines() if log.exists() else []
    log.write_text("".join(l + "\n" for l in lines if l.strip()
                           and json.loads(l)["round"] <= done))
    return model, done
