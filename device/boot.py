# CircuitPython boot file (device), runs once before USB starts, after a hard reset.
# - Enables the second USB serial channel, usb_cdc.data, beside the REPL console: udfa's
#   code.py mirrors training progress there; the host keeps the console for commands.
# - Gives the flash to the board's code: udfa writes pushed shards and checkpoints from the
#   board, which CircuitPython refuses while the PC may write the USB drive. The drive then
#   shows read-only on the PC; to edit it from the PC again, remove this file (from the REPL:
#   import os; os.remove("boot.py")) and reset.
import storage
import usb_cdc

usb_cdc.enable(console=True, data=True)
storage.remount("/", readonly=False)
