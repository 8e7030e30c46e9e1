#!/usr/bin/env bash
# Install rnnviz and everything it needs into the current Python, on a fresh machine.
# torch: when none is installed, pin the CPU wheel (2.13.0) instead of letting pip pull a
# multi-GB CUDA build; a torch you already have (CUDA or not) is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    echo "rnnviz setup: installing torch==2.13.0 (CPU)"
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[test,bench]"
