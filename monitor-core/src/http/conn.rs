//! One connection: reading the request, writing the answer, streaming
//! `/events`, and the lingering close that lets the client read an early
//! answer (413, 431…) before the socket goes away.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use super::{MAX_BODY_BYTES, MAX_HEADER_BYTES};

/// Most of a request kept in memory: a head and a body at their limits.
const INPUT_CAP: usize = MAX_HEADER_BYTES + MAX_BODY_BYTES;
/// Bytes an `/events` reader may fall behind before it is dropped.
pub(crate) const MAX_STREAM_BACKLOG: usize = 1 << 20;
/// How long, and how much, a closing connection is drained.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 32 << 20;

/// Where a connection is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Reading the request.
    Reading,
    /// Writing a whole answer; then lingering.
    Responding,
    /// An `/events` stream: frames are appended as they come.
    Streaming,
    /// Answer sent and our side shut: reading what the client still sends
    /// until it closes, so that it is not reset before it reads the answer.
    Lingering { drained: usize },
}

/// What the server does with a connection after an event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Keep,
    Close,
}

pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) state: State,
    pub(crate) input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    /// When the connection is cut off (none while streaming).
    pub(crate) deadline: Option<Instant>,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, deadline: Instant) -> Self {
        Conn {
            stream,
            state: State::Reading,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            deadline: Some(deadline),
        }
    }

    /// Reads what is there into the request buffer (up to its cap).
    /// Returns true when the client closed its side.
    pub(crate) fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        while self.input.len() < INPUT_CAP {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(true),
                Ok(read) => self.input.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(false)
    }

    /// Reads and throws away what is there; true when the client closed or
    /// sent more than a lingering connection drains.
    fn discard(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(read) => {
                    if let State::Lingering { drained } = &mut self.state {
                        *drained += read;
                        if *drained > LINGER_BYTES {
                            return true;
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return false,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }

    /// Starts writing a whole answer, cut off at `deadline`.
    pub(crate) fn respond(&mut self, bytes: Vec<u8>, deadline: Instant) -> Next {
        self.input = Vec::new();
        self.output = bytes;
        self.written = 0;
        self.state = State::Responding;
        self.deadline = Some(deadline);
        self.flush()
    }

    /// Starts an `/events` stream with its head.
    pub(crate) fn stream(&mut self, head: Vec<u8>) -> Next {
        self.input = Vec::new();
        self.output = head;
        self.written = 0;
        self.state = State::Streaming;
        self.deadline = None;
        self.flush()
    }

    /// Appends a frame to a stream; drops a reader that fell too far behind.
    pub(crate) fn push_frame(&mut self, frame: &[u8]) -> Next {
        if self.output.len() - self.written + frame.len() > MAX_STREAM_BACKLOG {
            return Next::Close;
        }
        self.output.extend_from_slice(frame);
        Next::Keep
    }

    /// Writes what is pending, as far as the socket takes it.
    pub(crate) fn flush(&mut self) -> Next {
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Next::Close,
                Ok(written) => self.written += written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
            if self.state == State::Responding {
                let _ = self.stream.shutdown(Shutdown::Write);
                self.state = State::Lingering { drained: 0 };
                self.deadline = Some(Instant::now() + LINGER_TIME);
                if self.discard() {
                    return Next::Close;
                }
            }
        } else if self.written > 64 * 1024 {
            self.output.drain(..self.written);
            self.written = 0;
        }
        Next::Keep
    }

    /// The socket is readable or writable.
    pub(crate) fn ready(&mut self, writable: bool) -> Next {
        match self.state {
            State::Reading => Next::Keep, // the server parses
            State::Responding | State::Streaming => {
                if writable && self.flush() == Next::Close {
                    return Next::Close;
                }
                if self.state == State::Streaming && self.discard() {
                    return Next::Close;
                }
                Next::Keep
            }
            State::Lingering { .. } => {
                if self.discard() {
                    Next::Close
                } else {
                    Next::Keep
                }
            }
        }
    }
}
