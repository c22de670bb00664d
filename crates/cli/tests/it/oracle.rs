//! Oracles through the CLI on a devnet, as separate processes (issue 15): price servers, a
//! scheduler that fills the feed's presigned request from the market, a worker allowed to
//! fetch the loopback sources, a PriceFeedOracle deployed and funded with `dexec oracle`, its
//! value read in the EIP-2362 shape (unknown id, fresh, stale), and `oracle request` of a
//! generic callback app with the HashCheckConsumer example.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::market::{pool_processes, str_of, Actor, Service};
use crate::Devnet;

const APP_OWNER: u32 = 1;
const POOL_OWNER: u32 = 2;
const REQUESTER: u32 = 3;
/// Dev account 1 (anvil's second account).
const PROVIDER_ADDRESS: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// `dexec oracle price-server` answering `price` on `port`, its time the clock's second.
fn price_server(actor: &Actor<'_>, price: &str, port: u16) -> Service {
    Service(
        actor
            .cmd(&[
                "oracle",
                "price-server",
                "--price",
                price,
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--step",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("price server starts"),
    )
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_feed_is_updated_and_read_through_the_cli() {
    let net = Devnet::start();
    let provider = Actor::new(&net, APP_OWNER);
    let pool = Actor::new(&net, POOL_OWNER);
    let requester = Actor::new(&net, REQUESTER);

    // three sources on loopback, one lying by 20%, reporting the clock to the second
    let started = unix_now();
    let mut sources = Vec::new();
    let mut servers = Vec::new();
    for price in ["2000.12", "2000.13", "2400.00"] {
        let port = crate::free_port();
        servers.push(price_server(&pool, price, port));
        sources.push(port);
    }
    for port in &sources {
        wait_port(*port);
    }

    // the pool: a scheduler that offers and fills, a worker allowed to reach the sources
    let allowed: Vec<String> = sources.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let allowed = allowed.join(",");
    let (_scheduler, _worker) =
        pool_processes(&pool, "oracle pool", &["--allow-inputs-from", &allowed]);

    // the pricefeed example app, offered on the market
    provider.json(&["app", "init", "--example", "pricefeed"]);
    let app = str_of(&provider.json(&["app", "deploy"])["address"]);
    provider.json(&["order", "init", "--app"]);
    provider.json(&["order", "sign", "--app"]);
    provider.json(&["order", "publish", "--app"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while requester.json(&["orderbook", "workerpool"])["count"] != 1 {
        assert!(
            Instant::now() < deadline,
            "the scheduler published no order"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // the feed, funded; nothing to read yet
    let deployed = requester.json(&["oracle", "deploy", "--fund", "5 RLC"]);
    let feed = str_of(&deployed["feed"]);
    let error = requester.fails(&["oracle", "read", &feed, "ETH/USD"], 4);
    assert!(
        error.contains("no value") && error.contains("404"),
        "{error}"
    );

    // one update: presigned by the feed, published, filled by the scheduler, run, called back
    let mut update = vec![
        "oracle",
        "update",
        &feed,
        "--id",
        "ETH/USD",
        "--app",
        &app,
        "--decimals",
        "2",
        "--bucket",
        "1",
        "--timeout",
        "120",
    ];
    let urls: Vec<String> = sources
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}/price"))
        .collect();
    for url in &urls {
        update.push("--source");
        update.push(url);
    }
    let updated = requester.json(&update);
    // 200012, 200013, 240000: the median is the higher honest source
    assert_eq!(updated["value"]["value"], "200013", "{updated}");
    assert_eq!(updated["value"]["status"], 200);
    let at = updated["value"]["timestamp"].as_u64().expect("timestamp");
    assert!(
        started <= at && at <= unix_now(),
        "{at}: the sources' clock"
    );
    assert!(updated["gas"]["total"].as_u64().expect("gas") > 0);
    let task = str_of(&updated["requested"]["taskId"]);
    let read = requester.json(&["oracle", "read", &feed, "ETH/USD", "--decimals", "2"]);
    assert_eq!(read["value"], "200013");
    assert_eq!(read["status"], 200);
    assert_eq!(str_of(&read["taskId"]), task);
    let text = String::from_utf8(
        requester
            .cmd(&["oracle", "read", &feed, "ETH/USD", "--decimals", "2"])
            .output()
            .expect("runs")
            .stdout,
    )
    .expect("utf-8");
    assert!(
        text.contains("2000.13") && text.contains("200 (fresh)"),
        "{text}"
    );
    // the feed's hub account paid the task: 0.1 RLC to the pool, the app is free
    let shown = requester.json(&["account", "show", &feed]);
    assert_eq!(shown["hubBalanceNrlc"], "4900000000", "{shown}");

    // only the owner or an updater may spend the feed's money
    let error = provider.fails(&update, 3);
    assert!(error.contains("may not request updates"), "{error}");

    // a request no scheduler takes (below the pool's floor of 0.1 RLC) is closed by the
    // feed when the runner gives up, so that nobody fills it later
    let mut cheap = update.clone();
    cheap.extend_from_slice(&["--workerpool-max-price", "0.01 RLC"]);
    let at = cheap.iter().position(|a| *a == "120").expect("timeout");
    cheap[at] = "3";
    let error = requester.fails(&cheap, 5);
    assert!(error.contains("the feed closed the request"), "{error}");
    let hash = error
        .split_whitespace()
        .find(|w| w.starts_with("0x") && w.len() == 66)
        .expect("the request's hash");
    let shown = requester.json(&["order", "show", hash]);
    assert_eq!(shown["orders"][0]["remainingOnChain"], "0", "{shown}");
    let shown = requester.json(&["account", "show", &feed]);
    assert_eq!(
        shown["hubBalanceNrlc"], "4900000000",
        "nothing spent: {shown}"
    );

    // stale: older than the max age (a transaction moves the devnet's clock)
    requester.json(&["oracle", "max-age", &feed, "ETH/USD", "1"]);
    std::thread::sleep(Duration::from_secs(2));
    requester.json(&["oracle", "updater", &feed, PROVIDER_ADDRESS]);
    let read = requester.json(&["oracle", "read", &feed, "ETH/USD"]);
    assert_eq!(read["status"], 408, "{read}");
    assert_eq!(read["value"], "200013", "a stale value is still given");
    // an id nobody asked for
    requester.fails(&["oracle", "read", &feed, "BTC/USD"], 4);

    // a feed runner: it updates at once (no update made by this runner yet), then only when
    // the sources move more than 1 % (its schedule is an hour away); two updates and it stops
    let mut feed_cmd = vec![
        "oracle",
        "feed",
        &feed,
        "--id",
        "ETH/USD",
        "--app",
        &app,
        "--decimals",
        "2",
        "--bucket",
        "1",
        "--every",
        "3600",
        "--deviation",
        "1",
        "--check-every",
        "1",
        "--budget",
        "1 RLC",
        "--updates",
        "2",
        "--json",
    ];
    for url in &urls {
        feed_cmd.push("--source");
        feed_cmd.push(url);
    }
    let runner = requester
        .cmd(&feed_cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the feed runner starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let read = requester.json(&["oracle", "read", &feed, "ETH/USD"]);
        if str_of(&read["taskId"]) != task {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the runner's first update never came"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // the honest sources move up 5 %: the runner sees it and updates again
    servers.truncate(0);
    for (price, port) in ["2100.12", "2100.13", "2520.00"].iter().zip(&sources) {
        servers.push(price_server(&pool, price, *port));
    }
    for port in &sources {
        wait_port(*port);
    }
    let out = runner.wait_with_output().expect("the runner ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let fed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(fed["updates"].as_array().map(Vec::len), Some(2), "{fed}");
    assert_eq!(fed["updates"][1]["value"]["value"], "210013", "{fed}");
    assert_eq!(fed["spentNrlc"], "200000000", "two updates at 0.1 RLC");
    let read = requester.json(&["oracle", "read", &feed, "ETH/USD"]);
    assert_eq!(read["value"], "210013");
    // a budget that cannot pay an update stops the runner before it spends anything
    let mut broke = feed_cmd.clone();
    let at = broke.iter().position(|a| *a == "1 RLC").expect("budget");
    broke[at] = "0.05 RLC";
    broke.retain(|a| *a != "--json");
    let stopped = requester.json(&broke);
    assert_eq!(stopped["updates"].as_array().map(Vec::len), Some(0));
    assert!(
        stopped["stopped"]
            .as_str()
            .is_some_and(|s| s.contains("budget")),
        "{stopped}"
    );

    // any app writing callback-data, for any consumer: the generic request/response
    let callback =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/build/callback.wasm");
    let squares = str_of(
        &provider.json(&["app", "deploy", "--wasm", &callback.display().to_string()])["address"],
    );
    provider.json(&["order", "init", "--app", "--force"]);
    provider.json(&["order", "sign", "--app", "--force"]);
    provider.json(&["order", "publish", "--app"]);
    let consumer =
        str_of(&requester.json(&["oracle", "deploy", "--consumer", "hash-check"])["consumer"]);
    // like `app run --watch --json`: the match first, then the outcome
    let out = requester
        .cmd(&[
            "oracle",
            "request",
            &squares,
            "--callback",
            &consumer,
            "--args",
            "1",
            "--force",
            "--timeout",
            "120",
            "--json",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let asked: serde_json::Value = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<serde_json::Value>()
        .last()
        .expect("a JSON document")
        .expect("JSON");
    assert_eq!(asked["taskStates"][0]["status"], "COMPLETED", "{asked}");
    // abi.encode(uint256(1 * 1)): read by the consumer as `true`
    assert_eq!(
        asked["delivered"][0]["callbackData"],
        format!("0x{}1", "0".repeat(63)),
        "{asked}"
    );
    let error = requester.fails(
        &[
            "oracle",
            "request",
            &squares,
            "--callback",
            PROVIDER_ADDRESS,
            "--force",
        ],
        2,
    );
    assert!(error.contains("not a contract"), "{error}");
    drop(servers);
}
