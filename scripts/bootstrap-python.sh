#!/usr/bin/env bash
# Python tools of the tests, in a venv of the repository: .tools/venv (gitignored).
# Today one: schemathesis, the property-based OpenAPI client that drives the market
# (crates/market/tests/it/schema.rs). Versions are pinned in scripts/python-requirements.txt,
# every transitive dependency included, so that every clone installs the same set.
# Idempotent: does nothing when the venv already holds exactly that set.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.tools/venv"
requirements="$root/scripts/python-requirements.txt"
stamp="$venv/.requirements"

if [[ -x "$venv/bin/schemathesis" ]] && cmp -s "$requirements" "$stamp"; then
	exit 0
fi
command -v python3 >/dev/null || { echo "bootstrap-python: python3 is required" >&2; exit 1; }
echo "bootstrap-python: installing schemathesis (pinned in scripts/python-requirements.txt) into .tools/venv"
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
	# Debian splits venv/ensurepip out of python3
	if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
		echo "bootstrap-python: installing python3-venv (Debian)"
		apt-get install -y -qq python3-venv >/dev/null
	else
		echo "bootstrap-python: python3's venv module is missing (Debian: apt-get install python3-venv)" >&2
		exit 1
	fi
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input --require-virtualenv \
	-r "$requirements"
cp "$requirements" "$stamp"
echo "bootstrap-python: $("$venv/bin/schemathesis" --version)"
