//! What both session actors share: the writer task that owns the WebSocket's
//! sending half, the heartbeat, the flood limit, and the sorting of incoming frames.

use std::time::Instant;

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::mpsc;

use super::protocol::{code, to_text, ErrorBody};
use super::ratelimit::TokenBucket;
use super::SocketConfig;

/// Largest frame accepted; a bigger one closes the socket with 1009.
pub const MAX_FRAME: usize = 64 * 1024;
/// Frames waiting for a slow client before it is dropped (protects everyone else).
const OUTBOX: usize = 512;

pub enum Outbound {
    Text(String),
    Ping,
    Pong(Bytes),
    Close(CloseReason),
}

pub struct Socket {
    out: mpsc::Sender<Outbound>,
    last_heard: Instant,
    bucket: TokenBucket,
}

/// An incoming frame, sorted.
pub enum Intake {
    Text(ByteString),
    /// Refused, with the `error` to send back; the socket stays open.
    Refused(ErrorBody),
    Ignore,
    Stop,
}

impl Socket {
    pub fn new(mut ws: actix_ws::Session, cfg: &SocketConfig) -> Self {
        let (tx, mut rx) = mpsc::channel::<Outbound>(OUTBOX);
        actix_rt::spawn(async move {
            while let Some(o) = rx.recv().await {
                let sent = match o {
                    Outbound::Text(t) => ws.text(t).await,
                    Outbound::Ping => ws.ping(b"").await,
                    Outbound::Pong(b) => ws.pong(&b).await,
                    Outbound::Close(r) => return close(ws, r).await,
                };
                if sent.is_err() {
                    return;
                }
            }
            // The actor is gone: close politely.
            close(ws, CloseReason::from(CloseCode::Normal)).await;
        });
        Self {
            out: tx,
            last_heard: Instant::now(),
            bucket: TokenBucket::new(cfg.rate, cfg.burst),
        }
    }

    /// Queues a frame; false when the client cannot keep up (the caller drops it).
    pub fn send<T: serde::Serialize>(&self, frame: &T) -> bool {
        self.queue(Outbound::Text(to_text(frame)))
    }

    fn queue(&self, o: Outbound) -> bool {
        match self.out.try_send(o) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    waiting = OUTBOX,
                    "closing a socket whose client does not read its frames"
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Every ping interval: `Err(why)` when the socket is to be closed (the
    /// client was silent too long, or does not read).
    pub fn heartbeat(&self, timeout: std::time::Duration) -> Result<(), &'static str> {
        if self.last_heard.elapsed() > timeout {
            tracing::info!(?timeout, "closing a socket whose client went silent");
            return Err("silent");
        }
        if !self.queue(Outbound::Ping) {
            return Err("not reading");
        }
        Ok(())
    }

    pub fn close(&self, code: CloseCode, why: &str) {
        let _ = self.out.try_send(Outbound::Close(CloseReason {
            code,
            description: Some(why.to_owned()),
        }));
    }

    pub fn intake(&mut self, item: Result<AggregatedMessage, ProtocolError>) -> Intake {
        self.last_heard = Instant::now();
        match item {
            Ok(AggregatedMessage::Text(t)) => {
                if self.bucket.try_take() {
                    Intake::Text(t)
                } else {
                    Intake::Refused(ErrorBody::new(
                        code::RATE_LIMITED,
                        "too many frames; slow down",
                    ))
                }
            }
            Ok(AggregatedMessage::Binary(_)) => Intake::Refused(ErrorBody::new(
                code::BINARY_UNSUPPORTED,
                "send JSON text frames",
            )),
            Ok(AggregatedMessage::Ping(b)) => {
                let _ = self.out.try_send(Outbound::Pong(b));
                Intake::Ignore
            }
            Ok(AggregatedMessage::Pong(_)) => Intake::Ignore,
            Ok(AggregatedMessage::Close(reason)) => {
                // Answered with the client's own code (none would read as 1005).
                let r = reason.unwrap_or_else(|| CloseCode::Normal.into());
                let _ = self
                    .out
                    .try_send(Outbound::Close(CloseReason::from(r.code)));
                Intake::Stop
            }
            Err(ProtocolError::Overflow) => {
                self.close(CloseCode::Size, "frame too large");
                Intake::Stop
            }
            Err(e) => {
                tracing::debug!(error = %e, "websocket protocol error");
                self.close(CloseCode::Protocol, "protocol error");
                Intake::Stop
            }
        }
    }
}

/// Sends the close frame, but never waits long on a client that does not
/// read: the connection is dropped either way (and by the kernel, see
/// `startup::give_up_on_stuck_peers`, if its buffers are full).
async fn close(ws: actix_ws::Session, r: CloseReason) {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), ws.close(Some(r))).await;
}
