# Board entry (device): goes on with the training job that 'udfa train' left in train.json,
# so a board that was reset or unplugged keeps training from its newest checkpoint without a
# host. main.py (MicroPython) and code.py (CircuitPython) call main() at boot.
#
# A job that raises is retired to train.failed, with its error in train.err, so that a board
# whose job fails at boot does not fail the same way after every reset: the host's next
# 'udfa train' reports the error and starts a new job. A Ctrl-C from the host (how it takes
# the REPL back) keeps the job, to be resumed.
# udfa.agent (and with it the whole trainer) is imported only when there is a job: a boot
# without one costs next to nothing, and leaves MicroPython's heap as it found it.
import json
import os

from udfa import files

JOB = "train.json"  # agent.train's keyword arguments, written by the host
DONE = "train.done"  # the job once finished: a reset then leaves the REPL to the host
FAILED = "train.failed"  # the job once it raised: never run again at boot
ERROR = "train.err"  # one line: why it failed


def run(path=JOB, fresh=False):
    """Train as the job says (resuming from its checkpoint unless fresh), then retire it."""
    from udfa import agent

    try:
        with open(path) as f:
            job = json.load(f)
        agent.train(fresh=fresh, **job)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        retire(path, FAILED)
        try:  # a full or read-only flash may refuse it; the retired job is what matters
            with open(ERROR, "w") as f:
                f.write("%s: %s" % (type(e).__name__, e))
        except OSError:
            pass
        raise
    retire(path, DONE)


def retire(path, to):
    files.remove(to)
    os.rename(path, to)


def mirror(stream):
    """Also write every report line to stream (e.g. CircuitPython's usb_cdc.data) while a
    host listens there, so it can follow the training without stopping it."""
    from udfa import agent

    plain = agent.report

    def both(event, fields):
        plain(event, fields)
        if stream.connected:
            stream.write(b"UDFA " + json.dumps(fields).encode() + b"\r\n")

    agent.report = both


def main(stream=None):
    if not files.exists(JOB):
        return  # nothing to do: the REPL is free for the host
    if stream is not None:
        mirror(stream)
    run()
