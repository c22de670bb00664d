#!/usr/bin/env bash
# Install the Debian packages that building and running container apps needs: podman (builds and
# runs the images), runc (the OCI runtime it uses here: crun fails on some kernels' cgroups),
# debootstrap (makes the Debian root filesystems of scripts/images.sh) with the archive keyring
# it checks signatures with.
# Idempotent: checks each package with `dpkg -s` first and runs `apt-get update` only when
# something is missing. Recommends are not installed (no buildah, slirp4netns, fuse-overlayfs:
# root uses the kernel's overlayfs, and builds and apps run with host or no networking).
# Uses sudo only when not root.
set -euo pipefail

PACKAGES=(podman runc debootstrap debian-archive-keyring)

missing=()
for pkg in "${PACKAGES[@]}"; do
	if ! dpkg -s "$pkg" >/dev/null 2>&1; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "bootstrap-containers: ${PACKAGES[*]} already installed"
	exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "bootstrap-containers: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
	SUDO=(sudo)
fi

echo "bootstrap-containers: installing ${missing[*]} (apt-get, no recommends)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "bootstrap-containers: installed: $(podman --version), $(runc --version | head -1)"
