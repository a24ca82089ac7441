#!/usr/bin/env bash
# Creates the Python 2.7 virtualenv holding Autobahn|Testsuite (wstest), from
# PyPI only, at target/autobahn-venv (or $1, relative to the repo root).
# Idempotent: a venv built from the same requirement files and the same
# version of this script is kept; a change to either rebuilds it.
#
# Python 2.7 has no `venv` module, so the venv is made by virtualenv 20.21.1
# (the last release that can still create 2.7 environments), installed with
# pip --target into a throw-away directory and run by a Python 3. It seeds the
# venv with pip 20.3.4 / setuptools 44.1.1 / wheel 0.37.1 from wheels it
# embeds, so that step needs no network.
#
# Environment:
#   AUTOBAHN_PYTHON2  the 2.7 interpreter (default: pyenv's 2.7.18)
#   PYTHON3           the Python 3 that runs virtualenv (default: python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-target/autobahn-venv}
python2=${AUTOBAHN_PYTHON2:-${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.18/bin/python}
python3=${PYTHON3:-python3}
here=tests/autobahn
stamp=$(cat "$here/requirements.txt" "$here/build-constraints.txt" "$here/setup_venv.sh" \
  | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/wstest" ] && [ "$(cat "$venv/.complete" 2>/dev/null)" = "$stamp" ]; then exit 0; fi

if ! "$python2" -c 'import sys; assert sys.version_info[:2] == (2, 7)' 2>/dev/null; then
  echo "setup_venv.sh: no Python 2.7 at $python2 (set AUTOBAHN_PYTHON2)" >&2
  exit 1
fi

bootstrap=$(mktemp -d)
trap 'rm -rf "$bootstrap"' EXIT
rm -rf "$venv"
PIP_ROOT_USER_ACTION=ignore "$python3" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
  --target "$bootstrap/lib" \
  virtualenv==20.21.1 distlib==0.3.6 filelock==3.12.0 platformdirs==3.5.0
PYTHONPATH="$bootstrap/lib" "$python3" -m virtualenv --quiet --no-download \
  --no-periodic-update --app-data "$bootstrap/app-data" -p "$python2" "$venv"

# PIP_CONSTRAINT also reaches the isolated build environments of the sdists.
PIP_CONSTRAINT="$PWD/$here/build-constraints.txt" \
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-python-version-warning \
  -r "$here/requirements.txt"
if ! out=$("$venv/bin/pip" check --disable-pip-version-check --no-python-version-warning); then
  echo "$out" >&2
  exit 1
fi
PYTHONWARNINGS="ignore:Python 2 is no longer supported" "$venv/bin/wstest" --help >/dev/null
echo "$stamp" > "$venv/.complete"
