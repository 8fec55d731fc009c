"""Runs on the PC: `udfa board start|stop`, a board that outlasts the command, to poke with
plain mpremote: a lasting virtual board (udfa_host.lasting: a MicroPython or CircuitPython
unix port with a profile's heap) or an emulated Pico (udfa_host.pico: the real firmware, by
the board's own clock). Either way it serves a serial port at a fixed path, PORT, and PORT.json
beside it says which kind runs there, for `udfa board stop`.
"""
import json
import tempfile
from pathlib import Path

from . import lasting, pico
from .boards import load_profile
from .link import virtual_root


def default_port(kind):
    return str(Path(tempfile.gettempdir()) / ("udfa-pico" if kind else "udfa-board"))


def start(args):
    port = args.port or default_port(args.pico)
    if args.pico:
        board = pico.EmulatedPico(port, args.pico, args.emulator)
        board.start(drive=args.drive, fresh=args.fresh)
        what = "an emulated Pico (%s firmware, board clock 125 MHz)" % args.pico
        kind = {"kind": "pico", "firmware": args.pico, "emulator": str(board.emulator)}
    else:
        profile = load_profile(args.profile)
        interpreter = args.interpreter or profile["interpreter"] or "micropython"
        root = virtual_root(args.profile, args.virtual_dir)
        lasting.start(port, interpreter, profile["heap"], root)
        what = "a virtual %s board (%s, %s heap, flash in %s)" % (args.profile, interpreter,
                                                                   profile["heap"], root)
        kind = {"kind": "unix"}
    Path(port + ".json").write_text(json.dumps(kind) + "\n")
    print("%s on %s\n  mpremote connect %s exec \"print('hello')\"\n  udfa train --board %s ..."
          "\n  udfa board stop --port %s" % (what, port, port, port, port))
    return port


def stop(args):
    port = args.port or default_port(args.pico)
    info = Path(port + ".json")
    if not info.is_file():
        print("no board started by 'udfa board start' on %s" % port)
        return False
    kind = json.loads(info.read_text())
    if kind["kind"] == "pico":
        pico.EmulatedPico(port, kind["firmware"], kind["emulator"]).stop()
    else:
        lasting.stop(port)
    info.unlink()
    print("stopped the board on %s (its files are kept)" % port)
    return True
