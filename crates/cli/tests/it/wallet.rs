//! Wallets: keystores written by foundry's `cast wallet` are imported and used; ours are
//! read by cast; passwords are never taken from the command line.

use std::path::PathBuf;
use std::process::Command;

use crate::Devnet;

/// anvil's dev account 5 (funded by the devnet).
const DEV5_KEY: &str = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
const DEV5: &str = "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc";

fn cast() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join("node_modules/@foundry-rs/cast-linux-amd64/bin/cast");
    assert!(
        path.is_file(),
        "cast is installed by `make bootstrap` (npm ci)"
    );
    path
}

#[test]
fn cast_keystores_are_imported_and_used() {
    let net = Devnet::start();
    let foundry_dir = net.dir.path().join("foundry-keystores");
    let status = Command::new(cast())
        .args([
            "wallet",
            "import",
            "alice",
            "--private-key",
            DEV5_KEY,
            "--unsafe-password",
            "pw",
            "-k",
        ])
        .arg(&foundry_dir)
        .status()
        .expect("cast runs");
    assert!(status.success());
    let alice = foundry_dir.join("alice");
    let alice_arg = alice.to_str().expect("utf-8");

    // wrong password: a usage error naming the cause, nothing written
    let wrong = net
        .cmd(
            None,
            &["wallet", "import", "--keystore", alice_arg, "--json"],
        )
        .env("DEXEC_WALLET_PASSWORD", "nope")
        .output()
        .expect("runs");
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("wrong password"));
    // no password source and no terminal: refused with the ways to give one
    let none = net
        .cmd(
            None,
            &["wallet", "import", "--keystore", alice_arg, "--json"],
        )
        .output()
        .expect("runs");
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stdout).contains("DEXEC_WALLET_PASSWORD"));

    let imported = crate::run_json(
        net.cmd(
            None,
            &["wallet", "import", "--keystore", alice_arg, "--json"],
        )
        .env("DEXEC_WALLET_PASSWORD", "pw"),
    );
    assert_eq!(imported["address"], DEV5);
    let file = imported["file"].as_str().expect("file").to_owned();
    assert!(file.contains(".ethereum/keystore/UTC--"), "{file}");
    // the password is not in the output
    assert!(!imported.to_string().contains("\"pw\""));

    // the keystore's only wallet is used by default (its address is read without decrypting)
    let shown = net.json(None, &["wallet", "show"]);
    assert_eq!(shown["address"], DEV5);
    // and it signs: a deposit with it
    let deposit = crate::run_json(
        net.cmd(None, &["account", "deposit", "1", "RLC", "--json"])
            .env("DEXEC_WALLET_PASSWORD", "pw"),
    );
    assert_eq!(deposit["account"]["address"], DEV5);

    // cast reads what we wrote
    let out = Command::new(cast())
        .args(["wallet", "address", "--keystore", &file, "--password", "pw"])
        .output()
        .expect("cast runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim().to_lowercase(),
        DEV5
    );
    // with geth's standard scrypt parameters (issue 18: eth-keystore's default is n = 2^13)
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("keystore")).expect("JSON");
    assert_eq!(saved["crypto"]["kdfparams"]["n"], 262_144);
    assert_eq!(saved["crypto"]["kdfparams"]["p"], 1);
    assert_eq!(saved["version"], 3);

    // importing the same key again is refused and writes nothing
    let again = net
        .cmd(None, &["wallet", "import", "--json"])
        .env("DEXEC_WALLET_PASSWORD", "pw")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("{DEV5_KEY}\n").as_bytes())?;
            child.wait_with_output()
        })
        .expect("runs");
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("already exists"));

    // a second wallet makes the choice explicit
    let password_file = net.dir.path().join("password");
    std::fs::write(&password_file, "secret\n").expect("write");
    let created = net.json(
        None,
        &[
            "wallet",
            "create",
            "--light",
            "--password-file",
            password_file.to_str().expect("utf-8"),
        ],
    );
    let new_address = created["address"].as_str().expect("address").to_owned();
    // --light: geth's light parameters, and cast opens it too
    let light = created["file"].as_str().expect("file").to_owned();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&light).expect("keystore")).expect("JSON");
    assert_eq!(saved["crypto"]["kdfparams"]["n"], 4096);
    assert_eq!(saved["crypto"]["kdfparams"]["p"], 6);
    let out = Command::new(cast())
        .args([
            "wallet",
            "address",
            "--keystore",
            &light,
            "--password",
            "secret",
        ])
        .output()
        .expect("cast runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim().to_lowercase(),
        new_address.to_lowercase()
    );
    let ambiguous = net.fails(None, &["wallet", "show"], 2);
    assert!(ambiguous["error"]
        .as_str()
        .expect("msg")
        .contains("--wallet-address"));
    let chosen = net.json(None, &["wallet", "show", "--wallet-address", &new_address]);
    assert_eq!(chosen["address"], new_address.as_str());
    let listed = net.json(None, &["wallet", "list"]);
    assert_eq!(listed["wallets"].as_array().map(Vec::len), Some(2));
}
