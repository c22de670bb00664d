#!/usr/bin/env bash
# Build the base images of dexec's container apps in the host's podman store, from Debian
# bookworm packages only:
#
#   localhost/dexec/base:bookworm         debootstrap --variant=minbase, no docs or translations
#   localhost/dexec/python:bookworm       base + python3, python3-numpy, python3-sklearn
#   localhost/dexec/imagemagick:bookworm  base + imagemagick (convert)
#
#   scripts/images.sh [--force] [base|python|imagemagick ...]    (make images; default: all three)
#
# Reproducible: the same inputs give the same image IDs (so the same app checksums) on any day
# and machine with this podman version. SOURCE_DATE_EPOCH is fixed; scripts/images/normalize.sh
# removes what differs between two builds (apt lists, logs, caches, backups, bytecode) and pins
# /etc/shadow's change day; the base root file system goes in as a tar sorted by name with owners
# and times normalised; `podman build --timestamp` gives every file, history entry and the image
# its time, and --identity-label=false leaves out the builder's version label.
# The limit: packages come from Debian's main archive (debootstrap's default mirror), bookworm
# suite only (no updates or security suites), which changes only at a Debian point release
# (every few months); Debian's snapshot archive, which would pin a date, is not reachable from
# our machines. A build after a point release gives new IDs (the base image's label
# org.dexec.debian says which release it holds).
#
# Idempotent: an image whose org.dexec.recipe label matches the sha256 of this script, the
# normalize script, its files in scripts/images (<name>.*) and its parent image's ID is up to
# date and skipped; --force rebuilds. Needs root (debootstrap), podman, runc, debootstrap
# (scripts/bootstrap-containers.sh, which `make images` runs first).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$ROOT/scripts/images"
SUITE=bookworm
# 2026-07-11 00:00:00 UTC, the day of Debian 12.15 (the point release these images were made
# from). Not a pin: see the header.
export SOURCE_DATE_EPOCH=1783728000
# debootstrap's root file system and its tar (about 200 MB each, deleted after the import).
WORK=/var/tmp/dexec-images
# runc, cgroupfs and explicit ulimits: what works on every machine we run on (crun fails on some
# kernels' cgroups; runc fails without explicit ulimits, and with nproc 65536).
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
# --layers=false: one layer per image and no cached intermediate images; --force-rm: no build
# container left behind by a failed build.
BUILD=(build --timestamp "$SOURCE_DATE_EPOCH" --identity-label=false --layers=false --force-rm --pull=never
	--network=host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096
	--build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH")
ALL=(base python imagemagick)

force=0
names=()
for arg in "$@"; do
	case "$arg" in
	--force) force=1 ;;
	base | python | imagemagick) names+=("$arg") ;;
	-h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "images: unknown argument '$arg' (--force, base, python, imagemagick)" >&2; exit 2 ;;
	esac
done
[ "${#names[@]}" -gt 0 ] || names=("${ALL[@]}")

if [ "$(id -u)" -ne 0 ]; then
	echo "images: run as root (debootstrap and podman's root store)" >&2
	exit 1
fi
for tool in podman runc debootstrap; do
	command -v "$tool" >/dev/null || { echo "images: $tool missing: run scripts/bootstrap-containers.sh" >&2; exit 1; }
done

say() { printf 'images: %s\n' "$*"; }
image() { printf 'localhost/dexec/%s:%s' "$1" "$SUITE"; }
image_id() { "${PODMAN[@]}" image inspect --format '{{.Id}}' "$1"; }

# sha256 of what an image is made from; the parent's ID carries the parent's own inputs.
recipe() {
	local name=$1 parent=""
	[ "$name" = base ] || parent="$(image_id "$(image base)")"
	{
		sha256sum "$ROOT/scripts/images.sh" "$DIR/normalize.sh" "$DIR/$name".* | cut -d' ' -f1
		echo "$parent"
	} | sha256sum | cut -d' ' -f1
}

up_to_date() {
	local ref=$1 want=$2 have
	have="$("${PODMAN[@]}" image inspect --format '{{index .Labels "org.dexec.recipe"}}' "$ref" 2>/dev/null)" || return 1
	[ "$have" = "$want" ]
}

cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# debootstrap → slim → normalize → sorted tar → FROM scratch + ADD.
build_base() {
	local ref=$1 label=$2 rootfs="$WORK/rootfs" start=$SECONDS
	rm -rf "$WORK" && mkdir -p "$WORK"
	say "base: debootstrap --variant=minbase $SUITE from Debian's mirror (about a minute) ..."
	# No mirror argument: debootstrap's default, which also goes into the image's sources.list.
	debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$SUITE" "$rootfs" >"$WORK/debootstrap.log" 2>&1 || {
		tail -20 "$WORK/debootstrap.log" >&2
		echo "images: debootstrap failed (log above)" >&2
		exit 1
	}
	say "base: removing documentation and translations, normalizing ..."
	# Later installs (the python and imagemagick images, apps) leave them out too.
	cat >"$rootfs/etc/dpkg/dpkg.cfg.d/dexec-slim" <<-'EOF'
		# dexec images (scripts/images.sh): no documentation or translations; copyright files stay.
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/locale/*
		path-include /usr/share/locale/locale.alias
		path-exclude /usr/share/lintian/*
	EOF
	cat >"$rootfs/etc/apt/apt.conf.d/90dexec" <<-'EOF'
		# dexec images (scripts/images.sh): only what a package needs.
		APT::Install-Recommends "false";
		APT::Install-Suggests "false";
		Acquire::Languages "none";
	EOF
	(
		cd "$rootfs/usr/share"
		find doc -type f ! -name copyright -delete
		find doc -xtype l -delete
		find doc -mindepth 1 -depth -type d -empty -delete
		rm -rf man/* info/* lintian
		find locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
	)
	sh "$DIR/normalize.sh" "$rootfs"
	local debian
	debian="$(cat "$rootfs/etc/debian_version")"
	say "base: tar of the root file system (Debian $debian) ..."
	tar --create --file "$WORK/rootfs.tar" --directory "$rootfs" --sort=name --numeric-owner \
		--owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime --xattrs .
	rm -rf "$rootfs"
	say "base: podman build ..."
	"${PODMAN[@]}" "${BUILD[@]}" --label "org.dexec.recipe=$label" --label "org.dexec.debian=$debian" \
		-f "$DIR/base.Containerfile" -t "$ref" "$WORK" >"$WORK/build.log" 2>&1 || {
		tail -20 "$WORK/build.log" >&2
		exit 1
	}
	rm -rf "$WORK"
	say "base: built in $((SECONDS - start)) s"
}

# FROM base + RUN apt-get install (host network for apt) + normalize.
build_derived() {
	local name=$1 ref=$2 label=$3 start=$SECONDS
	mkdir -p "$WORK"
	say "$name: podman build (apt-get install in the build container, about a minute; steps and packages below) ..."
	"${PODMAN[@]}" "${BUILD[@]}" --label "org.dexec.recipe=$label" \
		-f "$DIR/$name.Containerfile" -t "$ref" "$DIR" 2>&1 | tee "$WORK/build.log" |
		grep --line-buffered -E '^(STEP|COMMIT|Setting up)' | sed -u 's/^/  /' || {
		tail -20 "$WORK/build.log" >&2
		exit 1
	}
	rm -rf "$WORK"
	say "$name: built in $((SECONDS - start)) s"
}

# The derived images are built from base: build it first whenever either is asked for.
order=()
for name in "${ALL[@]}"; do
	for want in "${names[@]}"; do
		if [ "$name" = "$want" ] || { [ "$name" = base ] && [ "$want" != base ]; }; then
			order+=("$name")
			break
		fi
	done
done

built=0
replaced=()
for name in "${order[@]}"; do
	ref="$(image "$name")"
	label="$(recipe "$name")"
	if [ "$force" -eq 0 ] && up_to_date "$ref" "$label"; then
		say "$ref up to date ($(image_id "$ref" | cut -c1-12))"
		continue
	fi
	old="$(image_id "$ref" 2>/dev/null)" || old=""
	if [ "$name" = base ]; then
		build_base "$ref" "$label"
	else
		build_derived "$name" "$ref" "$label"
	fi
	say "$ref $(image_id "$ref")"
	[ -z "$old" ] || [ "$old" = "$(image_id "$ref")" ] || replaced=("$old" "${replaced[@]}")
	built=1
done

if [ "$built" -eq 1 ]; then
	# The images these builds replaced (derived ones first), unless something still uses them:
	# only ours, where `podman image prune` would remove every untagged image on the machine.
	for id in "${replaced[@]}"; do
		"${PODMAN[@]}" rmi "$id" >/dev/null 2>&1 && say "removed the replaced image ${id:0:12}" || true
	done
	"${PODMAN[@]}" images --filter reference='localhost/dexec/*'
	say "disk: $(du -sh /var/lib/containers 2>/dev/null | cut -f1) in /var/lib/containers"
else
	say "all up to date (--force rebuilds)"
fi
