#!/bin/sh
# dexec container app: a PNG thumbnail of the task's image (README.md).
#
#   thumbnail [SIZE]      SIZE: the box WxH the thumbnail fits in (default 128x128), 1 to 4096
#
# Reads the first input file ($IEXEC_IN/$IEXEC_INPUT_FILE_NAME_1) or, without input files, the
# dataset ($IEXEC_IN/$IEXEC_DATASET_FILENAME); writes $IEXEC_OUT/thumbnail.png (aspect ratio
# kept, never enlarged) and computed.json pointing at it. The same input and SIZE give the same
# bytes: no metadata or time chunks, one thread, a triangle filter (weights without sin/exp, whose
# last bits could differ between CPUs). Errors go to stderr, exit status 1.
set -eu

fail() {
	echo "thumbnail: $*" >&2
	exit 1
}

[ "$#" -le 1 ] || fail "one argument at most, the size WxH (e.g. 128x128); got $#"
size=${1:-128x128}
case "$size" in
*[!0-9x]* | x* | *x | *x*x* | [!0-9]*) fail "size '$size' is not WxH (e.g. 128x128)" ;;
*x*) ;;
*) fail "size '$size' is not WxH (e.g. 128x128)" ;;
esac
width=${size%x*}
height=${size#*x}
for n in "$width" "$height"; do
	# Strip leading zeros (sh arithmetic would read them as octal); at most 4 digits.
	n=$(echo "$n" | sed 's/^0*//')
	[ "${#n}" -le 4 ] && [ "${n:-0}" -ge 1 ] && [ "$n" -le 4096 ] ||
		fail "size '$size': width and height must be 1 to 4096"
done

in_dir=${IEXEC_IN:-/iexec_in}
out_dir=${IEXEC_OUT:-/iexec_out}
name=${IEXEC_INPUT_FILE_NAME_1:-${IEXEC_DATASET_FILENAME:-}}
[ -n "$name" ] || fail "no input: give the task an input file (an image) or a dataset"
input="$in_dir/$name"
[ -f "$input" ] || fail "input $input not found"
[ -d "$out_dir" ] || fail "output directory $out_dir (\$IEXEC_OUT) does not exist"

# [0]: the first frame or page only. -thumbnail: resize and drop profiles; -strip and the
# exclude-chunks define: no comments, dates or times in the PNG.
if ! err=$(convert -limit thread 1 "$input[0]" -auto-orient -filter Triangle \
	-thumbnail "${width}x${height}>" -strip -define png:exclude-chunks=date,time \
	"PNG:$out_dir/thumbnail.png" 2>&1); then
	rm -f "$out_dir/thumbnail.png"
	fail "cannot make a thumbnail of $name: ${err:-convert failed}"
fi
printf '{"deterministic-output-path":"%s/thumbnail.png"}\n' "$out_dir" >"$out_dir/computed.json"
echo "thumbnail.png $(identify -format '%wx%h' "$out_dir/thumbnail.png") from $name ($(identify -format '%m %wx%h' "$input[0]"))"
