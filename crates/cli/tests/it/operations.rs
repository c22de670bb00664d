//! What an operator watches: a real Prometheus (Debian's `prometheus`) scrapes the devnet's
//! market and store, a scheduler process and a worker process while a task runs through them;
//! then every query of the committed Grafana dashboard (`ops/grafana/dexec-pool.json`) is
//! asked of that Prometheus and must answer with data.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::market::{pool_processes_on, str_of, Actor, Service};
use crate::Devnet;

const APP_OWNER: u32 = 1;
const POOL_OWNER: u32 = 2;
const REQUESTER: u32 = 3;

/// Set to 1 where Prometheus must be present (`make test` installs it): its absence then
/// fails the test instead of skipping it.
const REQUIRE_PROMETHEUS_ENV: &str = "DEXEC_TEST_REQUIRE_PROMETHEUS";

/// Whether `prometheus` can run here; a visible skip (or a failure under
/// [`REQUIRE_PROMETHEUS_ENV`]=1) when not.
fn prometheus_ready(test: &str) -> bool {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    assert!(
        std::env::var(REQUIRE_PROMETHEUS_ENV).map_or(true, |v| v != "1"),
        "{test}: {REQUIRE_PROMETHEUS_ENV}=1 but `prometheus` does not run here \
         (`scripts/bootstrap-debian.sh prometheus` installs it)"
    );
    eprintln!(
        "SKIPPED {test}: `prometheus` is not installed (`scripts/bootstrap-debian.sh prometheus` \
         installs Debian's package)"
    );
    false
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// GET `url`: the status and the body as JSON (Null when it is not JSON).
fn get(url: &str) -> (u16, Value) {
    runtime().block_on(async {
        match reqwest::get(url).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.json::<Value>().await.unwrap_or(Value::Null);
                (status, body)
            }
            Err(_) => (0, Value::Null),
        }
    })
}

/// GET `url`: the body as text.
fn get_text(url: &str) -> String {
    runtime().block_on(async {
        reqwest::get(url)
            .await
            .expect("GET")
            .text()
            .await
            .expect("body")
    })
}

