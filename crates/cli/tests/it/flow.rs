//! A whole project through the CLI alone, on a running devnet: deploy an app and a workerpool,
//! sign orders, match them into a deal, inspect it, cancel, and every refusal on the way.

use serde_json::Value;

use crate::{assert_snapshot, Devnet};

/// Dev accounts by role (0 owns the hub).
const APP_OWNER: u32 = 1;
const POOL_OWNER: u32 = 2;
const REQUESTER: u32 = 3;

fn nrlc(v: &Value) -> u128 {
    v.as_str().expect("amount string").parse().expect("amount")
}

fn edit_order(dir: &std::path::Path, key: &str, field: &str, value: &str) {
    let path = dir.join("dexec.json");
    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    json["order"][key][field] = Value::String(value.into());
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("ser")).expect("write");
}

#[test]
fn deploy_sign_match_and_show_through_the_cli() {
    let net = Devnet::start();
    let dir = net.path();

    // project files; chain.json comes from the devnet
    let init = net.json(None, &["init"]);
    assert_eq!(init["written"][1], "chain.json");
    net.fails(None, &["init"], 3); // never overwritten silently
    let info = net.json(None, &["info"]);
    assert_eq!(info["chainId"], 31337);

    // an app from a module file: checksum = sha256 of the file
    // a module that is not a runnable app is refused before anything is registered
    std::fs::write(dir.join("empty.wasm"), b"\0asm\x01\0\0\0").expect("module");
    let refused = net.fails(Some(APP_OWNER), &["app", "init", "--wasm", "empty.wasm"], 2);
    let refused = refused["error"].as_str().expect("a sentence").to_owned();
    assert!(
        refused.contains("cannot run as a dexec app") && refused.contains("no `_start`"),
        "{refused}"
    );
    std::fs::write(dir.join("text.wasm"), b"hello, I am not WebAssembly\n").expect("file");
    let refused = net.fails(Some(APP_OWNER), &["app", "init", "--wasm", "text.wasm"], 2);
    let refused = refused["error"].as_str().expect("a sentence").to_owned();
    assert!(
        refused.contains("not a WebAssembly module") && !refused.contains('\n'),
        "{refused}"
    );
    std::fs::write(dir.join("echo.wasm"), crate::MINIMAL_APP).expect("module");
    net.json(
        Some(APP_OWNER),
        &[
            "app",
            "init",
            "--wasm",
            "echo.wasm",
            "--multiaddr",
            "https://store.example/echo.wasm",
        ],
    );
    let app = net.json(Some(APP_OWNER), &["app", "deploy"]);
    let app_address = app["address"].as_str().expect("address").to_owned();
    assert!(app["tx"]["txHash"].is_string());
    let again = net.json(Some(APP_OWNER), &["app", "deploy"]);
    assert_eq!(
        again["address"],
        app_address.as_str(),
        "same metadata, same app"
    );
    assert!(again["tx"].is_null(), "nothing sent the second time");
    let shown = net.json(None, &["app", "show", &app_address]);
    assert_eq!(shown["checksum"], sha256_hex(crate::MINIMAL_APP).as_str());
    assert_eq!(shown["type"], "WASM");
    assert_eq!(net.json(None, &["app", "count"])["count"], 1);
    assert_snapshot("app_show", &net.text(None, &["app", "show", "0"]));
    net.fails(
        None,
        &["app", "show", "0x0000000000000000000000000000000000000001"],
        4,
    );

    // a workerpool
    net.json(
        Some(POOL_OWNER),
        &["workerpool", "init", "--description", "test pool"],
    );
    let pool = net.json(Some(POOL_OWNER), &["workerpool", "deploy"]);
    assert!(pool["address"].is_string());

    // orders: templates from deployed.json, prices with units
    net.json(Some(APP_OWNER), &["order", "init", "--app"]);
    net.json(Some(POOL_OWNER), &["order", "init", "--workerpool"]);
    edit_order(&dir, "apporder", "appprice", "2 RLC");
    edit_order(&dir, "workerpoolorder", "workerpoolprice", "1 RLC");
    edit_order(&dir, "workerpoolorder", "volume", "10");
    // only the owner may sign: said before signing
    let refused = net.fails(Some(REQUESTER), &["order", "sign", "--app"], 3);
    assert!(
        refused["error"]
            .as_str()
            .expect("msg")
            .contains("does not own"),
        "{refused}"
    );
    net.json(Some(APP_OWNER), &["order", "sign", "--app"]);
    net.json(Some(POOL_OWNER), &["order", "sign", "--workerpool"]);

    // a signed order is never replaced silently
    let orders_before = std::fs::read(dir.join("orders.json")).expect("orders.json");
    let refused = net.fails(Some(APP_OWNER), &["order", "sign", "--app"], 3);
    assert!(
        refused["error"].as_str().expect("msg").contains("--force"),
        "{refused}"
    );
    assert_eq!(
        std::fs::read(dir.join("orders.json")).expect("orders.json"),
        orders_before
    );

    // the requester matches: 3 tasks at 3 RLC
    let requester_before = net.json(Some(REQUESTER), &["account", "show"]);
    let pool_before = net.json(Some(POOL_OWNER), &["account", "show"]);
    net.fails(
        Some(REQUESTER),
        &["order", "fill", "--params", r#"{"iexec_args":"hi"}"#],
        5,
    );
    edit_order(&dir, "requestorder", "volume", "3");
    let deal = net.json(
        Some(REQUESTER),
        &[
            "order",
            "fill",
            "--params",
            r#"{"iexec_args":"hi"}"#,
            "--force",
        ],
    );
    let deal_id = deal["dealId"].as_str().expect("deal id").to_owned();
    assert_eq!(deal["deal"]["botSize"], 3);
    assert_eq!(deal["totalCostNrlc"], "9000000000");
    let requester_after = net.json(Some(REQUESTER), &["account", "show"]);
    assert_eq!(
        nrlc(&requester_before["hubBalanceNrlc"]) - nrlc(&requester_after["hubBalanceNrlc"]),
        9_000_000_000,
        "price x volume left the free balance"
    );
    assert_eq!(nrlc(&requester_after["hubLockedNrlc"]), 9_000_000_000);
    let pool_after = net.json(Some(POOL_OWNER), &["account", "show"]);
    assert_eq!(
        nrlc(&pool_after["hubLockedNrlc"]) - nrlc(&pool_before["hubLockedNrlc"]),
        900_000_000,
        "the scheduler stakes 30% of its price per task"
    );

    // the deal and its tasks, as the chain has them
    let shown = net.json(None, &["deal", "show", &deal_id]);
    assert_eq!(shown["deal"]["params"], r#"{"iexec_args":"hi"}"#);
    assert_eq!(
        shown["deal"]["deal"]["app"].as_str().map(str::to_lowercase),
        Some(app_address.to_lowercase())
    );
    let tasks = shown["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t["status"] == "UNSET"));
    let task_id = tasks[1]["taskId"].as_str().expect("task id");
    let task = net.json(None, &["task", "show", task_id]);
    assert_eq!(task["dealId"], deal_id.as_str());
    assert_eq!(task["index"], 1);
    assert_snapshot("deal_show", &net.text(None, &["deal", "show", &deal_id]));

    // the app order's remaining volume went down by 3
    let orders = net.json(None, &["order", "show", "--app"]);
    assert_eq!(orders["orders"][0]["remaining"], "999997", "1,000,000 - 3");

    // cancel for good: nothing can match it any more, said before sending
    net.json(Some(APP_OWNER), &["order", "cancel", "--app", "--force"]);
    let orders = net.json(None, &["order", "show", "--app"]);
    assert_eq!(orders["orders"][0]["remaining"], "0");
    let refused = net.fails(Some(REQUESTER), &["order", "fill", "--force"], 3);
    assert!(
        refused["error"]
            .as_str()
            .expect("msg")
            .contains("no volume left"),
        "{refused}"
    );

    // re-signing with --force keeps the old order in orders.json.bak
    net.json(Some(APP_OWNER), &["order", "sign", "--app", "--force"]);
    let bak: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("orders.json.bak")).expect("backup"),
    )
    .expect("json");
    assert_eq!(bak[0]["kind"], "apporder");
}

#[test]
fn escrow_and_refusals_before_sending() {
    let net = Devnet::start();
    let account = |a| net.json(Some(a), &["account", "show"]);
    let before = account(4);
    let deposit = net.json(Some(4), &["account", "deposit", "5", "RLC"]);
    assert_eq!(deposit["depositedNrlc"], "5000000000");
    assert_eq!(
        nrlc(&account(4)["hubBalanceNrlc"]) - nrlc(&before["hubBalanceNrlc"]),
        5_000_000_000
    );
    // more than the free balance: refused with a sentence, nothing sent
    let refused = net.fails(Some(4), &["account", "withdraw", "1000000", "RLC"], 3);
    assert!(
        refused["error"]
            .as_str()
            .expect("msg")
            .contains("insufficient"),
        "{refused}"
    );
    assert_eq!(
        nrlc(&account(4)["hubBalanceNrlc"]),
        nrlc(&before["hubBalanceNrlc"]) + 5_000_000_000
    );
    net.json(Some(4), &["account", "withdraw", "5", "RLC"]);
    assert_eq!(account(4)["hubBalanceNrlc"], before["hubBalanceNrlc"]);
    // bad amounts are usage errors
    net.fails(Some(4), &["account", "deposit", "1.5", "nRLC"], 2);
    net.fails(Some(4), &["account", "deposit", "3", "ETH"], 2);

    // categories
    let categories = net.json(None, &["category", "show"]);
    assert_eq!(categories["categories"][0]["name"], "XS");
    net.fails(None, &["category", "show", "9"], 4);
    assert_snapshot(
        "category_show_0",
        &net.text(None, &["category", "show", "0"]),
    );

    // a chain.json naming another chain id is refused before anything is sent
    let chain_file = net.dir.path().join(".dexec/chain.json");
    let mut chain: Value =
        serde_json::from_str(&std::fs::read_to_string(&chain_file).expect("read")).expect("json");
    chain["chains"]["dexec-devnet"]["id"] = Value::String("1".into());
    let wrong = net.dir.path().join("wrong-chain.json");
    std::fs::write(&wrong, chain.to_string()).expect("write");
    let wrong = wrong.to_str().expect("utf-8");
    let refused = net.fails(None, &["info", "--chain-file", wrong], 3);
    assert!(
        refused["error"]
            .as_str()
            .expect("msg")
            .contains("wrong chain"),
        "{refused}"
    );
    // and dev accounts (public keys) are refused on a chain that is not a devnet
    let refused = net.fails(
        Some(4),
        &["account", "deposit", "1", "RLC", "--chain-file", wrong],
        2,
    );
    assert!(
        refused["error"]
            .as_str()
            .expect("msg")
            .contains("only work on a local devnet"),
        "{refused}"
    );
    // no wallet at all: a usage error that says how to choose one
    let refused = net.fails(None, &["account", "deposit", "1", "RLC"], 2);
    assert!(
        refused["error"].as_str().expect("msg").contains("wallet"),
        "{refused}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "0x{}",
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

#[test]
fn app_deploy_uploads_the_module_to_the_store() {
    let net = Devnet::start();
    let port = crate::free_port();
    let mut store = crate::dexec()
        .args(["store", "--listen", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(net.dir.path().join("store"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("store starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "store did not listen");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let module = crate::minimal_app_named("uploaded");
    let module = module.as_slice();
    std::fs::write(net.dir.path().join("up.wasm"), module).expect("module");
    let deployed = net.json(
        Some(APP_OWNER),
        &["app", "deploy", "--wasm", "up.wasm", "--store", &url],
    );
    let shown = net.json(
        None,
        &[
            "app",
            "show",
            deployed["address"].as_str().expect("address"),
        ],
    );
    let checksum = sha256_hex(module);
    assert_eq!(shown["checksum"], checksum.as_str());
    let blob_url = format!("{url}/blobs/{}", &checksum[2..]);
    assert_eq!(shown["multiaddr"], blob_url.as_str());
    // workers fetch exactly these bytes from there
    let fetched = std::process::Command::new("curl")
        .args(["-sf", &blob_url])
        .output()
        .expect("curl runs");
    assert_eq!(fetched.stdout, module);
    let _ = store.kill();
    let _ = store.wait();
}
