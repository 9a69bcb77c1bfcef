//! WebSocket connections that hold no buffer while idle.
//!
//! The handshake is answered by the web layer (`web::upgrade`), which then
//! hands the TCP stream over to here. actix-http would otherwise keep its
//! 8 KiB read and 8 KiB write buffers for the connection's whole life; an
//! idle socket here holds none: bytes are read through a buffer on the stack
//! and kept only while a frame is incomplete, and frames are written from a
//! buffer that is given back after each write. The frame codec is
//! actix-http's own (`actix_http::ws::Codec`, the one actix-ws uses).

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_codec::{Decoder, Encoder};
pub use actix_http::ws::{CloseCode, CloseReason, ProtocolError};
use actix_http::ws::{Codec, Frame, Item, Message};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_channel::mpsc;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Bytes written in one go at most when frames have piled up.
const BATCH: usize = 64 * 1024;
/// Read from the kernel this much at a time (on the stack).
const CHUNK: usize = 4096;

/// A whole message from the client (continuations joined).
#[derive(Debug)]
pub enum Incoming {
    Text(ByteString),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseReason>),
}

/// What a session sends.
pub enum Outbound {
    /// Text, shared by every socket it goes to (a `ByteString` clones by count).
    Text(ByteString),
    Ping,
    Pong(Bytes),
    Close(CloseReason),
}

/// An accepted WebSocket: its incoming messages, and the half that sends.
pub struct Wire {
    pub incoming: Frames,
    pub outgoing: Sink,
}

impl Wire {
    /// `early` holds bytes the client sent right after its handshake;
    /// `hold` lives as long as the connection (a per-address place).
    pub fn new(io: TcpStream, early: BytesMut, max_size: usize, hold: Box<dyn Any + Send>) -> Self {
        let (r, w) = io.into_split();
        // The HTTP layer's read buffer comes along (8 KiB, mostly empty):
        // kept only if the client's first frame is already in it.
        let early = if early.is_empty() {
            BytesMut::new()
        } else {
            BytesMut::from(&early[..])
        };
        Wire {
            incoming: Frames {
                half: r,
                buf: early,
                codec: Codec::new().max_size(max_size),
                max_size,
                partial: None,
                done: false,
            },
            outgoing: Sink {
                half: w,
                _hold: hold,
            },
        }
    }
}

/// The reading half, as a stream of messages.
pub struct Frames {
    half: OwnedReadHalf,
    buf: BytesMut,
    codec: Codec,
    max_size: usize,
    /// A message arriving in continuation frames: is it text, and so far.
    partial: Option<(bool, BytesMut)>,
    done: bool,
}

impl Frames {
    /// A frame decoded into a whole message, or `None` while a continued
    /// message is still incomplete.
    fn join(&mut self, frame: Frame) -> Option<Result<Incoming, ProtocolError>> {
        let whole = match frame {
            Frame::Text(b) => return Some(text(b)),
            Frame::Binary(b) => return Some(Ok(Incoming::Binary(b))),
            Frame::Ping(b) => return Some(Ok(Incoming::Ping(b))),
            Frame::Pong(b) => return Some(Ok(Incoming::Pong(b))),
            Frame::Close(r) => return Some(Ok(Incoming::Close(r))),
            Frame::Continuation(item) => item,
        };
        let (first, part, last) = match whole {
            Item::FirstText(b) => (Some(true), b, false),
            Item::FirstBinary(b) => (Some(false), b, false),
            Item::Continue(b) => (None, b, false),
            Item::Last(b) => (None, b, true),
        };
        match (first, self.partial.as_mut()) {
            (Some(is_text), None) => self.partial = Some((is_text, BytesMut::from(&part[..]))),
            (None, Some((_, so_far))) => so_far.extend_from_slice(&part),
            _ => return Some(Err(ProtocolError::ContinuationNotStarted)),
        }
        if self
            .partial
            .as_ref()
            .is_some_and(|(_, b)| b.len() > self.max_size)
        {
            return Some(Err(ProtocolError::Overflow));
        }
        if !last {
            return None;
        }
        let (is_text, b) = self.partial.take()?;
        Some(if is_text {
            text(b.freeze())
        } else {
            Ok(Incoming::Binary(b.freeze()))
        })
    }
}

fn text(b: Bytes) -> Result<Incoming, ProtocolError> {
    ByteString::try_from(b)
        .map(Incoming::Text)
        .map_err(|e| ProtocolError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

impl Stream for Frames {
    type Item = Result<Incoming, ProtocolError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if !this.buf.is_empty() {
                match this.codec.decode(&mut this.buf) {
                    Ok(Some(frame)) => {
                        if this.buf.is_empty() {
                            this.buf = BytesMut::new(); // an idle socket keeps nothing
                        }
                        match this.join(frame) {
                            Some(Err(e)) => {
                                this.done = true;
                                return Poll::Ready(Some(Err(e)));
                            }
                            Some(ok) => return Poll::Ready(Some(ok)),
                            None => continue,
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            let mut chunk = [0u8; CHUNK];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.half).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(ProtocolError::Io(e))));
                }
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(())) => this.buf.extend_from_slice(rb.filled()),
            }
        }
    }
}

/// The sending half, before its writer task starts.
pub struct Sink {
    half: OwnedWriteHalf,
    _hold: Box<dyn Any + Send>,
}

impl Sink {
    /// Starts the task that writes what is queued, at most `capacity` frames
    /// waiting; frames queued meanwhile go out in one write. (futures'
    /// channel allocates per frame queued, nothing while idle; tokio's
    /// would hold a block of 32 slots for every socket.)
    pub fn spawn(self, capacity: usize) -> mpsc::Sender<Outbound> {
        let (tx, rx) = mpsc::channel(capacity);
        actix_rt::spawn(self.run(rx));
        tx
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Outbound>) {
        let mut codec = Codec::new();
        while let Some(first) = rx.next().await {
            let mut buf = BytesMut::new();
            let mut closing = encode(&mut codec, first, &mut buf);
            while !closing && buf.len() < BATCH {
                match rx.try_recv() {
                    Ok(o) => closing = encode(&mut codec, o, &mut buf),
                    Err(_) => break,
                }
            }
            if self.half.write_all(&buf).await.is_err() {
                return;
            }
            if closing {
                let _ = self.half.shutdown().await;
                return;
            }
        }
        // The session is gone without a word: close politely.
        let mut buf = BytesMut::new();
        encode(
            &mut codec,
            Outbound::Close(CloseCode::Normal.into()),
            &mut buf,
        );
        let _ = self.half.write_all(&buf).await;
        let _ = self.half.shutdown().await;
    }
}

/// Appends one frame; true when it was the close frame (nothing follows it).
fn encode(codec: &mut Codec, o: Outbound, buf: &mut BytesMut) -> bool {
    let (msg, closing) = match o {
        Outbound::Text(t) => (Message::Text(t), false),
        Outbound::Ping => (Message::Ping(Bytes::new()), false),
        Outbound::Pong(b) => (Message::Pong(b), false),
        Outbound::Close(r) => (Message::Close(Some(r)), true),
    };
    // Encoding into memory cannot fail for these messages.
    let _ = codec.encode(msg, buf);
    closing
}
