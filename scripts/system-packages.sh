#!/usr/bin/env bash
# Debian packages the test suite runs for real: redis-server (shared rate-limit storage), chromium
# (the docs UI, driven headless) and Node.js with npm (a JS client of the API). Installed only when
# missing; apt needs root (or sudo).
set -euo pipefail

declare -A wanted=([redis-server]=redis-server [chromium]=chromium [node]=nodejs [npm]=npm)
missing=()
for command in "${!wanted[@]}"; do
    command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
else
    echo "make install: Debian packages ${missing[*]} are needed (tests run them); install them as root:" >&2
    echo "  apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
