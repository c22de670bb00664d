//! Input files: a requester's URL on a private address is refused unless the worker allows
//! private inputs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dexec_test_utils::cluster::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{file, result_files};

/// An HTTP server on loopback that answers every request with a small file and counts the
/// connections it accepted.
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/secret.txt", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nsecret\n",
                    )
                    .await;
            });
        }
    });
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_input_urls_are_refused() {
    let pool = Pool::start(PoolOptions::default()).await;
    let (url, hits) = counting_server().await;
    let params = serde_json::json!({ "iexec_input_files": [url] }).to_string();
    let app = pool.deploy_app("hello", &hello_app(0)).await;

    // a worker of a public pool: the loopback URL is refused, never reached
    let mut config = pool.worker_config(FIRST_WORKER);
    config.allow_private_inputs = false;
    let strict = pool.start_worker(config).await;
    let deal = pool.request_with(app, 1, 1, &params).await;
    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let result = tasks[0].result.as_ref().expect("completed with a result");
    let files = result_files(result).await;
    let error = String::from_utf8_lossy(file(&files, "error.txt")).into_owned();
    assert!(
        error.contains("input file 1") && error.contains("private address"),
        "{error}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the private address was never reached"
    );
    drop(strict);

    // a worker that allows private inputs fetches it and runs the app
    let lenient = pool
        .start_worker(pool.worker_config(FIRST_WORKER + 1))
        .await;
    let deal = pool.request_with(app, 1, 1, &params).await;
    let tasks = pool.wait_completed(&deal, Duration::from_secs(60)).await;
    let result = tasks[0].result.as_ref().expect("completed with a result");
    assert_eq!(result.digest, sha256(HELLO_OUTPUT));
    assert!(
        hits.load(Ordering::SeqCst) >= 1,
        "the input file was fetched"
    );
    let view = pool.wait_view(deal.tasks[0], "completed").await;
    assert_eq!(view.replicates[0].worker, lenient.address());
}
