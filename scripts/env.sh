# Sourced by the scripts: a project-local Python virtual environment with what the
# tests, demo and benchmarks need, created on first use. Sets PYTHON.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV" >&2
    python3 -m venv "$VENV" || { echo "python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
PYTHON="$VENV/bin/python"
# Install the requirements once per change of the list.
stamp="$VENV/.requirements.sha"
want="$(sha256sum "$ROOT/tests/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing Python requirements" >&2
    "$PYTHON" -m pip install -q --upgrade pip >&2
    "$PYTHON" -m pip install -q -r "$ROOT/tests/requirements.txt" >&2
    echo "$want" > "$stamp"
fi
export PYTHON

# Builds libbpe from this tree (maturin, through pip) and installs it into the venv, so
# what runs is what is checked out.
install_libbpe() {
    echo "==> building and installing libbpe into .venv" >&2
    "$PYTHON" -m pip install -q --no-deps --force-reinstall "$ROOT"
}