/// An instant query: the result vector (empty when Prometheus has no data for it); panics
/// when Prometheus refuses the query.
fn query(prometheus: &str, expr: &str) -> Vec<Value> {
    let url =
        reqwest::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), &[("query", expr)])
            .expect("query URL");
    let (status, body) = get(url.as_str());
    assert_eq!(body["status"], "success", "{expr}: HTTP {status}: {body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The first value of an instant query (0 when there is none).
fn value(prometheus: &str, expr: &str) -> f64 {
    query(prometheus, expr)
        .first()
        .and_then(|sample| sample["value"][1].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `host:port` of a URL.
fn authority(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("URL");
    format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port_or_known_default().expect("port")
    )
}

#[test]
fn a_real_prometheus_scrapes_a_running_pool_and_every_dashboard_query_answers() {
    if !prometheus_ready("a_real_prometheus_scrapes_a_running_pool") {
        return;
    }
    let net = Devnet::start();
    let provider = Actor::new(&net, APP_OWNER);
    let pool = Actor::new(&net, POOL_OWNER);
    let requester = Actor::new(&net, REQUESTER);

    let scheduler_port = crate::free_port();
    let worker_port = crate::free_port();
    let worker_listen = format!("127.0.0.1:{worker_port}");
    let (_scheduler, _worker) = pool_processes_on(
        &pool,
        "observed pool",
        &["--metrics-listen", &worker_listen],
        scheduler_port,
    );
    let chain: Value = serde_json::from_str(
        &std::fs::read_to_string(net.path().join(".dexec/chain.json")).expect("chain.json"),
    )
    .expect("JSON");
    let entry = chain["chains"]
        .as_object()
        .and_then(|chains| chains.values().find(|c| c["market"].is_string()))
        .expect("the devnet's chain entry");
    let targets = [
        ("dexec-market", authority(&str_of(&entry["market"]))),
        ("dexec-store", authority(&str_of(&entry["store"]))),
        ("dexec-scheduler", format!("127.0.0.1:{scheduler_port}")),
        ("dexec-worker", worker_listen.clone()),
    ];

    // every service answers /health with ok, and /metrics in the OpenMetrics format
    wait_for(
        "the worker serves its metrics",
        Duration::from_secs(60),
        || get(&format!("http://{worker_listen}/health")).0 == 200,
    );
    for (job, target) in &targets {
        let (status, health) = get(&format!("http://{target}/health"));
        assert_eq!(status, 200, "{job}: {health}");
        assert_eq!(health["status"], "ok", "{job}: {health}");
        assert_eq!(health["reasons"], Value::Array(vec![]), "{job}: {health}");
        let text = get_text(&format!("http://{target}/metrics"));
        assert!(
            text.contains("dexec_http_requests_total") && text.ends_with("# EOF\n"),
            "{job}: {text}"
        );
    }

    // Prometheus scrapes the four every second
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops/prometheus/alerts.yml");
    let checked_rules = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool runs");
    assert!(
        checked_rules.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&checked_rules.stdout),
        String::from_utf8_lossy(&checked_rules.stderr)
    );
    let mut config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {}\nscrape_configs:\n",
        rules.display()
    );
    for (job, target) in &targets {
        config.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        ));
    }
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(&config_file, config).expect("config");
    let prometheus_port = crate::free_port();
    let prometheus = format!("http://127.0.0.1:{prometheus_port}");
    let _prometheus = Service(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    wait_for(
        "Prometheus scrapes all four services",
        Duration::from_secs(60),
        || {
            let (_, body) = get(&format!("{prometheus}/api/v1/targets"));
            let active = body["data"]["activeTargets"].as_array().cloned();
            active.is_some_and(|t| t.len() == 4 && t.iter().all(|t| t["health"] == "up"))
        },
    );

    // a task through the pool while Prometheus watches
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/build/hello.wasm");
    assert!(hello.is_file(), "build the example apps first: `make apps`");
    let app = str_of(
        &provider.json(&["app", "deploy", "--wasm", &hello.display().to_string()])["address"],
    );
    provider.json(&["order", "init", "--app"]);
    provider.json(&["order", "sign", "--app"]);
    provider.json(&["order", "publish", "--app"]);
    wait_for("the scheduler's offer", Duration::from_secs(60), || {
        requester.json(&["orderbook", "workerpool"])["count"] == 1
    });
    let run = requester.json(&["app", "run", &app, "--args", "observed", "--force"]);
    assert_eq!(run["deals"].as_array().map(Vec::len), Some(1), "{run}");

    // what the operator sees of it
    wait_for(
        "the completed task and its run in Prometheus",
        Duration::from_secs(120),
        || {
            value(
                &prometheus,
                r#"sum(dexec_scheduler_tasks{status="completed"})"#,
            ) >= 1.0
                && value(&prometheus, r#"sum(dexec_worker_runs_total{status="ok"})"#) >= 1.0
                && value(
                    &prometheus,
                    r#"sum(dexec_worker_replicates_total{status="done"})"#,
                ) >= 1.0
        },
    );
    assert!(
        value(
            &prometheus,
            r#"dexec_market_published_orders_total{status="app"}"#
        ) >= 1.0
    );
    assert!(value(&prometheus, r#"dexec_store_bytes_total{op="put"}"#) > 0.0);
    assert!(
        value(
            &prometheus,
            r#"dexec_gas_spent_total{job="dexec-worker",op="contributeAndFinalize"}"#
        ) > 0.0
    );
    assert!(value(&prometheus, "dexec_worker_wasm_fuel_count") >= 1.0);
    assert!(
        value(
            &prometheus,
            "dexec_scheduler_assignment_latency_seconds_count"
        ) >= 1.0
    );
    assert_eq!(
        value(&prometheus, r#"dexec_worker_slots{status="busy"}"#),
        0.0
    );
    assert_eq!(
        value(&prometheus, r#"dexec_scheduler_workers{status="alive"}"#),
        1.0
    );
    // back-pressure in view: what the pool can finish, what its standing order offers
    let capacity = value(
        &prometheus,
        r#"dexec_scheduler_offer_tasks{status="capacity"}"#,
    );
    let volume = value(
        &prometheus,
        r#"dexec_scheduler_offer_tasks{status="volume"}"#,
    );
    assert!(
        capacity > 0.0 && volume <= capacity,
        "{volume} of {capacity}"
    );
    assert!(
        value(
            &prometheus,
            r#"dexec_scheduler_offer_checks_total{status="published"}"#
        ) >= 1.0
    );

    // every query of the dashboard answers with data
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ops/grafana/dexec-pool.json"),
        )
        .expect("the dashboard"),
    )
    .expect("JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut checked = 0;
    let mut empty = Vec::new();
    for panel in panels {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = str_of(&target["expr"]).replace("$__rate_interval", "30s");
            if query(&prometheus, &expr).is_empty() {
                empty.push(format!("{}: {expr}", str_of(&panel["title"])));
            }
            checked += 1;
        }
    }
    assert!(checked >= panels.len(), "{checked} queries");
    assert!(empty.is_empty(), "queries without data: {empty:#?}");

    // every alerting rule evaluates without error, none fires on this healthy pool, and
    // none is even pending but the two a busy moment may start (every slot taken, tasks
    // matched and not yet assigned)
    let mut evaluated = Vec::new();
    wait_for(
        "Prometheus evaluates every alerting rule",
        Duration::from_secs(30),
        || {
            let (_, body) = get(&format!("{prometheus}/api/v1/rules"));
            evaluated = body["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            !evaluated.is_empty()
                && evaluated
                    .iter()
                    .all(|r| !str_of(&r["lastEvaluation"]).starts_with("0001"))
        },
    );
    assert_eq!(evaluated.len(), 8, "the rules of ops/prometheus/alerts.yml");
    for rule in &evaluated {
        assert_eq!(rule["health"], "ok", "{rule}");
        let alerts = rule["alerts"].as_array().cloned().unwrap_or_default();
        assert!(
            alerts.iter().all(|a| a["state"] != "firing"),
            "an alert fires on a healthy pool: {rule}"
        );
        let busy = ["DexecPoolFull", "DexecTasksNotAssigned"];
        assert!(
            alerts.is_empty() || busy.contains(&rule["name"].as_str().unwrap_or_default()),
            "an alert pending on a healthy pool: {rule}"
        );
    }
}

/// A JSON string as it is (`str_of` lowercases: for addresses).
fn text(v: &Value) -> String {
    v.as_str().expect("a string").to_owned()
}

/// The `ExecStart=` words, `WorkingDirectory=` and `Environment=` of a unit `dexec … init`
/// wrote, run as systemd would: in that directory, with only that environment (and PATH).
fn run_unit(unit_file: &Path) -> Service {
    let unit = std::fs::read_to_string(unit_file).expect("the unit");
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in {unit}"))
            .to_owned()
    };
    let exec = value("ExecStart=");
    let words: Vec<&str> = exec.split_whitespace().collect();
    let mut cmd = Command::new(words[0]);
    cmd.args(&words[1..])
        .current_dir(value("WorkingDirectory="))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for line in unit.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let (key, val) = line.split_once('=').expect("KEY=VALUE");
        cmd.env(key, val);
    }
    Service(cmd.spawn().expect("the unit's service starts"))
}

/// `dexec scheduler init` and `dexec worker init` check the flags, write an arguments file and
/// a systemd unit each; the pool then runs from those files alone, as systemd would start it,
/// and a task bought on the market completes with the worker paid.
#[test]
fn init_writes_units_that_run_a_pool_from_their_files_alone() {
    let net = Devnet::start();
    let provider = Actor::new(&net, APP_OWNER);
    let pool = Actor::new(&net, POOL_OWNER);
    let requester = Actor::new(&net, REQUESTER);
    pool.json(&[
        "workerpool",
        "init",
        "--description",
        "a pool run by its units",
    ]);
    pool.json(&["workerpool", "deploy"]);
    let chain_file = net.path().join(".dexec/chain.json").display().to_string();
    let port = crate::free_port();
    let listen = format!("127.0.0.1:{port}");
    let scheduler_url = format!("http://{listen}");
    // `--json` goes before `--`: after it, every word is the service's
    let init = |service: &str, flags: &[&str]| -> Value {
        let mut args = vec![service, "init", "--dir", "units", "--json", "--"];
        args.extend_from_slice(flags);
        crate::run_json(&mut pool.cmd(&args))
    };
    let refused = |service: &str, args: &[&str], code: i32| -> String {
        let mut all = vec![service, "init", "--dir", "units", "--json"];
        all.extend_from_slice(args);
        let out = pool.cmd(&all).output().expect("runs");
        assert_eq!(out.status.code(), Some(code), "{all:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // refusals, each with its reason, and nothing written
    let error = refused("worker", &["--", "--no-such-flag"], 2);
    assert!(error.contains("--no-such-flag"), "{error}");
    // a flag both `dexec` and the worker know, given before `--`: said, not silently dropped
    let error = refused("worker", &["--dev-account", "4", "--"], 2);
    assert!(error.contains("after `--`"), "{error}");
    let error = refused("worker", &[], 2);
    assert!(error.contains("flags after `--`"), "{error}");
    let error = refused(
        "worker",
        &["--", "--tags", "not-a-tag", "--chain-file", &chain_file],
        2,
    );
    assert!(error.contains("would not start the worker"), "{error}");
    assert!(!pool.dir.join("units").exists(), "nothing written");

    let scheduler_db = format!("sqlite://{}", pool.dir.join("scheduler.db").display());
    let scheduler = init(
        "scheduler",
        &[
            "--chain-file",
            &chain_file,
            "--dev-account",
            "2",
            "--workerpool",
            "deployed",
            "--offer-price",
            "0.1 RLC",
            "--listen",
            &listen,
            "--db",
            &scheduler_db,
        ],
    );
    let worker = init(
        "worker",
        &[
            "--chain-file",
            &chain_file,
            "--dev-account",
            "4",
            "--scheduler-url",
            &scheduler_url,
            "--name",
            "unit worker",
            "--work-dir",
            "worker-state",
        ],
    );
    let worker_address = str_of(&worker["address"]);
    let args_file = pool.dir.join("units/worker.args");
    let args = std::fs::read_to_string(&args_file).expect("worker.args");
    assert!(
        args.contains("\nunit worker\n"),
        "one flag per line: {args}"
    );
    assert_eq!(
        PathBuf::from(text(&worker["argsFile"])),
        args_file,
        "{worker}"
    );
    let unit = std::fs::read_to_string(pool.dir.join("units/dexec-worker.service")).expect("unit");
    assert!(
        unit.contains(&format!("ExecStart={}", text(&worker["execStart"]))),
        "{unit}"
    );
    // once written, replaced only with --force
    let error = refused(
        "worker",
        &["--", "--dev-account", "4", "--chain-file", &chain_file],
        3,
    );
    assert!(error.contains("--force"), "{error}");

    // the pool from its units alone
    let _scheduler = run_unit(&PathBuf::from(text(&scheduler["unitFile"])));
    let _worker = run_unit(&PathBuf::from(text(&worker["unitFile"])));
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/build/hello.wasm");
    let app = str_of(
        &provider.json(&["app", "deploy", "--wasm", &hello.display().to_string()])["address"],
    );
    provider.json(&["order", "init", "--app"]);
    provider.json(&["order", "sign", "--app"]);
    provider.json(&["order", "publish", "--app"]);
    wait_for(
        "the unit scheduler's offer",
        Duration::from_secs(60),
        || requester.json(&["orderbook", "workerpool"])["count"] == 1,
    );
    let balance = |who: &Actor<'_>| -> u128 {
        str_of(&who.json(&["account", "show", &worker_address])["hubBalanceNrlc"])
            .parse()
            .expect("nRLC")
    };
    let before = balance(&pool);
    let out = requester
        .cmd(&[
            "app",
            "run",
            &app,
            "--args",
            "unit",
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
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        balance(&pool) > before,
        "the worker started by its unit was paid"
    );
}
