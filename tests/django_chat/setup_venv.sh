#!/usr/bin/env bash
# Creates the Python venv the tests use, from PyPI, at target/django-venv
# (or $1): the Django backend's packages, the test tools (a Markdown
# renderer), the python-socketio server of tests/dialect_apps/python and
# the FastAPI chat of tests/fastapi_chat. Idempotent: a venv built from the
# same requirement files is kept; a change to them rebuilds it.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-target/django-venv}
requirements=(tests/django_chat/requirements.lock.txt tests/tools/requirements.txt tests/dialect_apps/python/requirements.txt tests/fastapi_chat/requirements.txt)
stamp=$(cat "${requirements[@]}" | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.complete" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
rm -rf "$venv"
python3 -m venv "$venv"
for r in "${requirements[@]}"; do
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$r"
done
echo "$stamp" > "$venv/.complete"
