//! The market through the CLI, on a running devnet (which serves a market): publish and
//! unpublish orders, read the order books, `app run` (market orders, own free orders, the
//! category walk, refusals) and `app request-execution`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{run_json, Devnet};

/// Dev accounts by role (0 owns the hub).
const APP_OWNER: u32 = 1;
const POOL_OWNER: u32 = 2;
const REQUESTER: u32 = 3;

/// One participant: a dev account working in its own project directory.
pub(crate) struct Actor<'a> {
    net: &'a Devnet,
    account: u32,
    pub(crate) dir: PathBuf,
}

impl<'a> Actor<'a> {
    pub(crate) fn new(net: &'a Devnet, account: u32) -> Self {
        let dir = net.path().join(format!("actor{account}"));
        std::fs::create_dir_all(&dir).expect("actor dir");
        let actor = Self { net, account, dir };
        actor.json(&["init"]);
        actor
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.net.cmd(Some(self.account), args);
        cmd.current_dir(&self.dir).env(
            "DEXEC_CHAIN_FILE",
            self.net.path().join(".dexec/chain.json"),
        );
        cmd
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        run_json(&mut self.cmd(&args))
    }

    pub(crate) fn fails(&self, args: &[&str], code: i32) -> String {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.cmd(&args).output().expect("runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        // the error is the last JSON document (`app run --watch` prints the match first)
        let value: Value = serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .last()
            .expect("a JSON document")
            .expect("JSON error");
        assert_eq!(value["ok"], false, "{text}");
        value["error"].as_str().expect("error sentence").to_owned()
    }

    /// Set a field of an order template in dexec.json.
    fn edit_order(&self, key: &str, field: &str, value: &str) {
        let path = self.dir.join("dexec.json");
        let mut json: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        json["order"][key][field] = Value::String(value.into());
        std::fs::write(&path, serde_json::to_string_pretty(&json).expect("ser")).expect("write");
    }

    fn hub_locked(&self) -> u128 {
        let shown = self.json(&["account", "show"]);
        shown["hubLockedNrlc"]
            .as_str()
            .expect("amount")
            .parse()
            .expect("number")
    }
}

pub(crate) fn str_of(v: &Value) -> String {
    v.as_str().expect("a string").to_lowercase()
}

/// Deploy a minimal app named `name`, its module uploaded to the devnet's store (where
/// `app run`'s preflight check fetches it, as workers would).
fn deploy_app(actor: &Actor<'_>, name: &str) -> String {
    std::fs::write(
        actor.dir.join(format!("{name}.wasm")),
        crate::minimal_app_named(name),
    )
    .expect("module");
    actor.json(&["app", "init", "--wasm", &format!("{name}.wasm")]);
    str_of(&actor.json(&["app", "deploy"])["address"])
}

#[test]
fn publish_query_run_and_unpublish_through_the_cli() {
    let net = Devnet::start();
    let provider = Actor::new(&net, APP_OWNER);
    let pool = Actor::new(&net, POOL_OWNER);
    let requester = Actor::new(&net, REQUESTER);

    // the app provider lists an app order at 0.5 RLC
    let app = deploy_app(&provider, "echo");
    provider.json(&["order", "init", "--app"]);
    provider.edit_order("apporder", "appprice", "0.5 RLC");
    provider.json(&["order", "sign", "--app"]);
    let published = provider.json(&["order", "publish", "--app"]);
    let app_order = str_of(&published["published"][0]["orderHash"]);
    assert_eq!(published["published"][0]["status"], "open");

    // the workerpool lists an order in category 1 (so `app run` must walk the categories)
    pool.json(&["workerpool", "init", "--description", "market pool"]);
    pool.json(&["workerpool", "deploy"]);
    pool.json(&["order", "init", "--workerpool"]);
    pool.edit_order("workerpoolorder", "workerpoolprice", "0.1 RLC");
    pool.edit_order("workerpoolorder", "category", "1");
    pool.edit_order("workerpoolorder", "volume", "5");
    pool.json(&["order", "sign", "--workerpool"]);
    let pool_order =
        str_of(&pool.json(&["order", "publish", "--workerpool"])["published"][0]["orderHash"]);

    // the books, with filters
    let book = requester.json(&["orderbook", "app", &app]);
    assert_eq!(book["count"], 1);
    assert_eq!(str_of(&book["orders"][0]["orderHash"]), app_order);
    let book = requester.json(&["orderbook", "workerpool", "--category", "0"]);
    assert_eq!(book["count"], 0, "nothing in category 0");
    let book = requester.json(&["orderbook", "workerpool", "--category", "1"]);
    assert_eq!(str_of(&book["orders"][0]["orderHash"]), pool_order);
    let book = requester.json(&["orderbook", "workerpool", "--min-trust", "3"]);
    assert_eq!(book["count"], 0, "the pool offers trust 1 only");
    let text = String::from_utf8(
        requester
            .cmd(&["orderbook", "app", &app])
            .output()
            .expect("runs")
            .stdout,
    )
    .expect("utf-8");
    assert!(text.contains("0.5 RLC"), "prices are shown in RLC: {text}");

    // app run without --force and without a terminal: nothing is paid
    let locked_before = requester.hub_locked();
    requester.fails(&["app", "run", &app, "--args", "hi"], 5);
    assert_eq!(requester.hub_locked(), locked_before);

    // app run: the market's orders, category 1 found by walking up from 0
    let run = requester.json(&["app", "run", &app, "--args", "hi", "--force"]);
    assert_eq!(run["volume"], 1);
    assert_eq!(run["deals"].as_array().expect("deals").len(), 1);
    let made = &run["deals"][0];
    assert_eq!(str_of(&made["orders"]["apporder"]), app_order);
    assert_eq!(str_of(&made["orders"]["workerpoolorder"]), pool_order);
    assert_eq!(made["deal"]["category"], 1);
    assert_eq!(made["deal"]["botSize"], 1);
    assert_eq!(made["totalCostNrlc"], "600000000", "0.5 + 0.1 RLC");
    assert_eq!(run["totalCostNrlc"], "600000000");
    assert_eq!(requester.hub_locked() - locked_before, 600_000_000);
    let deal_id = made["dealId"].as_str().expect("deal id");
    let shown = requester.json(&["deal", "show", deal_id]);
    assert_eq!(shown["deal"]["params"], r#"{"iexec_args":"hi"}"#);
    assert_eq!(shown["tasks"].as_array().expect("tasks").len(), 1);

    // the market follows the chain: the workerpool order has 4 of 5 left
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let book = requester.json(&["orderbook", "workerpool", "--category", "1"]);
        if book["orders"][0]["remaining"] == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the market never saw the deal: {book}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // an app the requester owns runs on a free order it signs itself
    let own_app = deploy_app(&requester, "mine");
    let run = requester.json(&["app", "run", &own_app, "--category", "1", "--force"]);
    assert_eq!(run["deals"][0]["deal"]["appPriceNrlc"], "0");
    assert_eq!(
        run["totalCostNrlc"], "100000000",
        "only the workerpool is paid"
    );

    // with a dataset sold on the market too (dev account 5 owns it)
    let data = Actor::new(&net, 5);
    std::fs::write(data.dir.join("words.txt"), b"one two three").expect("dataset file");
    data.json(&[
        "dataset",
        "init",
        "--file",
        "words.txt",
        "--multiaddr",
        "https://store.example/words.txt",
    ]);
    let dataset = str_of(&data.json(&["dataset", "deploy"])["address"]);
    data.json(&["order", "init", "--dataset"]);
    data.edit_order("datasetorder", "datasetprice", "0.2 RLC");
    data.json(&["order", "sign", "--dataset"]);
    let dataset_order =
        str_of(&data.json(&["order", "publish", "--dataset"])["published"][0]["orderHash"]);
    let run = requester.json(&["app", "run", &app, "--dataset", &dataset, "--force"]);
    assert_eq!(
        str_of(&run["deals"][0]["orders"]["datasetorder"]),
        dataset_order
    );
    assert_eq!(str_of(&run["deals"][0]["deal"]["dataset"]), dataset);
    assert_eq!(run["totalCostNrlc"], "800000000", "0.5 + 0.2 + 0.1 RLC");

    // nothing offered where asked: a sentence and exit 4
    let error = requester.fails(&["app", "run", &app, "--category", "0", "--force"], 4);
    assert!(error.contains("no workerpool order"), "{error}");
    let error = requester.fails(&["app", "run", &app, "--trust", "3", "--force"], 4);
    assert!(error.contains("trust ≥ 3"), "{error}");

    // only the signer may unpublish
    let error = requester.fails(&["order", "unpublish", &pool_order], 3);
    assert!(!error.is_empty());
    let unpublished = pool.json(&["order", "unpublish", "--workerpool"]);
    assert_eq!(unpublished["unpublished"][0]["status"], "unpublished");
    let book = requester.json(&["orderbook", "workerpool", "--category", "1"]);
    assert_eq!(book["count"], 0);
    requester.fails(&["app", "run", &app, "--force"], 4);

    // a limit request at the market's app price
    let request = requester.json(&["app", "request-execution", &app, "--volume", "2"]);
    assert_eq!(request["order"]["appmaxprice"], "0x1dcd6500", "0.5 RLC");
    let book = provider.json(&["orderbook", "requester", "--app", &app]);
    assert_eq!(
        str_of(&book["orders"][0]["orderHash"]),
        str_of(&request["published"]["orderHash"])
    );
    assert_eq!(book["orders"][0]["remaining"], 2);

    // anyone fills a limit order of the market by its hash (iExec's `order fill --request`),
    // after the same checks as `app run`: this one is for category 0, the pool's order for 1
    let request_hash = str_of(&request["published"]["orderHash"]);
    let shown = requester.json(&["order", "show", &request_hash]);
    assert_eq!(shown["orders"][0]["market"]["status"], "open");
    assert_eq!(shown["orders"][0]["remainingOnChain"], "2");
    let fill = [
        "order",
        "fill",
        "--request",
        &request_hash,
        "--app",
        &app_order,
        "--workerpool",
        &pool_order,
        "--force",
    ];
    let error = pool.fails(&fill, 3);
    assert!(error.contains("category"), "{error}");
    let request = requester.json(&[
        "app",
        "request-execution",
        &app,
        "--category",
        "1",
        "--workerpool-max-price",
        "0.1 RLC",
    ]);
    let request_hash = str_of(&request["published"]["orderHash"]);
    let fill = [
        "order",
        "fill",
        "--request",
        &request_hash,
        "--app",
        &app_order,
        "--workerpool",
        &pool_order,
        "--force",
    ];
    let filled = pool.json(&fill);
    assert_eq!(
        str_of(&filled["deal"]["requester"]),
        str_of(&request["order"]["requester"])
    );
    let shown = requester.json(&["order", "show", &request_hash]);
    assert_eq!(shown["orders"][0]["remainingOnChain"], "0", "{shown}");
    let error = pool.fails(&fill, 3);
    assert!(
        error.contains("no volume left") || error.contains("consumed"),
        "{error}"
    );

    // a market that is not there: said, exit 1
    let mut cmd = requester.cmd(&[
        "orderbook",
        "workerpool",
        "--market",
        "http://127.0.0.1:9",
        "--json",
    ]);
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot be reached"));
}

/// `actor` deploys a workerpool described `description`, then runs its scheduler (offering
/// 0.1 RLC per task, filling limit orders) and one worker (dev account 4, with
/// `worker_flags`) as processes, the worker once the scheduler listens.
pub(crate) fn pool_processes(
    actor: &Actor<'_>,
    description: &str,
    worker_flags: &[&str],
) -> (Service, Service) {
    pool_processes_on(actor, description, worker_flags, crate::free_port())
}

/// [`pool_processes`] with the scheduler listening on `port` of the loopback.
pub(crate) fn pool_processes_on(
    actor: &Actor<'_>,
    description: &str,
    worker_flags: &[&str],
    port: u16,
) -> (Service, Service) {
    actor.json(&["workerpool", "init", "--description", description]);
    actor.json(&["workerpool", "deploy"]);
    let scheduler = Service(
        actor
            .cmd(&[
                "scheduler",
                "--dev-account",
                "2",
                // the pool deployed from this folder (deployed.json), as `app run` accepts it
                "--workerpool",
                "deployed",
                "--offer-price",
                "0.1 RLC",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--db",
                &format!(
                    "sqlite://{}",
                    actor.net.path().join("scheduler.db").display()
                ),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("scheduler starts"),
    );
    // the worker registers once the scheduler answers
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the scheduler never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let scheduler_url = format!("http://127.0.0.1:{port}");
    let work_dir = actor.net.path().join("worker").display().to_string();
    let mut args = vec![
        "worker",
        "--dev-account",
        "4",
        "--scheduler-url",
        &scheduler_url,
        "--work-dir",
        &work_dir,
    ];
    args.extend_from_slice(worker_flags);
    let worker = Service(
        actor
            .cmd(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("worker starts"),
    );
    (scheduler, worker)
}

/// A child process killed when dropped.
pub(crate) struct Service(pub(crate) std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The whole marketplace as separate processes on the devnet (which serves the market and
/// the store): a scheduler that keeps its workerpool order open on the market, a worker, an
/// app uploaded to the devnet's store at deployment and offered on the market, and a
/// requester whose `app run --watch` finds both offers, pays, and follows the task to its
/// verified result.
#[test]
fn app_run_watch_through_scheduler_and_worker_processes() {
    let net = Devnet::start();
    let hello =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/build/hello.wasm");
    assert!(hello.is_file(), "build the example apps first: `make apps`");
    let provider = Actor::new(&net, APP_OWNER);
    let pool = Actor::new(&net, POOL_OWNER);
    let requester = Actor::new(&net, REQUESTER);

    let (_scheduler, _worker) = pool_processes(&pool, "process pool", &[]);

    // the app goes to the devnet's store at deployment; its order to the market
    let deployed = provider.json(&["app", "deploy", "--wasm", &hello.display().to_string()]);
    let app = str_of(&deployed["address"]);
    let shown = provider.json(&["app", "show", &app]);
    assert!(
        shown["multiaddr"]
            .as_str()
            .expect("multiaddr")
            .contains("/blobs/"),
        "the module was uploaded to the store: {shown}"
    );
    provider.json(&["order", "init", "--app"]);
    provider.json(&["order", "sign", "--app"]);
    provider.json(&["order", "publish", "--app"]);

    // the scheduler offers its pool by itself
    let deadline = Instant::now() + Duration::from_secs(60);
    while requester.json(&["orderbook", "workerpool"])["count"] != 1 {
        assert!(
            Instant::now() < deadline,
            "the scheduler published no order"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // a cheaper pool whose scheduler the market never heard from: `app run` prefers the pool
    // whose scheduler beats (finding 1)
    let silent = Actor::new(&net, 5);
    silent.json(&["workerpool", "init", "--description", "nobody runs it"]);
    let silent_pool = str_of(&silent.json(&["workerpool", "deploy"])["address"]);
    silent.json(&["order", "init", "--workerpool"]);
    silent.edit_order("workerpoolorder", "workerpoolprice", "0.01 RLC");
    silent.json(&["order", "sign", "--workerpool"]);
    let silent_order =
        str_of(&silent.json(&["order", "publish", "--workerpool"])["published"][0]["orderHash"]);
    let book = requester.json(&["orderbook", "workerpool"]);
    assert_eq!(
        str_of(&book["orders"][0]["orderHash"]),
        silent_order,
        "the cheapest comes first in the book"
    );

    // with --watch --json, the match comes first as a document of its own
    let out = requester
        .cmd(&[
            "app",
            "run",
            &app,
            "--args",
            "from the test",
            "--watch",
            "--timeout",
            "120",
            "--force",
            "--json",
        ])
        .output()
        .expect("app run runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut documents = serde_json::Deserializer::from_slice(&out.stdout).into_iter::<Value>();
    let matched = documents.next().expect("the match").expect("JSON");
    assert_eq!(matched["stage"], "matched");
    let run = documents.next().expect("the final result").expect("JSON");
    assert_eq!(run["deals"][0]["dealId"], matched["dealId"]);
    assert_ne!(
        str_of(&run["deals"][0]["orders"]["workerpoolorder"]),
        silent_order,
        "the live pool, not the cheaper silent one"
    );
    let states = run["taskStates"].as_array().expect("task states");
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["status"], "COMPLETED");
    let task = run["deals"][0]["tasks"][0].as_str().expect("task id");
    let out = requester.dir.join("out");
    let downloaded = requester.json(&[
        "result",
        "download",
        task,
        "--out",
        &out.display().to_string(),
    ]);
    assert!(downloaded["digest"].is_string());
    let text = std::fs::read_to_string(out.join("result.txt")).expect("result.txt");
    assert_eq!(text.trim(), "Hello, from the test!");
    let shown = requester.json(&["task", "show", task]);
    assert_eq!(shown["status"], "COMPLETED");
    assert!(
        shown.get("appError").is_none(),
        "a result, not an error: {shown}"
    );

    // a limit order at the market's best price: the silent pool's 0.01 RLC, below the live
    // pool's floor; the answer says that only the silent pool's order matches it
    let waiting = requester.json(&["app", "request-execution", &app, "--category", "0"]);
    assert_eq!(
        str_of(&waiting["fill"]["fillableBy"]),
        silent_pool,
        "{waiting}"
    );
    assert_eq!(waiting["fill"]["liveness"], "unknown", "{waiting}");
    assert!(
        waiting["fill"]["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("the workerpool costs 0.1 RLC")),
        "the live pool's order asks more: {waiting}"
    );

    // a limit order from the CLI completes on its own: the scheduler fills it (issue 15)
    let request = requester.json(&[
        "app",
        "request-execution",
        &app,
        "--category",
        "0",
        // the market's best is the silent pool's 0.01 RLC, below the live one's floor
        "--workerpool-max-price",
        "0.1 RLC",
        "--args",
        "limit order",
    ]);
    assert_eq!(request["fill"]["liveness"], "live", "{request}");
    let request_hash = str_of(&request["published"]["orderHash"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = requester.json(&["order", "show", &request_hash]);
        if shown["orders"][0]["remainingOnChain"] == "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduler did not fill the limit order: {shown}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let deals = requester.json(&["deal", "list", "--app", &app]);
    let limit_deal = deals["deals"]
        .as_array()
        .expect("deals")
        .iter()
        .map(|d| str_of(&d["dealId"]))
        .find(|d| *d != str_of(&matched["dealId"]));
    let deadline = Instant::now() + Duration::from_secs(60);
    let limit_deal = loop {
        match &limit_deal {
            Some(deal) => break deal.clone(),
            None => {
                let deals = requester.json(&["deal", "list", "--app", &app]);
                if let Some(deal) = deals["deals"]
                    .as_array()
                    .expect("deals")
                    .iter()
                    .map(|d| str_of(&d["dealId"]))
                    .find(|d| *d != str_of(&matched["dealId"]))
                {
                    break deal;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the market never indexed the deal"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let limit_task = str_of(&requester.json(&["deal", "show", &limit_deal])["tasks"][0]["taskId"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while requester.json(&["task", "show", &limit_task])["status"] != "COMPLETED" {
        assert!(Instant::now() < deadline, "the filled task never completed");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = requester.dir.join("limit");
    requester.json(&[
        "result",
        "download",
        &limit_task,
        "--out",
        &out.display().to_string(),
    ]);
    let text = std::fs::read_to_string(out.join("result.txt")).expect("result.txt");
    assert_eq!(text.trim(), "Hello, limit order!");

    // an app that fails is told as such everywhere, with exit code 6 (issue 18, finding 5)
    let callback =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/build/callback.wasm");
    let failing = str_of(
        &provider.json(&["app", "deploy", "--wasm", &callback.display().to_string()])["address"],
    );
    provider.json(&["order", "init", "--app", "--force"]);
    provider.json(&["order", "sign", "--app", "--force"]);
    provider.json(&["order", "publish", "--app"]);
    let error = requester.fails(
        &[
            "app",
            "run",
            &failing,
            "--args=-3",
            "--watch",
            "--timeout",
            "120",
            "--force",
        ],
        6,
    );
    assert!(
        error.contains("1 of 1 task(s) completed with an app error")
            && error.contains("app exited with code 1"),
        "{error}"
    );
    let deals = requester.json(&["deal", "list", "--app", &failing]);
    let deal = str_of(&deals["deals"][0]["dealId"]);
    let task = str_of(&requester.json(&["deal", "show", &deal])["tasks"][0]["taskId"]);
    let shown = requester.json(&["task", "show", &task]);
    assert_eq!(shown["status"], "COMPLETED");
    assert_eq!(shown["appError"], "app exited with code 1");
    let text = String::from_utf8(
        requester
            .cmd(&["task", "show", &task])
            .output()
            .expect("runs")
            .stdout,
    )
    .expect("utf-8");
    assert!(
        text.contains("COMPLETED with an app error: app exited with code 1"),
        "{text}"
    );
    let out = requester.dir.join("failed");
    let error = requester.fails(
        &[
            "result",
            "download",
            &task,
            "--out",
            &out.display().to_string(),
        ],
        6,
    );
    assert!(error.contains("completed with an app error"), "{error}");
    assert_eq!(
        std::fs::read_to_string(out.join("error.txt")).expect("the error result is written"),
        "dexec error: app exited with code 1\n"
    );
}

/// `app run --watch` tells what was bought before watching: the deal id, the task ids and the
/// cost come first on stdout; Ctrl-C stops the watch (exit 5), not the deal, and says how to
/// follow it; `dexec deal list` finds the requester's deals in the market's index; with
/// `--json` the match is a first JSON document of its own (issue 18, finding 2). No scheduler
/// runs here, so the tasks wait.
#[test]
fn app_run_watch_prints_the_ids_first_and_ctrl_c_says_how_to_follow() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;

    let net = Devnet::start();
    let provider = Actor::new(&net, APP_OWNER);
    let pool = Actor::new(&net, POOL_OWNER);
    let requester = Actor::new(&net, REQUESTER);
    let app = deploy_app(&provider, "watched");
    provider.json(&["order", "init", "--app"]);
    // numbers that cannot be an order's are said before anything is signed (finding 10)
    provider.edit_order("apporder", "volume", "-1");
    let refused = provider.fails(&["order", "sign", "--app"], 2);
    assert!(
        refused.contains("order.apporder.volume: must be a whole number, not `-1`"),
        "{refused}"
    );
    provider.edit_order("apporder", "volume", "0");
    let refused = provider.fails(&["order", "sign", "--app"], 2);
    assert!(refused.contains("0 tasks"), "{refused}");
    // a price the market could not list is refused by the CLI too, with the same limit
    provider.edit_order("apporder", "volume", "3");
    provider.edit_order("apporder", "appprice", "10000000000 RLC");
    let refused = provider.fails(&["order", "sign", "--app"], 2);
    assert!(
        refused.contains("order.apporder.appprice")
            && refused.contains("more than an order may ask")
            && refused.contains("9223372036.854775807 RLC"),
        "{refused}"
    );
    provider.edit_order("apporder", "appprice", "0");
    // an address with a digit missing gets a sentence, not the hex decoder's "invalid length"
    provider.edit_order(
        "apporder",
        "requesterrestrict",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C",
    );
    let refused = provider.fails(&["order", "sign", "--app"], 2);
    assert!(
        refused.contains("order.apporder.requesterrestrict")
            && refused.contains("it has 39 hex digits, an address has 40"),
        "{refused}"
    );
    provider.edit_order(
        "apporder",
        "requesterrestrict",
        "0x0000000000000000000000000000000000000000",
    );
    // so does one given on the command line
    let refused = requester.fails(&["account", "show", "0x12zz"], 2);
    assert!(refused.contains("`z` is not a hex digit"), "{refused}");
    provider.edit_order("apporder", "volume", "3");
    provider.json(&["order", "sign", "--app"]);
    provider.json(&["order", "publish", "--app"]);
    pool.json(&["workerpool", "init", "--description", "no scheduler"]);
    pool.json(&["workerpool", "deploy"]);
    pool.json(&["order", "init", "--workerpool"]);
    pool.edit_order("workerpoolorder", "workerpoolprice", "0.1 RLC");
    pool.edit_order("workerpoolorder", "volume", "50");
    pool.json(&["order", "sign", "--workerpool"]);
    pool.json(&["order", "publish", "--workerpool"]);

    // mistakes the tool can catch cost nothing (issue 18, findings 4 and 5)
    let locked = requester.hub_locked();
    let refused = requester.fails(
        &[
            "app",
            "run",
            &app,
            "--force",
            "--params",
            r#"{"iexec_args":5}"#,
        ],
        2,
    );
    assert!(
        refused.contains("request params are not valid")
            && refused.contains("nothing was signed or paid"),
        "{refused}"
    );
    let refused = requester.fails(&["app", "run", &app, "--force", "--volume", "40"], 3);
    assert!(
        refused.contains("--volume 40 asks for 40 task(s)")
            && refused.contains("only 3")
            && refused.contains("the app orders have 3 left in all")
            && refused.contains("Run with --volume 3"),
        "{refused}"
    );
    assert_eq!(requester.hub_locked(), locked, "nothing was paid");

    let mut child = requester
        .cmd(&["app", "run", &app, "--force", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("app run starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    let deal = loop {
        let mut line = String::new();
        let read = stdout.read_line(&mut line).expect("stdout is readable");
        assert!(read > 0, "app run ended before printing its deal: {seen}");
        seen.push_str(&line);
        if let Some(deal) = line.strip_prefix("deal") {
            break deal.trim().to_owned();
        }
    };
    // the rest of the match's text (tasks, cost) is there before any watching ends
    let mut line = String::new();
    while !seen.contains("task 0") {
        line.clear();
        assert!(stdout.read_line(&mut line).expect("readable") > 0, "{seen}");
        seen.push_str(&line);
    }
    assert!(seen.contains("cost"), "{seen}");
    assert!(
        child.try_wait().expect("waitable").is_none(),
        "still watching"
    );

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let status = child.wait().expect("app run ends");
    assert_eq!(status.code(), Some(5), "Ctrl-C is an abort, exit 5");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr is readable");
    assert!(
        stderr.contains("stopped watching") && stderr.contains(&format!("dexec deal show {deal}")),
        "{stderr}"
    );

    // the requester's deals, from the market's index (it follows the chain)
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let listed = requester.json(&["deal", "list"]);
        if listed["count"] == 1 {
            break listed;
        }
        assert!(
            Instant::now() < deadline,
            "the market never listed the deal: {listed}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(str_of(&listed["deals"][0]["dealId"]), deal);
    assert_eq!(
        str_of(&listed["deals"][0]["app"]).to_lowercase(),
        app.to_lowercase()
    );
    let others = pool.json(&["deal", "list"]);
    assert_eq!(others["count"], 0, "the pool owner requested nothing");
    assert_eq!(pool.json(&["deal", "list", "--all"])["count"], 1);

    // --json: the match is a document of its own, before the watch's end (here a timeout)
    let out = requester
        .cmd(&[
            "app",
            "run",
            &app,
            "--force",
            "--watch",
            "--timeout",
            "1",
            "--json",
        ])
        .output()
        .expect("app run runs");
    assert_eq!(out.status.code(), Some(1), "the watch timed out");
    let documents: Vec<Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("JSON documents on stdout");
    assert_eq!(documents.len(), 2, "{documents:?}");
    assert_eq!(documents[0]["ok"], true);
    assert_eq!(documents[0]["stage"], "matched");
    assert!(documents[0]["dealId"].is_string() && documents[0]["tasks"][0].is_string());
    assert_eq!(documents[0]["totalCostNrlc"], "100000000");
    assert_eq!(documents[1]["ok"], false);
    assert!(
        str_of(&documents[1]["error"]).contains("still running"),
        "{}",
        documents[1]
    );

    // --volume buys exactly that many, across orders when one cannot (finding 4): the first
    // app order (free) has 1 task left; two more at 0.2 and 0.3 RLC make 40
    for (volume, price) in [("17", "0.2 RLC"), ("22", "0.3 RLC")] {
        provider.json(&["order", "init", "--app", "--force"]);
        provider.edit_order("apporder", "volume", volume);
        provider.edit_order("apporder", "appprice", price);
        provider.json(&["order", "sign", "--app", "--force"]);
        provider.json(&["order", "publish", "--app"]);
    }
    let refused = requester.fails(&["app", "run", &app, "--force", "--volume", "41"], 3);
    assert!(
        refused.contains("only 40") && refused.contains("the app orders have 40 left in all"),
        "{refused}"
    );
    let locked = requester.hub_locked();
    let run = requester.json(&["app", "run", &app, "--force", "--volume", "40"]);
    let deals = run["deals"].as_array().expect("deals");
    let bought: Vec<(u64, u64)> = deals
        .iter()
        .map(|d| {
            (
                d["deal"]["botSize"].as_u64().expect("volume"),
                d["deal"]["appPriceNrlc"]
                    .as_str()
                    .and_then(|p| p.parse().ok())
                    .expect("price"),
            )
        })
        .collect();
    assert_eq!(
        bought,
        [(1, 0), (17, 200_000_000), (22, 300_000_000)],
        "best price first, each order used up"
    );
    assert_eq!(run["volume"], 40);
    crate::commands::assert_json_rule(&run, "app run");
    // 1 x 0.1 + 17 x (0.2 + 0.1) + 22 x (0.3 + 0.1) RLC
    assert_eq!(run["totalCostNrlc"], "14000000000");
    assert_eq!(requester.hub_locked() - locked, 14_000_000_000);

    // app run's preflight (finding 12): an app whose module workers cannot fetch is refused
    // before anything is paid; --skip-preflight-check runs it anyway
    std::fs::write(
        provider.dir.join("lost.wasm"),
        crate::minimal_app_named("lost"),
    )
    .expect("module");
    provider.json(&[
        "app",
        "init",
        "--wasm",
        "lost.wasm",
        "--multiaddr",
        "http://127.0.0.1:1/lost.wasm",
    ]);
    let lost = str_of(&provider.json(&["app", "deploy"])["address"]);
    provider.json(&["order", "init", "--app", "--force"]);
    provider.json(&["order", "sign", "--app", "--force"]);
    provider.json(&["order", "publish", "--app"]);
    let locked = requester.hub_locked();
    let refused = requester.fails(&["app", "run", &lost, "--force"], 3);
    assert!(
        refused.contains("preflight check of app")
            && refused.contains("cannot be fetched")
            && refused.contains("nothing was paid"),
        "{refused}"
    );
    assert_eq!(requester.hub_locked(), locked, "nothing was paid");
    let run = requester.json(&["app", "run", &lost, "--force", "--skip-preflight-check"]);
    assert_eq!(run["volume"], 1, "skipped: the user's call");

    // --storage-provider: the pool's dexec store only, recorded in the params
    let refused = requester.fails(
        &["app", "run", &lost, "--force", "--storage-provider", "ipfs"],
        2,
    );
    assert!(
        refused.contains("not one dexec workers support"),
        "{refused}"
    );
    let run = requester.json(&[
        "app",
        "run",
        &lost,
        "--force",
        "--skip-preflight-check",
        "--storage-provider",
        "dexec",
    ]);
    let shown = requester.json(&["deal", "show", &str_of(&run["deals"][0]["dealId"])]);
    assert!(
        str_of(&shown["deal"]["params"]).contains(r#""iexec_result_storage_provider":"dexec""#),
        "{shown}"
    );

    // --confirms: this devnet mines a block per transaction, so a third block never comes
    // without another one: the wait ends at --timeout and says the deal may stand
    let refused = requester.fails(
        &[
            "app",
            "run",
            &lost,
            "--force",
            "--skip-preflight-check",
            "--confirms",
            "3",
            "--timeout",
            "2",
        ],
        5,
    );
    assert!(
        refused.contains("did not come within 2 s") && refused.contains("dexec deal show"),
        "{refused}"
    );
}
