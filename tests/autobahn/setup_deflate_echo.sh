#!/usr/bin/env bash
# Installs the permessage-deflate echo upstream's dependencies (Node `ws`,
# pinned in tests/autobahn/deflate_echo/package-lock.json) from the npm
# registry with `npm ci`, into tests/autobahn/deflate_echo/node_modules.
# Idempotent: node_modules installed from the same lock file is kept.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/deflate_echo"
stamp=$(sha256sum < "$dir/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$dir/node_modules/.wsdiag-stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
if ! command -v npm > /dev/null; then
  echo "setup_deflate_echo.sh: npm not found (Node.js 20 or later is needed)" >&2
  exit 1
fi
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
node -e 'require(process.argv[1])' "$dir/node_modules/ws"
echo "$stamp" > "$dir/node_modules/.wsdiag-stamp"
