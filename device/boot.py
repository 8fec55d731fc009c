# CircuitPython boot file (device, udfa), runs once before USB starts, after a hard reset.
# Gives the flash to the board's code: udfa writes pushed shards and checkpoints from the
# board, which CircuitPython refuses while the PC may write the USB drive. The drive then shows
# read-only on the PC; to edit it from the PC again, remove this file (from the REPL:
# import os; os.remove("boot.py")) and reset.
# udfa's code.py also mirrors training progress to the second USB serial channel when it is
# enabled: add `import usb_cdc; usb_cdc.enable(console=True, data=True)` here for that (it
# changes the board's USB interfaces; udfa itself needs only the console).
import storage

storage.remount("/", readonly=False)
