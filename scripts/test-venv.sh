#!/usr/bin/env bash
# The tests' Python virtualenv with Jupyter: `scripts/test-venv.sh [folder]` (default .venv).
# Made by .ci/run and, when it is missing, by `npm test` itself. pip uses the configured package
# index (PIP_INDEX_URL, else pip.conf); where the local mirror /opt/pypi/simple exists and
# PIP_INDEX_URL is unset, the mirror is the index (the default index is unreachable there).
set -euo pipefail
venv="${1:-.venv}"
if [ -z "${PIP_INDEX_URL:-}" ] && [ -d /opt/pypi/simple ]; then
  export PIP_INDEX_URL=file:///opt/pypi/simple
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check jupyterlab nbconvert ipykernel
"$venv/bin/jupyter" --version >/dev/null
