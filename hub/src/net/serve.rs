//! The accept loop: every connection is served by hyper's HTTP/1 with a deadline for each request head,
//! counted among the [idle connections](super::idle) while it waits for one, and shut down gracefully.
//!
//! `axum::serve` offers none of hyper's timeouts, so the hub runs its own loop, as axum's
//! `serve-with-hyper` example does. hyper's `header_read_timeout` starts whenever a connection is ready
//! for a request head: on accept, and again at the end of each response on a kept-alive connection.
//! So one deadline closes silent connections, half-sent heads and idle keep-alive connections alike,
//! and never a request being handled: a long-polling GET waits for its response, not for a head, and a
//! websocket has left HTTP (Engine.IO's heartbeat watches it from then on). HTTP/1.1 only, as Node's
//! `http` server: Socket.IO clients do not speak HTTP/2 without TLS, which a proxy in front would end.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use tower::ServiceExt;

use super::idle::{Busy, Connection, IdleConnections};
use super::listener::{Peer, TunedListener, TunedStream};
use crate::telemetry::log_throttle::LogThrottle;

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long a connection may take to send a complete request head, from its opening or from the end
    /// of its previous response.
    pub head_timeout: Duration,
    /// Most connections waiting for a request at once.
    pub max_idle: usize,
}

/// After an accept error other than a connection's own, when no waiting connection could be closed to
/// free a descriptor, the pause before accepting again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` completes, then lets every connection finish the
/// request it is handling, closes the waiting ones, and returns once all are closed.
pub async fn serve(
    listener: TunedListener,
    router: Router,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) {
    let idle = IdleConnections::new(settings.max_idle);
    let (stop_tx, stop_rx) = watch::channel(());
    // Each connection task holds a receiver; all are gone when `closed()` completes.
    let (open_tx, open_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(&e, &idle).await;
                continue;
            }
        };
        let (connection, evicted) = idle.open();
        if evicted > 0 {
            evicting(settings.max_idle);
        }
        let (router, stop, open) = (router.clone(), stop_rx.clone(), open_rx.clone());
        tokio::spawn(async move {
            serve_connection(stream, Peer(addr), router, connection, settings.head_timeout, stop).await;
            drop(open);
        });
    }
    drop(listener);
    drop((stop_rx, open_rx));
    let _ = stop_tx.send(());
    open_tx.closed().await;
}

/// Serves one connection until it closes, is told to make room, or the hub stops.
async fn serve_connection(
    stream: TunedStream,
    peer: Peer,
    router: Router,
    connection: Arc<Connection>,
    head_timeout: Duration,
    mut stop: watch::Receiver<()>,
) {
    let service = {
        let connection = Arc::clone(&connection);
        service_fn(move |request: Request<Incoming>| {
            let busy = connection.busy();
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = router.clone().oneshot(request);
            async move {
                let response = response.await?;
                Ok::<_, Infallible>(response.map(|body| Body::new(Responding { body, _busy: busy })))
            }
        })
    };
    let http = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(http);
    tokio::select! {
        served = http.as_mut() => {
            if let Err(e) = served {
                tracing::debug!(peer = %peer.0, "connection closed: {e}");
            }
            return;
        }
        () = connection.closing() => return,
        _ = stop.changed() => {
            if connection.is_waiting() {
                return;
            }
            http.as_mut().graceful_shutdown();
        }
    }
    let _ = http.await;
}

/// A response body that keeps its connection busy until it has been written (and dropped).
struct Responding {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Responding {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Logs (at most once a minute) that the idle cap closes connections.
fn evicting(max_idle: usize) {
    static EVICTING: LogThrottle = LogThrottle::new(Duration::from_secs(60));
    if let Some(held_back) = EVICTING.due(Instant::now()) {
        tracing::warn!(
            held_back,
            "more than {max_idle} connections wait for a request: closing the longest waiting \
             (--max-idle-connections)"
        );
    }
}

/// An accept error: a connection's own (reset before it was accepted) is nothing; anything else, such
/// as the open-files limit, is logged (at most once a minute), and the longest waiting connection is
/// closed to free its descriptor before the next try.
async fn accept_failed(e: &io::Error, idle: &IdleConnections) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    static ACCEPT: LogThrottle = LogThrottle::new(Duration::from_secs(60));
    if let Some(held_back) = ACCEPT.due(Instant::now()) {
        tracing::error!(
            held_back,
            waiting = idle.waiting(),
            "accept error: {e} (raise the open files limit or lower --max-idle-connections)"
        );
    }
    // Its task drops the connection at its next turn: a moment is enough.
    let pause = if idle.close_oldest() { Duration::from_millis(1) } else { ACCEPT_PAUSE };
    tokio::time::sleep(pause).await;
}
