//! The event loop on the `monitor-http` thread: accepts, reads, answers,
//! fans the feed out to `/events` streams, cuts off what overstays, and
//! stops when the guard drops.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use super::conn::{Conn, Next, State};
use super::request::{self, Method, Parse};
use super::response::Response;
use super::routes::{self, Reply, Sources};
use super::{events, Prepared, MAX_CONNECTIONS, MAX_STREAMS};
use crate::collector::Feed;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// How often an idle `/events` stream gets a keep-alive comment.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

thread_local! {
    static ON_SERVER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True on the `monitor-http` thread: one of the monitor's own threads,
/// where nothing is recorded.
pub(crate) fn on_server_thread() -> bool {
    ON_SERVER.with(|flag| flag.get())
}

/// The running server; dropping it stops and joins the thread.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts the `monitor-http` thread on the bound listener.
    pub(crate) fn start(prepared: Prepared, sources: Sources) -> io::Result<Server> {
        let addr = prepared.listener.local_addr()?;
        prepared.listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(prepared.listener);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let feed_waker = Arc::clone(&waker);
        prepared.feed.set_waker(Box::new(move || {
            let _ = feed_waker.wake();
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let mut event_loop = EventLoop {
            poll,
            listener,
            conns: Vec::new(),
            free: Vec::new(),
            open: 0,
            streams: 0,
            sources,
            feed: prepared.feed,
            token: prepared.token,
            request_timeout: prepared.request_timeout,
            stop: Arc::clone(&stop),
            next_keep_alive: Instant::now() + KEEP_ALIVE_INTERVAL,
        };
        let thread = std::thread::Builder::new()
            .name("monitor-http".to_owned())
            .spawn(move || {
                ON_SERVER.with(|flag| flag.set(true));
                event_loop.run()
            })?;
        Ok(Server {
            addr,
            stop,
            waker,
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    /// Connections by token; `None` slots are listed in `free`.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    open: usize,
    streams: usize,
    sources: Sources,
    feed: Arc<Feed>,
    token: Option<String>,
    request_timeout: Duration,
    stop: Arc<AtomicBool>,
    next_keep_alive: Instant,
}

impl EventLoop {
    fn run(&mut self) {
        let mut events = Events::with_capacity(256);
        while !self.stop.load(Ordering::Acquire) {
            let timeout = self
                .next_deadline()
                .map(|at| at.saturating_duration_since(Instant::now()));
            if let Err(error) = self.poll.poll(&mut events, timeout) {
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("monitor: the HTTP server stopped: {error}");
                break;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(index) => {
                        let writable = event.is_writable();
                        let outcome =
                            catch_unwind(AssertUnwindSafe(|| self.ready(index, writable)));
                        if !matches!(outcome, Ok(Next::Keep)) {
                            self.close(index);
                        }
                    }
                }
            }
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            self.fan_out();
            self.expire();
        }
        self.feed.set_listeners(0);
    }

    /// The nearest deadline, or the next keep-alive while streams are open.
    fn next_deadline(&self) -> Option<Instant> {
        let keep_alive = (self.streams > 0).then_some(self.next_keep_alive);
        self.conns
            .iter()
            .flatten()
            .filter_map(|conn| conn.deadline)
            .chain(keep_alive)
            .min()
    }

    fn accept(&mut self) {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return, // WouldBlock, or out of descriptors: try at the next event
            };
            if self.open >= MAX_CONNECTIONS {
                let busy = Response::error(503, "too many connections; try again")
                    .header("Retry-After", "1")
                    .into_bytes(false);
                let _ = stream.write(&busy);
                continue;
            }
            let index = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            if self
                .poll
                .registry()
                .register(
                    &mut stream,
                    Token(index),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                self.free.push(index);
                continue;
            }
            self.conns[index] = Some(Conn::new(stream, Instant::now() + self.request_timeout));
            self.open += 1;
            // Edge-triggered: read what may have arrived already.
            if !matches!(
                catch_unwind(AssertUnwindSafe(|| self.ready(index, true))),
                Ok(Next::Keep)
            ) {
                self.close(index);
            }
        }
    }

    fn ready(&mut self, index: usize, writable: bool) -> Next {
        let request_timeout = self.request_timeout;
        let Some(conn) = self.conns.get_mut(index).and_then(Option::as_mut) else {
            return Next::Keep; // an event for a connection closed earlier in this batch
        };
        if conn.state != State::Reading {
            return conn.ready(writable);
        }
        let closed = match conn.fill() {
            Ok(closed) => closed,
            Err(_) => return Next::Close,
        };
        let deadline = Instant::now() + request_timeout;
        match request::parse(&conn.input) {
            Parse::Partial if closed => Next::Close,
            Parse::Partial => Next::Keep,
            Parse::Refused(status, reason) => {
                conn.respond(Response::error(status, reason).into_bytes(false), deadline)
            }
            Parse::Complete(request) => {
                let reply = catch_unwind(AssertUnwindSafe(|| {
                    routes::route(&request, &self.sources, self.token.as_deref())
                }))
                .unwrap_or_else(|_| {
                    Reply::Whole(Response::error(500, "the monitor's HTTP handler failed"))
                });
                let head_only = request.method == Method::Head;
                let conn = match self.conns.get_mut(index).and_then(Option::as_mut) {
                    Some(conn) => conn,
                    None => return Next::Close,
                };
                match reply {
                    Reply::Whole(response) => {
                        conn.respond(response.into_bytes(head_only), deadline)
                    }
                    Reply::Events if head_only => conn.respond(
                        Response::new(200, events::CONTENT_TYPE, "").into_bytes(true),
                        deadline,
                    ),
                    Reply::Events if self.streams >= MAX_STREAMS => conn.respond(
                        Response::error(503, "too many /events streams; try again later")
                            .into_bytes(false),
                        deadline,
                    ),
                    Reply::Events => {
                        self.streams += 1;
                        self.feed.set_listeners(self.streams);
                        conn.stream(events::stream_head())
                    }
                }
            }
        }
    }

    fn close(&mut self, index: usize) {
        if let Some(mut conn) = self.conns.get_mut(index).and_then(Option::take) {
            if conn.state == State::Streaming {
                self.streams -= 1;
                self.feed.set_listeners(self.streams);
            }
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.open -= 1;
            self.free.push(index);
        }
    }

    /// Hands what the feed holds to every stream (or drops it when none).
    fn fan_out(&mut self) {
        let frames: Vec<Vec<u8>> = self
            .feed
            .receiver()
            .try_iter()
            .map(|event| events::frame(&event))
            .collect();
        let keep_alive = self.streams > 0 && Instant::now() >= self.next_keep_alive;
        if keep_alive {
            self.next_keep_alive = Instant::now() + KEEP_ALIVE_INTERVAL;
        }
        if self.streams == 0 || (frames.is_empty() && !keep_alive) {
            return;
        }
        let mut dropped = Vec::new();
        for (index, slot) in self.conns.iter_mut().enumerate() {
            let Some(conn) = slot.as_mut().filter(|conn| conn.state == State::Streaming) else {
                continue;
            };
            let mut next = Next::Keep;
            for frame in frames
                .iter()
                .map(Vec::as_slice)
                .chain(keep_alive.then_some(events::KEEP_ALIVE))
            {
                next = conn.push_frame(frame);
                if next == Next::Close {
                    break;
                }
            }
            if next == Next::Keep {
                next = conn.flush();
            }
            if next == Next::Close {
                dropped.push(index);
            }
        }
        for index in dropped {
            self.close(index);
        }
    }

    /// Cuts off what overstayed: a request not read in time gets 408, the
    /// rest are closed.
    fn expire(&mut self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        for (index, slot) in self.conns.iter_mut().enumerate() {
            let Some(conn) = slot.as_mut() else { continue };
            if conn.deadline.is_some_and(|deadline| deadline <= now) {
                let next = if conn.state == State::Reading {
                    let answer = Response::error(408, "the request took too long to arrive")
                        .into_bytes(false);
                    conn.respond(answer, now + Duration::from_secs(2))
                } else {
                    Next::Close
                };
                if next == Next::Close {
                    expired.push(index);
                }
            }
        }
        for index in expired {
            self.close(index);
        }
    }
}
