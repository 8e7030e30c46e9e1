#!/usr/bin/env bash
# Set up (once) and open the rnnviz window on the default lesson.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec rnnviz "$@"
