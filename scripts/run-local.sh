#!/usr/bin/env bash
# Installs what the local stack needs, then runs it in the foreground (Ctrl-C stops it).
# Arguments go to `python -m local`, e.g. scripts/run-local.sh --port 8080 --chat bedrock
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh local
exec .venv/bin/python -m local "$@"
