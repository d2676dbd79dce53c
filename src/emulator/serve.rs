//! The emulator's accept loop. axum's own `serve` has no deadline for a request's headers and no
//! cap on connections, so 300 clients each trickling a header line kept the emulator from
//! answering anyone. Users run the emulator as shared CI infrastructure: here every connection
//! has `header_timeout` to send each request's headers (from the moment it connects or finishes
//! the previous request, so an idle keep-alive connection is closed too), and at most
//! `max_connections` are open at once. Above the cap, new connections wait in the kernel's queue
//! until one closes, which the header deadline bounds: a slow client holds a slot for at most
//! `header_timeout`, so it can delay others by that much but never starve them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use super::faults::Connection;

/// How long a connection has to send a request's headers.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How many connections are served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// The limits that keep one client from holding up the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ServeLimits {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.header_timeout.is_zero(),
            "the header timeout must be longer than zero"
        );
        anyhow::ensure!(
            (1..=u32::MAX as usize).contains(&self.max_connections),
            "the connection limit must be at least 1"
        );
        Ok(())
    }
}

/// Serves `app` on `listener` until `stop` completes, then lets the open connections finish
/// their requests and returns once all are closed.
pub(crate) async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: ServeLimits,
    stop: impl Future<Output = ()>,
) where
    L: Listener<Addr = Connection>,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closing_seen) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        // A slot first, then the connection: above the cap, clients wait in the accept queue.
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (io, connection) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let app = app.clone();
        let mut closing = closing_seen.clone();
        tokio::spawn(async move {
            let service = service_fn(move |mut request: hyper::Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo(connection.clone()));
                app.clone().oneshot(request)
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let served = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(served);
            let shutting_down = async move {
                // A closed channel also means shutdown: the loop is gone.
                let _ = closing.wait_for(|closing| *closing).await;
            };
            tokio::select! {
                _ = served.as_mut() => {}
                () = shutting_down => {
                    served.as_mut().graceful_shutdown();
                    let _ = served.await;
                }
            }
            drop(slot);
        });
    }
    closing.send_replace(true);
    // Every connection holds a slot until it ends: all slots free means all connections done.
    let _ = slots.acquire_many(limits.max_connections as u32).await;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;
    use crate::emulator::{EmulatorConfig, EmulatorOptions, spawn};

    fn options(header_timeout: Duration, max_connections: usize) -> EmulatorOptions {
        let mut options = EmulatorOptions::new(EmulatorConfig::demo("k"));
        options.limits = ServeLimits {
            header_timeout,
            max_connections,
        };
        options
    }

    /// Sends a request's first line, then one header line every 200 ms, never finishing; returns
    /// how long the server kept the connection and whether it ever answered.
    async fn slow_client(addr: std::net::SocketAddr) -> (Duration, bool) {
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\n").await;
        let mut buffer = [0u8; 256];
        loop {
            tokio::select! {
                read = stream.read(&mut buffer) => {
                    let answered = matches!(read, Ok(n) if n > 0 && buffer.starts_with(b"HTTP/1.1 200"));
                    return (started.elapsed(), answered);
                }
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        return (started.elapsed(), false);
                    }
                }
            }
        }
    }

    async fn health(addr: std::net::SocketAddr) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_clients_beyond_the_cap_delay_others_by_the_header_deadline_only() {
        let deadline = Duration::from_secs(1);
        let emulator = spawn(options(deadline, 8)).await.unwrap();
        let addr = emulator.addr;
        // Three times the cap in clients that never finish their headers.
        let slow: Vec<_> = (0..24).map(|_| tokio::spawn(slow_client(addr))).collect();
        tokio::time::sleep(Duration::from_millis(300)).await;

        // A well-behaved client is answered even though every slot was taken by a slow one.
        let answer = tokio::time::timeout(Duration::from_secs(20), health(addr))
            .await
            .expect("a fresh client was starved");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

        for client in slow {
            let (held, answered) = tokio::time::timeout(Duration::from_secs(30), client)
                .await
                .expect("a slow client was never cut off")
                .unwrap();
            assert!(!answered, "headers never finished, yet an answer came");
            assert!(
                held >= deadline,
                "cut off after {held:?}, before the deadline"
            );
        }
        emulator.shutdown().await;
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_after_the_header_deadline() {
        let emulator = spawn(options(Duration::from_millis(500), 4)).await.unwrap();
        let mut stream = TcpStream::connect(emulator.addr).await.unwrap();
        let started = Instant::now();
        let mut buffer = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buffer))
            .await
            .expect("the idle connection stayed open");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert!(started.elapsed() >= Duration::from_millis(500));

        // A keep-alive connection gets the same deadline for its next request.
        let mut stream = TcpStream::connect(emulator.addr).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
            .await
            .expect("the kept-alive connection stayed open");
        assert!(closed.is_ok());
        assert!(answer.starts_with(b"HTTP/1.1 200"));
        emulator.shutdown().await;
    }

    #[test]
    fn limits_must_leave_room_to_serve() {
        assert!(ServeLimits::default().validate().is_ok());
        for limits in [
            ServeLimits {
                header_timeout: Duration::ZERO,
                ..ServeLimits::default()
            },
            ServeLimits {
                max_connections: 0,
                ..ServeLimits::default()
            },
        ] {
            assert!(limits.validate().is_err(), "{limits:?}");
        }
    }
}
