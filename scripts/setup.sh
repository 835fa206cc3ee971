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
echo "== installing gradkit[$extras]"
.venv/bin/python -m pip install -q -e ".[$extras]"

# Fashion-MNIST from Debian (the loader also looks in ~/.cache/gradkit and can download).
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing dataset-fashion-mnist from Debian"
    (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
      || (apt-get update -qq >/dev/null && apt-get install -y -qq dataset-fashion-mnist >/dev/null)) \
      || echo "!! could not install dataset-fashion-mnist; gradkit will try to download it"
  else
    echo "!! dataset-fashion-mnist is not installed (needs root: sudo apt-get install dataset-fashion-mnist);"
    echo "   gradkit will look in \$GRADKIT_DATA and ~/.cache/gradkit, then try to download it"
  fi
fi

# Graphviz (plot_model / plot.graph pictures) and headless Chromium (the browser tests), from Debian.
if [ "$extras" = "test" ] && ! { command -v dot && command -v chromium; } >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing graphviz and chromium from Debian"
    (apt-get install -y -qq graphviz chromium >/dev/null 2>&1 \
      || (apt-get update -qq >/dev/null && apt-get install -y -qq graphviz chromium >/dev/null)) \
      || echo "!! could not install graphviz/chromium; the tests that need them will be skipped"
  else
    echo "!! graphviz/chromium are not installed (sudo apt-get install graphviz chromium);"
    echo "   the tests that need them will be skipped"
  fi
fi
