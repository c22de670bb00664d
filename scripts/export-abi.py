#!/usr/bin/env python3
"""Copy the ABI and creation bytecode of the hub's deployable contracts from forge's
artifacts (contracts/out) to crates/contracts/abi/*.json, which `sol!` reads and git tracks.

CI re-runs this after `forge build` and fails if the committed files differ
(`git diff --exit-code crates/contracts/abi`)."""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "contracts" / "out"
DEST = ROOT / "crates" / "contracts" / "abi"
# (artifact file, contract name): the allow-list of what off-chain code may bind to.
CONTRACTS = [
    ("Hub.sol", "Hub"),
    ("HubPoco.sol", "HubPoco"),
    ("AppRegistry.sol", "AppRegistry"),
    ("DatasetRegistry.sol", "DatasetRegistry"),
    ("WorkerpoolRegistry.sol", "WorkerpoolRegistry"),
    ("DevToken.sol", "DevToken"),
    ("PriceFeedOracle.sol", "PriceFeedOracle"),
    ("HashCheckConsumer.sol", "HashCheckConsumer"),
]


def main() -> int:
    DEST.mkdir(parents=True, exist_ok=True)
    for source, name in CONTRACTS:
        artifact = OUT / source / f"{name}.json"
        if not artifact.exists():
            print(f"export-abi: {artifact} is missing; run `forge build` in contracts/ first", file=sys.stderr)
            return 1
        data = json.loads(artifact.read_text())
        exported = {"abi": data["abi"], "bytecode": {"object": data["bytecode"]["object"]}}
        (DEST / f"{name}.json").write_text(json.dumps(exported, indent=1, sort_keys=True) + "\n")
    print(f"export-abi: wrote {len(CONTRACTS)} artifacts to {DEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
