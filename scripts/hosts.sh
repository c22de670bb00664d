#!/usr/bin/env bash
# Simulated hosts on this machine: network namespaces joined by veth pairs to one bridge, so
# that a workerpool's parts run on "different machines" with their own addresses (`make chaos`,
# `dexec bench chaos --hosts`, the chaos test).
#
#   scripts/hosts.sh up PREFIX N     # PREFIX-core (10.213.0.1) and PREFIX-h1 … PREFIX-hN (10.213.0.10+k)
#   scripts/hosts.sh down PREFIX     # removes every namespace PREFIX-* (and so their links)
#   scripts/hosts.sh cut PREFIX K    # host K loses the network (its link on the bridge goes down)
#   scripts/hosts.sh heal PREFIX K   # … and gets it back
#
# The bridge lives inside PREFIX-core (the host of the chain, market and store), not in the
# machine's own namespace: nothing here adds an address or a route outside the namespaces it
# creates, and two sets with different prefixes never see each other (the same addresses are
# reused inside each set). Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2.
set -euo pipefail

usage() {
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd="$1"
prefix="$2"
case "$prefix" in
*[!a-z0-9-]* | "") echo "hosts.sh: the prefix is lowercase letters, digits and dashes" >&2; exit 2 ;;
esac
[ "${#prefix}" -le 20 ] || { echo "hosts.sh: the prefix is at most 20 characters" >&2; exit 2; }
command -v ip >/dev/null || { echo "hosts.sh: iproute2 (ip) is required" >&2; exit 1; }

core="$prefix-core"

case "$cmd" in
up)
	n="${3:-}"
	case "$n" in '' | *[!0-9]*) usage ;; esac
	[ "$n" -ge 1 ] && [ "$n" -le 200 ] || { echo "hosts.sh: 1 to 200 hosts" >&2; exit 2; }
	"$0" down "$prefix"
	ip netns add "$core"
	ip -n "$core" link set lo up
	ip -n "$core" link add br0 type bridge
	ip -n "$core" addr add 10.213.0.1/24 dev br0
	ip -n "$core" link set br0 up
	for k in $(seq 1 "$n"); do
		host="$prefix-h$k"
		ip netns add "$host"
		ip -n "$host" link set lo up
		# one end (h<k>) on the core's bridge, the other (eth0) in the host
		ip -n "$core" link add "h$k" type veth peer name eth0 netns "$host"
		ip -n "$core" link set "h$k" master br0 up
		ip -n "$host" addr add "10.213.0.$((10 + k))/24" dev eth0
		ip -n "$host" link set eth0 up
	done
	echo "hosts.sh: $core (10.213.0.1) and $n hosts $prefix-h1 … $prefix-h$n (10.213.0.11 …)" >&2
	;;
down)
	for ns in $(ip netns list | awk '{print $1}'); do
		case "$ns" in "$prefix"-core | "$prefix"-h[0-9]*) ip netns del "$ns" ;; esac
	done
	;;
cut | heal)
	k="${3:-}"
	case "$k" in '' | *[!0-9]*) usage ;; esac
	state=down
	[ "$cmd" = heal ] && state=up
	ip -n "$core" link set "h$k" "$state"
	;;
*) usage ;;
esac
