#!/bin/sh
# Make sample.png (320x200: a gradient, a checkerboard band and a disc) with ImageMagick, in the
# dexec imagemagick image so that the bytes are the same everywhere:
#
#   podman --runtime runc --cgroup-manager=cgroupfs run --rm --network=none \
#     --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 -v "$PWD/apps/thumbnail/sample:/s" \
#     -w /s localhost/dexec/imagemagick:bookworm sh generate.sh
set -eu
convert -size 320x200 gradient:'#1e3c72-#f5af19' \
	\( -size 320x40 pattern:checkerboard -fill '#ffffff80' -colorize 30% \) -geometry +0+80 -composite \
	-fill '#c0392b' -stroke '#2c3e50' -strokewidth 4 -draw 'circle 230,100 230,150' \
	-depth 8 -strip -define png:exclude-chunks=date,time sample.png
identify sample.png
