#!/usr/bin/env bash
# Installs what Voicebot needs on a fresh Debian/Ubuntu machine: a few system packages and a
# Python virtual environment in .venv. Safe to run again: it skips what is already there.
#
#   scripts/install.sh local   # what the local stack needs
#   scripts/install.sh test    # everything: local stack, interpreter, CDK app, tests, browser
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-test}"
case "$mode" in local|test) ;; *) echo "usage: scripts/install.sh [local|test]" >&2; exit 2 ;; esac

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# ---- system packages ------------------------------------------------------------------------
apt_packages=(espeak-ng libsndfile1 libportaudio2)
[ "$mode" = test ] && apt_packages+=(chromium chromium-driver sox nodejs npm)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# Node may come from elsewhere (nvm, the image); only ask apt for it when there is none.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<< "${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- Python -----------------------------------------------------------------------------------
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
requirements=(-r lambdas/requirements.txt -r requirements/local.txt)
if [ "$mode" = test ]; then
  for file in requirements/*.txt; do requirements+=(-r "$file"); done
fi
# uv installs the same versions as pip from the same requirement files, downloading in parallel:
# 11 s instead of pip's 68 s for a fresh test install on 2 cores (both with empty caches). pip
# does it where uv cannot be had or cannot reach the index (uv does not read pip.conf, so a
# machine that only has a local index or wheel folder configured for pip gets pip). pip itself is
# still upgraded: the CDK app's bundling uses it for the Lambda's aarch64 wheels.
pip_quiet=(-q --disable-pip-version-check)
if .venv/bin/python -m pip install "${pip_quiet[@]}" "uv>=0.9,<1" >/dev/null 2>&1 \
  && say "uv pip install (${mode})" \
  && .venv/bin/uv pip install -q --python .venv/bin/python --upgrade pip "${requirements[@]}" \
  && .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .; then
  :
else
  say "pip install (${mode})"
  .venv/bin/python -m pip install "${pip_quiet[@]}" --upgrade pip
  # --no-compile: Python compiles what it imports; compiling all of site-packages (aws-cdk-lib
  # alone is ~200 MB) up front cost about a minute of every fresh install.
  .venv/bin/python -m pip install "${pip_quiet[@]}" --no-compile "${requirements[@]}"
  # The core (lambdas/voicebot) and the handlers as an editable package: local/, interpreter/,
  # cdk/, bench/ and tests/ import them like any installed package.
  .venv/bin/python -m pip install "${pip_quiet[@]}" --no-deps -e .
fi

# ---- Node (package.json's pins: the CDK CLI for tests and deploys, ESLint for web/js) ----------
node_missing() { [ ! -d node_modules/aws-cdk ] || [ ! -x node_modules/.bin/eslint ]; }
if [ "$mode" = test ] && [ -f package-lock.json ] && node_missing; then
  say "npm ci (aws-cdk CLI, ESLint)"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "installed (${mode})"
