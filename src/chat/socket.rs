//! What both session actors share: the queue to the socket's writer, the
//! heartbeat, the flood limit, and the sorting of incoming frames.

use std::cell::RefCell;
use std::time::Instant;

use bytestring::ByteString;
use futures_channel::mpsc;

use super::protocol::{code, to_text, ErrorBody, Shared};
use super::ratelimit::TokenBucket;
use super::SocketConfig;
use crate::ws::{CloseCode, CloseReason, Incoming, Outbound, ProtocolError};

/// Largest frame accepted; a bigger one closes the socket with 1009.
pub const MAX_FRAME: usize = 64 * 1024;
/// Frames waiting for a slow client before it is dropped: the bound on what
/// one client can make the server hold. A visitor receives little.
pub const VISITOR_OUTBOX: usize = 512;
/// An agent receives every message of its conversations and the desk's
/// list updates; a busy but healthy client falls behind in bursts, and must
/// not be dropped for it (a client that stopped reading altogether is let
/// go by the kernel, see `web::conn`). Slots cost nothing until used.
pub const AGENT_OUTBOX: usize = 8192;

pub struct Socket {
    /// The writer's queue (in a cell: queueing takes `&mut`, sessions send from `&self`).
    out: RefCell<mpsc::Sender<Outbound>>,
    capacity: usize,
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
    pub fn new(sink: crate::ws::Sink, cfg: &SocketConfig, outbox: usize) -> Self {
        Self {
            out: RefCell::new(sink.spawn(outbox)),
            capacity: outbox,
            last_heard: Instant::now(),
            bucket: TokenBucket::new(cfg.rate, cfg.burst),
        }
    }

    /// Queues a frame; false when the client cannot keep up (the caller drops it).
    pub fn send<T: serde::Serialize>(&self, frame: &T) -> bool {
        self.queue(Outbound::Text(to_text(frame).into()))
    }

    /// Queues a frame that other sockets may be sent too (encoded once).
    pub fn send_shared<T: serde::Serialize>(&self, frame: &Shared<T>) -> bool {
        self.queue(Outbound::Text(frame.text()))
    }

    /// Into the writer's queue, if it has room.
    fn push(&self, o: Outbound) -> Result<(), mpsc::TrySendError<Outbound>> {
        self.out.borrow_mut().try_send(o)
    }

    fn queue(&self, o: Outbound) -> bool {
        match self.push(o) {
            Ok(()) => true,
            Err(e) if e.is_full() => {
                tracing::warn!(
                    waiting = self.capacity,
                    "closing a socket whose client does not read its frames"
                );
                false
            }
            Err(_) => false,
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
        let _ = self.push(Outbound::Close(CloseReason {
            code,
            description: Some(why.to_owned()),
        }));
    }

    pub fn intake(&mut self, item: Result<Incoming, ProtocolError>) -> Intake {
        self.last_heard = Instant::now();
        match item {
            Ok(Incoming::Text(t)) => {
                if self.bucket.try_take() {
                    Intake::Text(t)
                } else {
                    Intake::Refused(ErrorBody::new(
                        code::RATE_LIMITED,
                        "too many frames; slow down",
                    ))
                }
            }
            Ok(Incoming::Binary(_)) => Intake::Refused(ErrorBody::new(
                code::BINARY_UNSUPPORTED,
                "send JSON text frames",
            )),
            Ok(Incoming::Ping(b)) => {
                let _ = self.push(Outbound::Pong(b));
                Intake::Ignore
            }
            Ok(Incoming::Pong(_)) => Intake::Ignore,
            Ok(Incoming::Close(reason)) => {
                // Answered with the client's own code (none would read as 1005).
                let r = reason.unwrap_or_else(|| CloseCode::Normal.into());
                let _ = self.push(Outbound::Close(CloseReason::from(r.code)));
                Intake::Stop
            }
            Err(ProtocolError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                self.close(CloseCode::Invalid, "text is not UTF-8");
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
