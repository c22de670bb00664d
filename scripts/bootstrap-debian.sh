#!/usr/bin/env bash
# Install the Debian packages the example apps need (clang → wasm32-wasi, wasi-libc, native gcc),
# or the packages named as arguments (scripts/bootstrap-containers.sh).
# Idempotent: checks each package with `dpkg -s` first and runs `apt-get update` only when
# something is missing. Recommends are not installed. Uses sudo only when not root.
set -euo pipefail

PACKAGES=(clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 gcc libc6-dev make)
if [ "$#" -gt 0 ]; then
	PACKAGES=("$@")
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	if ! dpkg -s "$pkg" >/dev/null 2>&1; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "bootstrap-debian: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
	SUDO=(sudo)
fi

echo "bootstrap-debian: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
