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
.venv/bin/python -m pip install -q --upgrade pip
requirements=(-r lambdas/requirements.txt -r requirements/local.txt)
if [ "$mode" = test ]; then
  for file in requirements/*.txt; do requirements+=(-r "$file"); done
fi
say "pip install (${mode})"
# --no-compile: Python compiles what it imports; compiling all of site-packages (aws-cdk-lib alone
# is ~200 MB) up front cost about a minute of every fresh install.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-compile "${requirements[@]}"
# The core (lambdas/voicebot) and the handlers as an editable package: local/, interpreter/, cdk/,
# bench/ and tests/ import them like any installed package.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .

# ---- Node (package.json's pins: the CDK CLI for tests and deploys, ESLint for web/js) ----------
node_missing() { [ ! -d node_modules/aws-cdk ] || [ ! -x node_modules/.bin/eslint ]; }
if [ "$mode" = test ] && [ -f package-lock.json ] && node_missing; then
  say "npm ci (aws-cdk CLI, ESLint)"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "installed (${mode})"
