#!/usr/bin/env python3
"""Fail unless `Hub` and `HubPoco` have the same storage layout.

`HubPoco` runs by DELEGATECALL on the hub's storage, so every state variable must sit at the
same slot and offset, with the same type, in both contracts. Both inherit `Settlement` and
declare no state of their own; this check keeps it that way. It reads `forge inspect <contract>
storageLayout --json` for each and compares the variables in order: label, slot, offset and
type, where a type is compared by its structure (label, encoding, size, struct members, mapping
key and value, array base), not by solc's type ids, which embed AST ids that differ between the
two compilations. The first difference is reported by name.

Usage: scripts/check-storage-layout.py [FORGE]   (run from anywhere; FORGE defaults to the
pinned node_modules/.bin/forge)
"""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
REFERENCE, MODULE = "Hub", "HubPoco"


def layout(forge: str, contract: str) -> dict:
    out = subprocess.run(
        [forge, "inspect", contract, "storageLayout", "--json"],
        cwd=CONTRACTS,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def type_shape(types: dict, type_id: str) -> dict:
    """The type `type_id` with nested type ids replaced by their shapes."""
    t = types[type_id]
    shape = {k: t[k] for k in ("label", "encoding", "numberOfBytes") if k in t}
    for k in ("key", "value", "base"):
        if k in t:
            shape[k] = type_shape(types, t[k])
    if "members" in t:
        shape["members"] = [variable(types, m) for m in t["members"]]
    return shape


def variable(types: dict, v: dict) -> dict:
    return {
        "label": v["label"],
        "slot": v["slot"],
        "offset": v["offset"],
        "type": type_shape(types, v["type"]),
    }


def describe(v: dict) -> str:
    return f"`{v['label']}` (slot {v['slot']}, offset {v['offset']}, {v['type']['label']})"


def first_difference(a, b, path: str):
    """Path and both values of the first place where `a` and `b` differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=lambda k: (k == "type", k)):
            if a.get(k) != b.get(k):
                return first_difference(a.get(k), b.get(k), f"{path}.{k}")
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            x = a[i] if i < len(a) else None
            y = b[i] if i < len(b) else None
            if x != y:
                label = (x or y).get("label", i) if isinstance(x or y, dict) else i
                return first_difference(x, y, f"{path}[{label}]")
        return None
    return (path, a, b) if a != b else None


def main() -> int:
    forge = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "node_modules" / ".bin" / "forge")
    vars_ = {}
    for contract in (REFERENCE, MODULE):
        data = layout(forge, contract)
        vars_[contract] = [variable(data["types"], v) for v in data["storage"]]
    ref, mod = vars_[REFERENCE], vars_[MODULE]
    for i in range(max(len(ref), len(mod))):
        a = ref[i] if i < len(ref) else None
        b = mod[i] if i < len(mod) else None
        if a == b:
            continue
        if a is None or b is None:
            extra, owner = (b, MODULE) if a is None else (a, REFERENCE)
            print(
                f"check-storage-layout: {owner} declares {describe(extra)} as state variable #{i}, "
                f"which the other contract does not have: {REFERENCE} and {MODULE} must share one "
                "layout (declare state in hub/HubBase.sol or hub/Settlement.sol, never in either contract)",
                file=sys.stderr,
            )
            return 1
        path, x, y = first_difference(a, b, a["label"] if a["label"] == b["label"] else f"#{i}")
        print(
            f"check-storage-layout: state variable #{i} differs: {REFERENCE} has {describe(a)}, "
            f"{MODULE} has {describe(b)}; first difference at {path}: {x!r} != {y!r}",
            file=sys.stderr,
        )
        return 1
    print(f"check-storage-layout: {REFERENCE} and {MODULE} share {len(ref)} state variables, slot for slot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
