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
    touch "$stamp"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
