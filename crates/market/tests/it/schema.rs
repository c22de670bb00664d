//! The OpenAPI document against the live market: schemathesis (a property-based client,
//! installed in `.tools/venv` by `scripts/bootstrap-python.sh`) reads `/openapi.json` and
//! sends requests made from it, valid and invalid, with a fixed seed and a bounded number of
//! examples per operation. Its checks: no 5xx, every status and content type is one the
//! document lists for the operation, every body matches its schema, and no request the
//! document describes is refused as malformed.

use std::time::{Duration, Instant};

use dexec_market::Rate;
use dexec_sdk::MatchInput;

use crate::*;

/// Examples per operation and phase (about 30 s for the whole run on 2 cores).
const MAX_EXAMPLES: &str = "100";
/// The run's seed: the same requests every time.
const SEED: &str = "18011";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_what_the_market_does() {
    let Some(schemathesis) =
        dexec_test_utils::schemathesis("the market driven by schemathesis from its OpenAPI")
    else {
        return;
    };
    let world = World::new().await;
    let w = &world;
    let mut config = w.config();
    // the per-IP limit would answer most requests 429: the run is about the routes
    config.per_ip = Rate::UNLIMITED;
    config.per_address = Rate::UNLIMITED;
    let market = Market::spawn(config).await;

    // a book with one order of each kind, and a deal, so that answers carry them
    let app = w.sign(w.app_order(100, 1), APP_OWNER);
    let pool = w.sign(w.pool_order(300, 3), POOL_OWNER);
    let request = w.sign(w.request_order(300, 4), REQUESTER);
    for (kind, status_body) in [
        ("app", market.publish("app", &app).await),
        (
            "dataset",
            market
                .publish("dataset", &w.sign(w.dataset_order(5, 5), DATASET_OWNER))
                .await,
        ),
        ("workerpool", market.publish("workerpool", &pool).await),
        ("request", market.publish("request", &request).await),
        (
            "request",
            market
                .publish("request", &w.sign(w.request_order(200, 6), REQUESTER))
                .await,
        ),
    ] {
        assert_eq!(status_body.0, 201, "{kind}: {}", status_body.1);
    }
    w.client(REQUESTER)
        .match_orders(&MatchInput {
            app,
            dataset: None,
            workerpool: pool,
            request,
        })
        .await
        .expect("match");
    market.wait("/deals", |d| d["count"] == 1).await;

    let config_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    let report = tempfile::tempdir().expect("temp dir");
    let mut command = tokio::process::Command::new(&schemathesis);
    command
        .args(["--config-file", config_file, "--no-color", "run"])
        .arg(market.url("/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,positive_data_acceptance",
            "--phases",
            "examples,coverage,fuzzing",
            // an HTTP client cannot speak the WebSocket feed (tests/it/feed.rs does)
            "--exclude-path",
            "/ws",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            SEED,
            "--generation-database",
            "none",
            // one worker: hypothesis' lambda descriptions hit a CPython AST bug in threads
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--report-dir",
        ])
        .arg(report.path())
        .current_dir(report.path())
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    let started = Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(240), command.output())
        .await
        .expect("schemathesis finishes within 4 minutes")
        .expect("schemathesis runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found requests the market answers differently from its OpenAPI document \
         ({}):\n{log}",
        output.status
    );
    eprintln!(
        "schemathesis passed in {:.0} s:\n{log}",
        started.elapsed().as_secs_f64()
    );
    market.stop().await;
}
