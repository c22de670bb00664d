//! Stopping services: Ctrl-C as a future, the stop signal a service's loops watch, and
//! [`ServiceHandle`], what starting any service returns.

use std::future::Future;
use std::net::SocketAddr;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Resolves on Ctrl-C (SIGINT). If the signal cannot be listened for, it logs why and
/// resolves at once (the service then stops rather than run unstoppable).
pub async fn ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(target: "service", error = %e, "cannot listen for Ctrl-C; stopping");
    }
}

/// A stop signal for a service's loops and servers: `true` once `shutdown` resolved.
pub fn stop_signal<F>(shutdown: F) -> watch::Receiver<bool>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    rx
}

/// Resolves when `stop` turns true (or its sender is gone).
pub async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A service serving in the background: the address it bound and the task that ends when it
/// stops (after its shutdown future resolved, or on a fatal error).
#[derive(Debug)]
pub struct ServiceHandle<E> {
    /// The bound address (port 0 in the config picks a free one).
    pub addr: SocketAddr,
    /// Ends when the service stops; its result reports a serving error.
    pub task: JoinHandle<Result<(), E>>,
}

impl<E: From<std::io::Error>> ServiceHandle<E> {
    /// The service's base URL (`http://addr`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Wait until the service stops; a panicked task is reported as an I/O error.
    pub async fn join(self) -> Result<(), E> {
        self.task
            .await
            .map_err(|e| E::from(std::io::Error::other(e)))?
    }
}

/// Run a service until Ctrl-C: `start` gets the shutdown future and returns the service's
/// handle; this waits for it to stop.
pub async fn run_until_ctrl_c<E, S, Fut>(start: S) -> Result<(), E>
where
    E: From<std::io::Error>,
    S: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = Result<ServiceHandle<E>, E>>,
{
    start(Box::pin(ctrl_c())).await?.join().await
}
