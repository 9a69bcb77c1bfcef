//! Accepted TCP connections: socket options, and a cap per peer address.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::error::DispatchError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::proxy::ProxyPolicy;
use crate::chat::limits::{Place, Places};

/// A connection, holding its address's place for as long as it is open
/// (after an upgrade too: the place moves with the stream).
pub struct Conn {
    pub io: TcpStream,
    pub place: Option<Place>,
}

/// What every accepted connection is checked against.
#[derive(Clone)]
pub struct Admission {
    pub places: Arc<Places>,
    pub proxy: ProxyPolicy,
    /// Unacknowledged data this old drops the connection (see `admit`).
    pub stuck_after: Duration,
}

const OVER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 39\r\nConnection: close\r\n\r\n\
too many connections from your address\n";

impl Admission {
    /// Takes a place for the peer, or answers 503 and closes. Proxies are
    /// not counted: every client behind them shares their address.
    pub fn admit(&self, io: TcpStream) -> Result<(Conn, Option<SocketAddr>), DispatchError> {
        let peer = io.peer_addr().ok();
        let place = match peer.map(|p| p.ip()) {
            Some(ip) if !self.proxy.is_proxy(ip) => match self.places.take(ip) {
                Some(place) => Some(place),
                None => {
                    tracing::warn!(%ip, "connection refused: address over its limit");
                    actix_rt::spawn(refuse(io));
                    return Err(DispatchError::Io(io::Error::other(
                        "over the per-address limit",
                    )));
                }
            },
            _ => None,
        };
        tune(&io, self.stuck_after);
        Ok((Conn { io, place }, peer))
    }
}

/// Answers 503 and closes, reading what the client sent meanwhile (for a
/// second at most): closing with unread bytes would reset the connection,
/// and the client could lose the answer.
async fn refuse(mut io: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = io.write_all(OVER).await;
    let _ = io.shutdown().await;
    let mut sink = [0u8; 1024];
    let drain = async { while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// Frames are small and pushed by the server: without `TCP_NODELAY`, Nagle's
/// algorithm holds one back until the client acknowledges the last, up to
/// its delayed-ACK timer (~40 ms). And data the peer has not acknowledged
/// for `after` (it stopped reading, or vanished) makes the kernel drop the
/// connection: a write to it would otherwise wait forever, holding the
/// socket and its send queue.
fn tune(io: &TcpStream, after: Duration) {
    if let Err(e) = io.set_nodelay(true) {
        tracing::warn!(error = %e, "could not set TCP_NODELAY");
    }
    if let Err(e) = socket2::SockRef::from(io).set_tcp_user_timeout(Some(after)) {
        tracing::warn!(error = %e, "could not set TCP_USER_TIMEOUT");
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
