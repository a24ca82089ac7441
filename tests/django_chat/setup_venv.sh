#!/usr/bin/env bash
# Creates the Python venv the Django end-to-end tests use, from PyPI, at
# target/django-venv (or $1). Idempotent: an existing complete venv is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-target/django-venv}
if [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ]; then exit 0; fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/django_chat/requirements.lock.txt
touch "$venv/.complete"
