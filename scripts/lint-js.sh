#!/usr/bin/env bash
# Lints the page's JavaScript (web/js) with the ESLint pinned in package.json, configured by
# eslint.config.js. Extra arguments go to eslint, e.g. scripts/lint-js.sh --fix
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/eslint ]; then
  echo "scripts/lint-js.sh: node_modules/.bin/eslint is missing; run scripts/install.sh test" >&2
  exit 1
fi
exec node_modules/.bin/eslint web/js "$@"
