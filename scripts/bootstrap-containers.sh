#!/usr/bin/env bash
# Install the Debian packages that building and running container apps needs: podman (builds and
# runs the images), runc (the OCI runtime it uses here: crun fails on some kernels' cgroups),
# debootstrap (makes the Debian root filesystems of scripts/images.sh) with the archive keyring
# it checks signatures with. Recommends are not installed (no buildah, slirp4netns,
# fuse-overlayfs: root uses the kernel's overlayfs, and builds and apps run with host or no
# networking). Idempotent, as scripts/bootstrap-debian.sh, which does the installing.
set -euo pipefail

"$(dirname "$0")/bootstrap-debian.sh" podman runc debootstrap debian-archive-keyring
echo "bootstrap-containers: $(podman --version), $(runc --version | head -1)"
