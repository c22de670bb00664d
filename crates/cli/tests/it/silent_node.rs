//! A JSON-RPC node that accepts connections and never answers: commands end within the RPC
//! timeout with a sentence naming it, instead of hanging (issue 18, finding 3).

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use alloy::primitives::Address;
use dexec_sdk::{ChainFile, Deployment};
use serde_json::Value;

use crate::dexec;

/// A listener on loopback that accepts every connection, reads what it is sent and never
/// writes a byte. Connections stay open while the process lives.
fn silent_node() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

#[test]
fn a_silent_rpc_node_fails_the_command_within_its_timeout() {
    let port = silent_node();
    let dir = tempfile::tempdir().expect("tempdir");
    let chain_file = dir.path().join("chain.json");
    let deployment = Deployment {
        token: Address::repeat_byte(1),
        app_registry: Address::repeat_byte(2),
        dataset_registry: Address::repeat_byte(3),
        workerpool_registry: Address::repeat_byte(4),
        hub: Address::repeat_byte(5),
        poco_module: Address::repeat_byte(6),
    };
    ChainFile::single(
        "dev",
        31337,
        &format!("http://127.0.0.1:{port}"),
        deployment,
    )
    .save(&chain_file)
    .expect("chain.json");

    let started = Instant::now();
    let out = dexec()
        .current_dir(dir.path())
        .args([
            "account",
            "show",
            "0x00000000000000000000000000000000000000aa",
            "--json",
            "--rpc-timeout-secs",
            "2",
        ])
        .arg("--chain-file")
        .arg(&chain_file)
        .output()
        .expect("dexec runs");
    let elapsed = started.elapsed();

    assert!(!out.status.success(), "a silent node cannot succeed");
    assert!(
        elapsed < Duration::from_secs(20),
        "the command waited {elapsed:?} for a node that never answers (limit 2 s per request)"
    );
    let answer: Value = serde_json::from_slice(&out.stdout).expect("a JSON error on stdout");
    assert_eq!(answer["ok"], false, "{answer}");
    let error = answer["error"].as_str().expect("an error sentence");
    assert!(
        error.contains(&format!("127.0.0.1:{port}"))
            && error.contains("did not answer in time")
            && error.contains("--rpc-timeout-secs"),
        "{error}"
    );
}

/// A chain.json whose `hub` is another contract (here the token) is said to name the wrong
/// hub, instead of every call "reverting without a reason" (issue 18, finding 10).
#[test]
fn a_chain_file_naming_the_wrong_hub_is_said() {
    let net = crate::Devnet::start();
    let chain_file = net.path().join(".dexec/chain.json");
    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(&chain_file).expect("chain.json"))
            .expect("JSON");
    let chains = json["chains"].as_object_mut().expect("chains");
    let (_, chain) = chains.iter_mut().next().expect("one chain");
    let token = chain["token"].clone();
    chain["hub"] = token.clone();
    let wrong = net.path().join("wrong-hub.json");
    std::fs::write(&wrong, json.to_string()).expect("write");
    let error = net.fails(
        Some(1),
        &[
            "--chain-file",
            &wrong.display().to_string(),
            "account",
            "show",
        ],
        1,
    );
    let said = error["error"].as_str().expect("sentence");
    assert!(
        said.contains("no dexec hub at")
            && said.contains("does not answer the hub's `countCategory`")
            && said
                .to_lowercase()
                .contains(&token.as_str().expect("address").to_lowercase()),
        "{said}"
    );
}

/// A market that accepts connections and never answers: the command fails within
/// --rpc-timeout-secs with a sentence instead of hanging (issue 18, finding 3: every network
/// call has a timeout).
#[test]
fn a_silent_market_fails_the_command_within_its_timeout() {
    let net = crate::Devnet::start();
    let port = silent_node();
    let started = Instant::now();
    let error = net.fails(
        Some(3),
        &[
            "--market",
            &format!("http://127.0.0.1:{port}"),
            "--rpc-timeout-secs",
            "2",
            "orderbook",
            "workerpool",
        ],
        1,
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let said = error["error"].as_str().expect("sentence");
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
}
