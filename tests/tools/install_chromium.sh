#!/bin/sh
# Installs Debian's Chromium (/usr/bin/chromium) for the headless browser test.
# Idempotent: does nothing when /usr/bin/chromium already exists.
set -eu

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
