//! The HTTP listener: accepts connections up to a cap and serves each with timeouts, so slow
//! or stalled clients cannot hold connections, tasks or memory for long.
//!
//! `axum::serve` has no header, body or idle timeout and no connection cap, so deskline runs
//! its own accept loop over hyper's HTTP/1 connection.
//!
//! - **Header read**: from a connection's first byte (or from its opening) to the end of a
//!   request's headers.
//! - **Body read**: from the end of the headers to the end of the body, as a deadline for the
//!   whole body (a client trickling one byte a second is cut as surely as a silent one).
//! - **Idle**: how long a kept-alive connection may wait for its next request.
//! - **Cap**: at most `max_connections` are served at once. Beyond it, new connections wait in
//!   the kernel's listen backlog and are accepted as soon as a slot frees, rather than being
//!   refused: a provider's webhook that waits a moment is still acknowledged, while a refused
//!   one depends on the provider retrying. Idle kept-alive connections are closed to make room.

mod body_deadline;
mod connection;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};

pub use body_deadline::{body_timed_out, BodyTimedOut};

use crate::config::ServerConfig;

/// How often a full listener asks idle connections again to make room while it waits.
const PRESSURE_REPEAT: Duration = Duration::from_secs(1);

/// The listener's timeouts and connection cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From a request's first byte (or the connection's opening) to the end of its headers.
    pub header_read_timeout: Duration,
    /// From the end of a request's headers to the end of its body.
    pub body_read_timeout: Duration,
    /// How long a connection may wait for its next request after a response.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Limits {
    /// The limits `[server]` sets.
    pub fn from_config(server: &ServerConfig) -> Limits {
        Limits {
            header_read_timeout: server.header_read_timeout,
            body_read_timeout: server.body_read_timeout,
            idle_timeout: server.idle_timeout,
            max_connections: server.max_connections.max(1),
        }
    }
}

/// Serves `app` on `listener` until `stop` changes, then stops accepting, lets each open
/// connection finish its request in flight (within its timeouts), and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let pressure = Arc::new(Notify::new());
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                metrics::counter!("deskline_connections_waited_total").increment(1);
                let waited = async {
                    loop {
                        pressure.notify_waiters();
                        tokio::select! {
                            slot = slots.clone().acquire_owned() => break slot.ok(),
                            () = tokio::time::sleep(PRESSURE_REPEAT) => {}
                        }
                    }
                };
                tokio::select! {
                    slot = waited => match slot {
                        Some(slot) => slot,
                        None => break,
                    },
                    _ = stop.changed() => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // pause briefly rather than spin, and keep serving.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection::serve(
            stream,
            app.clone(),
            limits,
            pressure.clone(),
            stop.clone(),
            slot,
        ));
    }
    drop(listener);
    // Every slot back means every connection has ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}
