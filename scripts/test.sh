#!/usr/bin/env bash
# Set up (once) and run the whole test suite headless (Qt offscreen, no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
python3 -m ruff check .
exec python3 -m pytest -q "$@"
