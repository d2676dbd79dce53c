//! Fault injection on the API routes, and the listener that lets a handler drop its connection.
//!
//! Dropping: a handler cannot make hyper close a connection without answering, so every accepted
//! socket is wrapped in a `DroppableStream` sharing a kill switch with the connection's
//! `ConnectInfo`. The fault sets the switch; hyper's next write of the answer fails, hyper gives
//! up the connection and the client sees it closed with no response (a transport error).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::AppState;
use super::error::ApiError;
use super::request_log::LogSlot;

#[derive(Clone, Copy)]
enum Fault {
    Drop,
    TooManyRequests,
    Unavailable,
}

impl Fault {
    /// How the request log names it.
    fn label(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::TooManyRequests => "429",
            Fault::Unavailable => "503",
        }
    }
}

/// Middleware on the API routes: adds latency, then draws one number from the seeded generator
/// and maps it onto [drop | 429 | 503 | pass] in proportion to the configured rates.
pub(crate) async fn inject(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let faults = &state.shared.faults;
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let any_rate = faults.rate_drop + faults.rate_429 + faults.rate_503 > 0.0;
    if !any_rate {
        return next.run(request).await;
    }
    let draw = state
        .shared
        .fault_rng
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .f64();
    let fault = if draw < faults.rate_drop {
        Fault::Drop
    } else if draw < faults.rate_drop + faults.rate_429 {
        Fault::TooManyRequests
    } else if draw < faults.rate_drop + faults.rate_429 + faults.rate_503 {
        Fault::Unavailable
    } else {
        return next.run(request).await;
    };
    let slot = request
        .extensions()
        .get::<LogSlot>()
        .cloned()
        .unwrap_or_default();
    slot.update(|fields| fields.fault = Some(fault.label()));
    match fault {
        Fault::Drop => match request.extensions().get::<ConnectInfo<Connection>>() {
            Some(ConnectInfo(connection)) => {
                connection.drop_connection();
                slot.update(|fields| fields.dropped = true);
                // Never written: the stream refuses every write from now on.
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
            // Served without a socket (`oneshot` tests): nothing to drop, answer a gateway error.
            None => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "injected fault: connection dropped",
            )
            .into_response(),
        },
        Fault::TooManyRequests => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "injected fault: rate limited",
            )
            .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(faults.retry_after_secs));
            response
        }
        Fault::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected fault: service unavailable",
        )
        .into_response(),
    }
}

/// Connection info handed to handlers: the connection's kill switch.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    killed: Arc<AtomicBool>,
}

impl Connection {
    fn drop_connection(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, DroppableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, DroppableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

pub(crate) struct DroppableListener(pub TcpListener);

impl Listener for DroppableListener {
    type Io = DroppableStream;
    type Addr = Connection;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _peer)) => {
                    let killed = Arc::new(AtomicBool::new(false));
                    let connection = Connection {
                        killed: killed.clone(),
                    };
                    return (DroppableStream { stream, killed }, connection);
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Not an address (axum only asks for it on request); the listener's own socket is checked.
    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()?;
        Ok(Connection {
            killed: Arc::default(),
        })
    }
}

/// A TCP stream that fails every read and write once its connection was dropped.
pub(crate) struct DroppableStream {
    stream: TcpStream,
    killed: Arc<AtomicBool>,
}

impl DroppableStream {
    fn check(&self) -> io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by fault injection",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for DroppableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for DroppableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
