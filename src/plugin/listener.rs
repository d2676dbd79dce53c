//! The plugin's listening socket and the connections it yields to tonic.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::handshake::Address;

/// Any byte stream a connection can be carried on (unix or tcp, with or without TLS).
pub trait Io: AsyncRead + AsyncWrite + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + 'static> Io for T {}

/// One accepted connection, whatever its transport, as tonic wants it.
pub struct Connection(Pin<Box<dyn Io>>);

impl Connection {
    pub fn new(io: impl Io) -> Self {
        Connection(Box::pin(io))
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.as_mut().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Connection {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// A private directory (mode 0700) holding the socket; removed when dropped.
pub struct PrivateDir(PathBuf);

/// How the socket directories of the provider process `pid` begin, in the temporary folder.
fn dir_name_prefix(pid: u32) -> String {
    format!("tf-truefoundry-{pid}-")
}

impl PrivateDir {
    fn create() -> io::Result<Self> {
        let base = std::env::temp_dir();
        // A few attempts in case a name is taken; the name is not a secret, the mode protects it.
        let mut last_error = None;
        for _ in 0..8 {
            let path = base.join(format!(
                "{}{:08x}",
                dir_name_prefix(std::process::id()),
                fastrand::u32(..)
            ));
            match create_private_dir(&path) {
                Ok(()) => return Ok(PrivateDir(path)),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no temporary directory")))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().mode(0o700).create(path)
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir(path)
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub enum Listener {
    #[cfg(unix)]
    Unix {
        listener: tokio::net::UnixListener,
        // Held so the directory lives exactly as long as the listener.
        _dir: PrivateDir,
    },
    Tcp(TcpListener),
}

impl Listener {
    /// A unix socket in a fresh private directory; tcp on 127.0.0.1 within `ports` when unix
    /// sockets are not available here.
    pub async fn bind(ports: RangeInclusive<u16>) -> io::Result<(Self, Address)> {
        #[cfg(unix)]
        match Self::bind_unix() {
            Ok(bound) => return Ok(bound),
            Err(error) => {
                tracing::debug!(error = %error, "unix socket unavailable, falling back to tcp")
            }
        }
        Self::bind_tcp(ports).await
    }

    #[cfg(unix)]
    fn bind_unix() -> io::Result<(Self, Address)> {
        let dir = PrivateDir::create()?;
        let path = dir.path().join("plugin.sock");
        let listener = tokio::net::UnixListener::bind(&path)?;
        Ok((
            Listener::Unix {
                listener,
                _dir: dir,
            },
            Address::Unix(path),
        ))
    }

    async fn bind_tcp(ports: RangeInclusive<u16>) -> io::Result<(Self, Address)> {
        let mut last_error = None;
        for port in ports {
            match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
                Ok(listener) => {
                    let address = listener.local_addr()?;
                    return Ok((Listener::Tcp(listener), Address::Tcp(address)));
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::AddrNotAvailable, "empty plugin port range")
        }))
    }

    pub async fn accept(&self) -> io::Result<Pin<Box<dyn Io>>> {
        match self {
            #[cfg(unix)]
            Listener::Unix { listener, .. } => {
                let (stream, _) = listener.accept().await?;
                Ok(Box::pin(stream))
            }
            Listener::Tcp(listener) => {
                let (stream, _): (TcpStream, _) = listener.accept().await?;
                // gRPC messages are small and latency matters more than batching.
                let _ = stream.set_nodelay(true);
                Ok(Box::pin(stream))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn unix_socket_lives_in_a_private_directory_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt as _;
        let (listener, address) = Listener::bind(10000..=25000).await.unwrap();
        let Address::Unix(path) = address else {
            panic!("expected a unix socket")
        };
        let dir = path.parent().unwrap().to_owned();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(path.exists());
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&dir_name_prefix(std::process::id())),
            "{name}"
        );
        drop(listener);
        assert!(!dir.exists());
    }

    #[tokio::test]
    async fn tcp_fallback_stays_on_loopback_within_the_range() {
        let (_listener, address) = Listener::bind_tcp(20000..=20999).await.unwrap();
        let Address::Tcp(addr) = address else {
            panic!("expected tcp")
        };
        assert!(addr.ip().is_loopback());
        assert!((20000..=20999).contains(&addr.port()));
    }
}
