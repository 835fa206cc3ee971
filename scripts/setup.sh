#!/usr/bin/env bash
# Set up a fresh machine for gradkit: a virtual environment (.venv), the package,
# and the Fashion-MNIST dataset from Debian when it can be installed.
#   bash scripts/setup.sh          # runtime + plots (the main job)
#   bash scripts/setup.sh --test   # + gradkit[test]: pytest, hypothesis, PyTorch 2.13.0...
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras="plot"
[ "${1:-}" = "--test" ] && extras="test"

if [ ! -x .venv/bin/python ]; then
  echo "== creating virtual environment .venv"
  "$PY" -m venv .venv
fi
# debian_install WHAT PACKAGE...: install Debian packages when root; in CI (CI=true) a failure
# stops the set-up, since tests would otherwise skip what they were meant to check.
debian_install() {
  local what=$1; shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing $* from Debian"
    if (apt-get install -y -qq "$@" >/dev/null 2>&1 \
        || (apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null)); then
      return 0
    fi
    echo "!! could not install $*; $what"
  else
    echo "!! $* not installed (needs root: sudo apt-get install $*); $what"
  fi
  [ "${CI:-}" != "true" ] || { echo "!! CI needs them: stopping"; exit 1; }
}

# Fashion-MNIST (the loader also looks in $GRADKIT_DATA, ~/.cache/gradkit and can download).
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
  || debian_install "gradkit will look in \$GRADKIT_DATA and ~/.cache/gradkit, then download" \
       dataset-fashion-mnist

# Graphviz (plot_model / plot.graph pictures) and headless Chromium (the browser tests).
if [ "$extras" = "test" ] && ! { command -v dot && command -v chromium; } >/dev/null; then
  debian_install "the tests that need them will be skipped" graphviz chromium
fi

# Open MPI (mpirun, and libmpi for mpi4py): the distributed tests run under real mpirun.
if [ "$extras" = "test" ] && ! command -v mpirun >/dev/null; then
  debian_install "the tests that need mpirun will be skipped" openmpi-bin libopenmpi-dev
fi

echo "== installing gradkit[$extras]"
.venv/bin/python -m pip install -q -e ".[$extras]"
