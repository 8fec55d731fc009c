# Board entry (device): goes on with the training job that 'udfa train' left in train.json,
# so a board that was reset or unplugged keeps training from its newest checkpoint without a
# host. main.py (MicroPython) and code.py (CircuitPython) call main() at boot.
import json
import os

from udfa import agent

JOB = "train.json"  # agent.train's keyword arguments, written by the host
DONE = "train.done"  # the job once finished: a reset then leaves the REPL to the host


def pending(path=JOB):
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def run(path=JOB, fresh=False):
    """Train as the job says (resuming from its checkpoint unless fresh), then retire it."""
    with open(path) as f:
        job = json.load(f)
    agent.train(fresh=fresh, **job)
    try:
        os.remove(DONE)
    except OSError:
        pass
    os.rename(path, DONE)


def mirror(stream):
    """Also write every report line to stream (e.g. CircuitPython's usb_cdc.data) while a
    host listens there, so it can follow the training without stopping it."""
    plain = agent.report

    def both(event, fields):
        plain(event, fields)
        if stream.connected:
            stream.write(b"UDFA " + json.dumps(fields).encode() + b"\r\n")

    agent.report = both


def main(stream=None):
    if not pending():
        return  # nothing to do: the REPL is free for the host
    if stream is not None:
        mirror(stream)
    run()
