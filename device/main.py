# MicroPython entry point (device), runs at boot: goes on with an unfinished udfa training job
# (train.json, left by 'udfa train'); without one it returns at once, leaving the REPL free.
# The host's next command interrupts a running job (Ctrl-C); the checkpoint keeps its progress.
from udfa import autorun

autorun.main()
