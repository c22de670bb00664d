#!/usr/bin/env bash
# Checks the native build of pricefeed (apps/build/native/pricefeed, `make -C apps`) against
# answers worked out by hand: each case writes its sources to a temporary IEXEC_IN, runs the app
# and compares its exit code and computed.json byte for byte. Exits non-zero on any mismatch.
#
#   apps/pricefeed/test.sh            (PRICEFEED=<binary> to test another build)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${PRICEFEED:-$here/../build/native/pricefeed}
if [[ ! -x $bin ]]; then
    echo "test.sh: $bin is missing: run 'make -C apps' first" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
cases=0

# abi.encode(int256 value, uint256 timestamp) for values that fit 64 bits: the value's two's
# complement sign-extended to 32 bytes, then the timestamp as 32 bytes.
encode() {
    local value=$1 timestamp=$2 fill=000000000000000000000000000000000000000000000000
    ((value < 0)) && fill=ffffffffffffffffffffffffffffffffffffffffffffffff
    printf '0x%s%016x%s%016x' "$fill" "$value" 000000000000000000000000000000000000000000000000 "$timestamp"
}

# check NAME "DECIMALS BUCKET" EXIT_CODE CALLBACK_DATA|- SOURCE_BODY...
check() {
    local name=$1 args=$2 want_rc=$3 want=$4
    shift 4
    cases=$((cases + 1))
    local dir=$tmp/$name
    mkdir -p "$dir/in" "$dir/out"
    local vars=(IEXEC_IN="$dir/in" IEXEC_OUT="$dir/out" IEXEC_INPUT_FILES_NUMBER=$#)
    local n=0 body
    for body in "$@"; do
        n=$((n + 1))
        printf '%s' "$body" >"$dir/in/source$n.json"
        vars+=("IEXEC_INPUT_FILE_NAME_$n=source$n.json")
    done
    local rc=0
    # shellcheck disable=SC2086 # the two arguments are split on purpose
    env "${vars[@]}" "$bin" $args 2>"$dir/stderr" || rc=$?
    local problem=""
    if [[ $rc != "$want_rc" ]]; then
        problem="exit code $rc, expected $want_rc"
    elif [[ $want == - ]]; then
        [[ -e $dir/out/computed.json ]] && problem="computed.json written on failure"
    else
        local expected="{\"deterministic-output-path\":\"/iexec_out/result.txt\",\"callback-data\":\"$want\"}"
        local got
        got=$(cat "$dir/out/computed.json" 2>/dev/null || true)
        [[ $got == "$expected" ]] || problem="computed.json is $got, expected $expected"
    fi
    if [[ -n $problem ]]; then
        failures=$((failures + 1))
        echo "FAIL $name: $problem" >&2
        sed 's/^/    stderr: /' "$dir/stderr" >&2
    fi
}

T=1700000000 # timestamps below are T + a few seconds

# Three honest sources (a string price, a number among other fields and whitespace, a nested
# "price" that must be ignored), a lying one and a malformed one. Prices at 8 decimals:
# 2000.123456789 rounds to 200012345679; sorted 199999999999 200012345679 200050000000
# 999999900000000: the lower middle of four is 200012345679. Timestamps sorted T+1 T+12 T+30
# T+55: the lower middle T+12 = 1700000012, floored to a minute, is 1699999980.
check mixed "8 60" 0 "$(encode 200012345679 1699999980)" \
    '{"symbol":"ETHUSD", "price":"2000.123456789","timestamp":1700000030}' \
    $'{\n  "price": 2000.5,\n  "data": {"price": 1, "timestamp": 5, "list": [1, "x", null, true]},\n  "timestamp": 1700000012\n}\n' \
    '{"price":1999.99999999,"timestamp":1700000055}' \
    '{"price":9999999,"timestamp":1700000001}' \
    '{"price": ,"timestamp":1700000001}'
want_line="2000.12345679 at 1699999980 (median of 4 sources, 1 skipped)"
got_line=$(cat "$tmp/mixed/out/result.txt" 2>/dev/null || true)
cases=$((cases + 1))
if [[ $got_line != "$want_line" ]]; then
    failures=$((failures + 1))
    echo "FAIL mixed result.txt: '$got_line', expected '$want_line'" >&2
fi

# Negative prices at 2 decimals: -50, -125, -126 (-1.255, half away from zero); median -125.
check negative "2 1" 0 "$(encode -125 $((T + 20)))" \
    "{\"price\":-0.5,\"timestamp\":$((T + 10))}" \
    "{\"price\":-1.25,\"timestamp\":$((T + 20))}" \
    "{\"price\":\"-1.255\",\"timestamp\":$((T + 30))}"

# Rounding and exact decimals, one source each.
check round-neg-half "2 1" 0 "$(encode -126 $T)" "{\"price\":-1.255,\"timestamp\":$T}"
check round-half-up "2 1" 0 "$(encode 1 $T)" "{\"price\":0.005,\"timestamp\":$T}"
check round-down "2 1" 0 "$(encode 0 $T)" "{\"price\":0.00499,\"timestamp\":$T}"
check round-to-unit "0 1" 0 "$(encode 3 $T)" "{\"price\":2.5,\"timestamp\":$T}"
check round-to-unit-neg "0 1" 0 "$(encode -3 $T)" "{\"price\":-2.5,\"timestamp\":$T}"
check tiny "0 1" 0 "$(encode 0 $T)" "{\"price\":0.4999999999999999999999999999999,\"timestamp\":$T}"
check exponent "0 1" 0 "$(encode 65 $T)" "{\"price\":6.5e1,\"timestamp\":$T}"
check exponent-neg "2 1" 0 "$(encode 1 $T)" "{\"price\":1E-2,\"timestamp\":$T}"
check minus-zero "4 1" 0 "$(encode 0 $T)" "{\"price\":-0.0,\"timestamp\":$T}"
check string-timestamp "0 1" 0 "$(encode 7 $T)" "{\"price\":7,\"timestamp\":\"$T\"}"
check no-decimals "0 60" 0 "$(encode 12345678901234 1699999980)" "{\"price\":12345678901234,\"timestamp\":$T}"
# 123 x 10^36 needs 127 bits: the widest value (`echo 'obase=16; 123*10^36' | bc`); 200 x 10^36
# needs 128 and is refused.
check wide "36 1" 0 "0x000000000000000000000000000000005c88f0357996676d25556cb000000000$(printf '%048d%016x' 0 $T)" \
    "{\"price\":123,\"timestamp\":$T}"
check too-wide "36 1" 3 - "{\"price\":200,\"timestamp\":$T}"

# Even count: the lower middle value and timestamp (10; T+130 = 1700000130 floored to a minute).
check even "0 60" 0 "$(encode 10 1700000100)" \
    "{\"price\":20,\"timestamp\":$((T + 170))}" \
    "{\"price\":10,\"timestamp\":$((T + 130))}"

# Sources that are skipped, and the majority rule.
check duplicate-key "0 1" 0 "$(encode 5 $T)" \
    "{\"price\":5,\"timestamp\":$T}" \
    "{\"price\":6,\"timestamp\":$T}" \
    "{\"price\":1,\"price\":999,\"timestamp\":$T}"
check bad-numbers "0 1" 0 "$(encode 9 $T)" \
    "{\"price\":9,\"timestamp\":$T}" "{\"price\":9,\"timestamp\":$T}" "{\"price\":9,\"timestamp\":$T}" \
    "{\"price\":01.5,\"timestamp\":$T}" "{\"price\":\"1.\",\"timestamp\":$T}"
check bad-numbers-2 "0 1" 0 "$(encode 9 $T)" \
    "{\"price\":9,\"timestamp\":$T}" "{\"price\":9,\"timestamp\":$T}" "{\"price\":9,\"timestamp\":$T}" \
    "{\"price\":\".5\",\"timestamp\":$T}" "{\"price\":\"+1\",\"timestamp\":$T}"
check bad-fields "0 1" 0 "$(encode 9 $T)" \
    "{\"price\":9,\"timestamp\":$T}" "{\"price\":9,\"timestamp\":$T}" "{\"price\":9,\"timestamp\":$T}" \
    "{\"price\":true,\"timestamp\":$T}" "{\"price\":1,\"timestamp\":1.7e9}"
check too-few "0 1" 3 - \
    "{\"price\":1,\"timestamp\":$T}" '{"price":1}' '[1,2]'
check half-is-not-enough "0 1" 3 - \
    "{\"price\":1,\"timestamp\":$T}" "{\"price\":1,\"timestamp\":$T}" 'not json' '{"timestamp":1}'
check no-sources "0 1" 3 -

# Bad arguments.
check no-args "" 1 - "{\"price\":1,\"timestamp\":$T}"
check too-many-decimals "37 1" 1 - "{\"price\":1,\"timestamp\":$T}"
check zero-bucket "8 0" 1 - "{\"price\":1,\"timestamp\":$T}"

if ((failures > 0)); then
    echo "pricefeed: $failures of $cases checks failed" >&2
    exit 1
fi
echo "pricefeed: all $cases checks passed"
