//! One connection: hyper's HTTP/1 state machine over a socket that reports its activity, and a
//! watchdog that ends the connection when its phase has lasted too long.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit};
use tokio::time::Instant;
use tower::ServiceExt;

use super::body_deadline::DeadlineBody;
use super::Limits;

/// hyper's read buffer bound, which is also the largest request head accepted (larger ones get
/// 431). Webhook heads are a few KiB; hyper's default (about 400 KiB) would let each slow
/// client make the process hold that much.
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// How long a connection must have been idle before a full listener closes it to make room.
const PRESSURE_GRACE: Duration = Duration::from_secs(1);

/// Where a connection is in its request cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A request head is awaited or arriving, since the connection opened or since the first
    /// byte after a response.
    Head(Instant),
    /// The application has this many requests (their bodies have their own deadline).
    Busy(usize),
    /// Waiting for the next request since the last response (or its last written byte).
    Idle(Instant),
}

/// Why the watchdog ended a connection (the `reason` label of
/// `deskline_connections_cut_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    HeaderTimeout,
    IdleTimeout,
    MakeRoom,
}

impl Cut {
    fn label(self) -> &'static str {
        match self {
            Cut::HeaderTimeout => "header_timeout",
            Cut::IdleTimeout => "idle_timeout",
            Cut::MakeRoom => "make_room",
        }
    }
}

/// A connection's phase, shared by its socket, its service and its watchdog.
struct Activity {
    phase: Mutex<Phase>,
    /// Told when the deadline may have come closer (or appeared).
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        let before = *phase;
        *phase = f(before);
        let after = *phase;
        drop(phase);
        // Only moves that can bring the deadline closer need to wake the watchdog; a later
        // deadline is found when the earlier one passes.
        let closer = matches!(
            (before, after),
            (Phase::Idle(_), Phase::Head(_)) | (Phase::Busy(_), Phase::Idle(_))
        );
        if closer {
            self.changed.notify_one();
        }
    }

    fn bytes_read(&self) {
        self.update(|p| match p {
            Phase::Idle(_) => Phase::Head(Instant::now()),
            other => other,
        });
    }

    fn bytes_written(&self) {
        // A slow reader that keeps taking its response is not idle.
        self.update(|p| match p {
            Phase::Idle(_) => Phase::Idle(Instant::now()),
            other => other,
        });
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.update(|p| match p {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
        InFlight(self.clone())
    }

    fn request_finished(&self) {
        self.update(|p| match p {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deadline(&self, limits: &Limits) -> Option<(Instant, Cut)> {
        match self.phase() {
            Phase::Head(since) => Some((since + limits.header_read_timeout, Cut::HeaderTimeout)),
            Phase::Idle(since) => Some((since + limits.idle_timeout, Cut::IdleTimeout)),
            Phase::Busy(_) => None,
        }
    }

    fn may_make_room(&self) -> bool {
        matches!(self.phase(), Phase::Idle(since) if since.elapsed() >= PRESSURE_GRACE)
    }

    /// Resolves when the connection must end.
    async fn expired(&self, limits: &Limits, pressure: &Notify) -> Cut {
        loop {
            let changed = self.changed.notified();
            let pressed = pressure.notified();
            tokio::pin!(changed, pressed);
            // Registered now, so a request for room sent while the deadline is computed is not
            // missed.
            pressed.as_mut().enable();
            let deadline = self.deadline(limits);
            let at = match deadline {
                Some((at, cut)) if at <= Instant::now() => return cut,
                Some((at, _)) => at,
                // Busy: no deadline until the response; wake well after any real one.
                None => Instant::now() + Duration::from_secs(86_400),
            };
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = &mut changed => {}
                () = &mut pressed => {
                    if self.may_make_room() {
                        return Cut::MakeRoom;
                    }
                }
            }
        }
    }
}

/// A request the application holds; its end makes the connection idle.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A socket that tells its connection's [`Activity`] when bytes move.
struct Watched {
    socket: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.socket).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.socket).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.bytes_written();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.socket).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.bytes_written();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}

/// Serves one connection until it closes, a timeout cuts it, or shutdown lets it finish.
/// `slot` is held for the connection's whole life.
pub(super) async fn serve(
    socket: TcpStream,
    app: Router,
    limits: Limits,
    pressure: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    metrics::gauge!("deskline_connections_open").increment(1.0);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        socket,
        activity: activity.clone(),
    });
    let in_app = activity.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let in_flight = in_app.request_started();
        let request =
            request.map(|body| Body::new(DeadlineBody::new(body, limits.body_read_timeout)));
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await;
            drop(in_flight);
            response
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // The watchdog times the head instead of hyper: hyper's own timer would also run while a
    // kept-alive connection waits, so idle and header timeouts could not differ.
    http.header_read_timeout(None)
        .max_buf_size(MAX_BUFFER_BYTES)
        .keep_alive(true);
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            cut = activity.expired(&limits, &pressure) => {
                tracing::debug!(reason = cut.label(), "connection cut");
                metrics::counter!("deskline_connections_cut_total", "reason" => cut.label())
                    .increment(1);
                break;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
    metrics::gauge!("deskline_connections_open").decrement(1.0);
    drop(slot);
}
