#!/usr/bin/env bash
# The main job: train a network on a virtual Raspberry Pi Pico (the real MicroPython unix
# port with the RP2040's heap) on the MNIST subset shipped in data/, then pull, evaluate
# and plot. Sets up .venv by itself. Extra arguments go to `udfa demo`.
set -e
cd "$(dirname "$0")"
. tools/venv.sh
udfa demo "$@"
