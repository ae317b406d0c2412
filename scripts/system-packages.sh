#!/usr/bin/env bash
# Installs the Debian packages the tests need and PyPI cannot provide (Make's `system` target).
#
# Usage: scripts/system-packages.sh COMMAND=PACKAGE [COMMAND=PACKAGE ...]
# For each pair whose COMMAND (an absolute path or a name on PATH) is missing, PACKAGE is
# installed with apt-get: directly as root, through `sudo -n` when that works without a
# password, otherwise the script stops with one line saying what to install. Nothing is done
# when every command is present, so the check costs nothing on a prepared machine.
set -euo pipefail

missing=()
for pair in "$@"; do
  cmd=${pair%%=*}
  pkg=${pair#*=}
  if [[ $cmd == /* ]]; then [[ -x $cmd ]] && continue; else command -v "$cmd" >/dev/null 2>&1 && continue; fi
  missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "error: the tests need Debian packages that are not installed: ${missing[*]}; run \`sudo apt-get install -y ${missing[*]}\` (or run make as root) and try again" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the tests need ${missing[*]} and this machine has no apt-get: install them with your package manager and try again" >&2
  exit 1
fi
echo "installing Debian packages the tests need: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
