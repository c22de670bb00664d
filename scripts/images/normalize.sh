#!/bin/sh
# Remove what makes two builds of the same Debian root filesystem differ, and what an image does
# not need: apt's package lists and downloaded packages, logs, backups of files dpkg or shadow
# rewrote, caches that record build times (ldconfig's aux-cache, fontconfig), Python bytecode
# (the python image regenerates it deterministically), and files the container runtime supplies
# (/dev nodes, hostname, resolv.conf). Pins /etc/shadow's "last password change" day to
# SOURCE_DATE_EPOCH. Runs on the host on a debootstrap root (scripts/images.sh) and inside image
# builds after apt-get (`sh normalize.sh /`). POSIX sh: the images have dash, not bash.
#
#   SOURCE_DATE_EPOCH=<seconds> sh normalize.sh <root>
set -eu

root=${1:?usage: normalize.sh <root>}
: "${SOURCE_DATE_EPOCH:?normalize.sh: SOURCE_DATE_EPOCH must be set}"
cd "$root"

# apt: package lists, downloaded .debs, its binary caches.
rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/cache/apt/archives/partial/*
# Logs (dpkg, apt, alternatives, debootstrap, login records): every one holds times.
find var/log -type f -delete
# Backups dpkg, debconf and shadow's tools keep of the files they rewrite.
rm -f var/lib/dpkg/*-old var/cache/debconf/*-old etc/passwd- etc/group- etc/shadow- etc/gshadow-
# Caches that record build times or the build machine.
rm -rf var/cache/ldconfig/aux-cache var/cache/fontconfig/* etc/machine-id var/lib/dbus/machine-id
# Python bytecode: written by postinst scripts in timestamp mode (see python.Containerfile).
find . -xdev -depth -type d -name __pycache__ -exec rm -rf {} +
# Supplied by the container runtime at run time (debootstrap copies the build host's; in a build
# container they are the runtime's mounts and do not go into the layer).
if [ "$root" != / ]; then
	rm -rf etc/hostname etc/resolv.conf dev/* proc/* sys/* run/* tmp/*
fi
rm -rf var/tmp/*
# /etc/shadow's third field is the day of the last password change: the build day otherwise.
day=$((SOURCE_DATE_EPOCH / 86400))
sed -i -E "s/^([^:]*:[^:]*:)[0-9]+:/\1${day}:/" etc/shadow
