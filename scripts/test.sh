#!/usr/bin/env bash
# Installs everything the tests need, then runs hygiene checks and the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/handlers -x
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh test
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true

# The same checks as .pre-commit-config.yaml, then the whole suite.
echo "==> ruff check"
.venv/bin/ruff check .
echo "==> ruff format --check"
.venv/bin/ruff format --check .
echo "==> eslint (web/js)"
bash scripts/lint-js.sh
echo "==> wire schema and message index (generated from voicebot.contract.wire)"
.venv/bin/python -m voicebot.contract.schema --check
# mypy takes about a minute from cold (every CI run) on one core: it runs beside the test suite
# and its report is printed after the tests. Either failing fails the run.
mypy_log="$(mktemp)"
trap 'rm -f "$mypy_log"' EXIT
echo "==> mypy (lambdas local interpreter cdk bench), beside pytest"
# At the lowest CPU priority: the suite's first minutes (browsers, local stacks, synths) keep
# both cores busy, its last ones do not, and mypy is not waited on until the suite ends.
nice -n 19 .venv/bin/mypy lambdas local interpreter cdk bench > "$mypy_log" 2>&1 &
mypy_pid=$!
echo "==> pytest"
set +e
# Three workers on 2 cores: the suite mostly waits (browsers, sockets, real time) and used about
# 0.8 of a core with two. A worker takes a test file at a time, the browser files and the synth
# files as one group each (tests/conftest.py says why and in what order). PYTEST_WORKERS=0 runs
# it in one process.
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-3}" --dist loadfile --no-loadscope-reorder \
  --durations=25 "$@"
status=$?
wait "$mypy_pid"
mypy_status=$?
set -e
echo "==> mypy report"
cat "$mypy_log"
if [ "$status" -eq 5 ]; then
  # pytest's "no tests collected" (e.g. a -k filter that matched nothing) is not a failure of
  # the code under test; say so loudly instead of failing the run.
  echo "WARNING: pytest collected no tests (exit 5) for arguments: ${*:-<none>}" >&2
  status=0
fi
if [ "$mypy_status" -ne 0 ]; then
  echo "mypy failed (exit $mypy_status)" >&2
  [ "$status" -eq 0 ] && status="$mypy_status"
fi
exit "$status"
