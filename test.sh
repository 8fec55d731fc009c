#!/usr/bin/env bash
# Runs every test: CPython, the MicroPython unix port, and the 32-bit/ulab builds in
# ../shared/bin where present. Sets up .venv by itself. Extra arguments go to pytest.
set -e
cd "$(dirname "$0")"
. tools/venv.sh
python tools/fpu_lint.py device
python -m pytest -q "$@" tests
