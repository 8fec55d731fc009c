# Sourced by demo.sh and test.sh: create .venv on first use, install udfa into it, activate it.
# Installs again only when pyproject.toml changed since the last install.
set -e
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.udfa-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e "$root[test]"
    # CircuitPython's typing stubs, without their Adafruit-Blinka dependency: Blinka installs
    # a `micropython` module into CPython, which the device code must not find on the host
    "$venv/bin/python" -m pip install -q --no-deps adafruit-circuitpython-typing
    touch "$stamp"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
