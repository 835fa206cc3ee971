#!/usr/bin/env bash
# Everything from a fresh machine to the full test suite: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
echo "== running the test suite"
exec .venv/bin/python -m pytest "$@"
