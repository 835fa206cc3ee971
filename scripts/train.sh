#!/usr/bin/env bash
# The main job from a fresh machine: train the tutorials' MNIST model (Dense 512 relu ->
# Dense 10 softmax, RMSprop, 5 epochs, batch 128) on the real dataset available (MNIST if
# its files are found, else Fashion-MNIST) and print the test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gradkit train --dataset auto --model mlp --epochs 5 --batch-size 128 \
  --optimizer rmsprop --lr 0.001 --out runs/main "$@"
