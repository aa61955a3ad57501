//! The collector thread: drains every ring, counts, writes, evaluates alerts.
//!
//! It owns all mutable monitoring state, so nothing on a caller's side locks.
//! Each loop iteration runs under `catch_unwind`: if anything in it panics
//! (a bug of ours, a sink), the supervisor counts a restart and the loop goes
//! on with its state and with every event still queued in the rings.

// Read by the HTTP server only (feature `http`).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
mod feed;
mod id_clock;
mod json;
mod logs;
mod persistence;
mod rollups;
mod status_file;
mod unix_time;

pub(crate) use status_file::hostname;

pub(crate) use feed::FeedTap;
#[cfg(feature = "http")]
pub(crate) use feed::{ExecutionNote, Feed, FeedEvent, FeedNotifier};
pub(crate) use id_clock::IdClock;
pub(crate) use logs::{LogFiles, LogsConfig};
pub(crate) use persistence::Persistence;
pub(crate) use rollups::{minute_of, Unsaved};
use unix_time::UnixTime;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use parking_lot::Mutex;

use crate::alerts::engine::StuckNow;
use crate::alerts::{Alerting, ComponentHealth, ExecutionFacts, HealthInputs};
use crate::callsite::{self, Callsite};
use crate::capture::{self, Failure};
use crate::clock::Clock;
use crate::event::{Details, Event, Extra};
use crate::execution_record::ExecutionRecord;
use crate::queue::{QueueShared, Ring, ORPHAN_DROPS};
use crate::resources::{MinuteRollup, ResourceHistory, ResourceSampler};
use crate::running::{RunningExecution, Sampler as RunningSampler};
use crate::sink::Sink;
use crate::stats::{Durations, FunctionRecord, Published, StatsSnapshot};
use crate::ticks;

/// Requests to the collector.
pub(crate) enum Control {
    /// Drain everything queued, write, evaluate, then answer.
    Flush(Sender<()>),
    /// Answer with a snapshot of the statistics.
    Snapshot(Sender<StatsSnapshot>),
    /// Answer with the roll-ups not saved yet (a copy of a few rows).
    Rollups(Sender<Arc<Unsaved>>),
    /// Answer with the executions running now.
    Running(Sender<Arc<RunningNow>>),
    /// Drain, write, fsync, then answer and stop.
    Shutdown(Sender<()>),
    /// Acknowledge an open alert episode.
    Acknowledge(
        u64,
        crate::Acknowledgement,
        Sender<Result<(), crate::AlertsError>>,
    ),
    /// New alert rules (checked already): global, or one function's
    /// (`Some(name)`); answered once in place, before the next evaluation.
    SetAlertRules(crate::AlertRules, Option<String>, Sender<()>),
    /// Test hook: panic inside the loop, to exercise the supervisor.
    #[cfg(feature = "test-util")]
    Crash(CrashPoint),
}

/// Where the test hook (`Control::Crash`, feature `test-util`) makes the
/// collector panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "test-util"), allow(dead_code))]
pub(crate) enum CrashPoint {
    /// At the start of the next pass over a ring, before anything is popped.
    BeforePop,
    /// While processing the next event: popped, not yet in the statistics.
    BeforeCounting,
    /// While processing the next event: counted, its lines not yet written.
    AfterCounting,
}

/// How often the periodic work (alert tick, persistence, publishing) runs.
pub(crate) const TICK_INTERVAL: Duration = Duration::from_millis(250);
/// Longest idle sleep between drains.
const MAX_IDLE_WAIT: Duration = Duration::from_millis(4);
/// Events taken from one ring before moving to the next, so one busy thread
/// cannot starve the others.
const RING_BUDGET: usize = 4096;
/// A wall-clock step larger than this (against the monotonic clock) is logged.
const CLOCK_JUMP_THRESHOLD: Duration = Duration::from_secs(2);

thread_local! {
    static ON_COLLECTOR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True on the collector thread (a sink or notifier asking for stats must not
/// wait for the collector it runs on).
pub(crate) fn on_collector_thread() -> bool {
    ON_COLLECTOR.with(|flag| flag.get())
}

/// A user sink with its panic count.
struct SinkSlot {
    sink: Box<dyn Sink>,
}

/// The executions running at one sample (see [`crate::running`]).
#[derive(Default)]
pub(crate) struct RunningNow {
    /// Oldest first.
    pub(crate) executions: Vec<RunningExecution>,
    /// Open executions nested too deep on their thread to be listed.
    pub(crate) unlisted: u64,
}

/// Counters about the monitor itself, readable from any thread.
#[derive(Default)]
pub(crate) struct SelfStats {
    pub(crate) restarts: std::sync::atomic::AtomicU64,
    pub(crate) sink_panics: std::sync::atomic::AtomicU64,
    /// Executions queued in every ring when the latest drain pass began.
    pub(crate) queue_depth: std::sync::atomic::AtomicU64,
}

pub(crate) struct CollectorParts {
    pub(crate) generation: u32,
    pub(crate) queue: Arc<QueueShared>,
    pub(crate) control: Receiver<Control>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) detect_clock_jumps: bool,
    pub(crate) logs: LogFiles,
    pub(crate) sinks: Vec<Box<dyn Sink>>,
    pub(crate) published: Arc<Mutex<Arc<Published>>>,
    /// The roll-ups not saved yet, as of the latest save.
    pub(crate) unsaved: Arc<Mutex<Arc<Unsaved>>>,
    /// Publish duration histograms too (for the HTTP server's `/metrics`).
    pub(crate) publish_durations: bool,
    /// The live feed of the HTTP server's `/events`.
    pub(crate) feed: Option<FeedTap>,
    pub(crate) self_stats: Arc<SelfStats>,
    pub(crate) orphan_baseline: u64,
    /// The stats store and the statistics it held at install.
    pub(crate) persistence: Option<(Persistence, Vec<FunctionRecord>)>,
    pub(crate) alerts: Alerting,
    /// Where the resource samples come from.
    pub(crate) sampler: Box<dyn ResourceSampler>,
    /// The samples, shared with `monitor::resources()`.
    pub(crate) resources: Arc<Mutex<ResourceHistory>>,
    /// The OTLP exporter's end (feature `otlp`).
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<crate::otlp::OtlpTap>,
    /// The log directory (for `status.json`).
    pub(crate) log_dir: std::path::PathBuf,
    /// The running executions of the latest sample, for other threads.
    pub(crate) running: Arc<Mutex<Arc<RunningNow>>>,
}

pub(crate) struct Collector {
    generation: u32,
    queue: Arc<QueueShared>,
    control: Receiver<Control>,
    clock: Arc<dyn Clock>,
    detect_clock_jumps: bool,
    rings: Vec<Ring>,
    functions: Vec<FunctionRecord>,
    by_name: HashMap<Arc<str>, usize>,
    logs: LogFiles,
    sinks: Vec<SinkSlot>,
    published: Arc<Mutex<Arc<Published>>>,
    unsaved: Arc<Mutex<Arc<Unsaved>>>,
    /// Per-minute roll-ups of the executions not handed to the store yet.
    rollups: rollups::RollupBuffer,
    /// Without a store: the roll-ups of minutes that have ended.
    memory_archive: rollups::MemoryArchive,
    publish_durations: bool,
    feed: Option<FeedTap>,
    self_stats: Arc<SelfStats>,
    /// The lines other than executions' (gaps, clock jumps); an execution's
    /// lines are built in the logs' own buffers.
    line: Vec<u8>,
    scratch: String,
    /// The repeating parts of the lines, formatted once.
    line_parts: json::LineParts,
    /// Executions dropped on overflow, reported so far.
    dropped_total: u64,
    orphan_seen: u64,
    last_tick: Instant,
    /// Wall and monotonic readings of the previous drain, to notice clock jumps.
    previous_reading: Option<(SystemTime, u64)>,
    /// Run number and start-time anchor of execution ids.
    ids: IdClock,
    idle_wait: Duration,
    persistence: Option<Persistence>,
    /// Test hook: panic at this point of the next drain.
    crash_requested: CrashRequest,
    /// The ring (index in `rings`) whose popped event is being processed and
    /// is not yet in the statistics: if processing panics, the supervisor
    /// counts that event as dropped, so no execution vanishes uncounted.
    in_flight: Option<usize>,
    alerts: Alerting,
    /// The fullest a ring was (0 to 1) since the previous alert evaluation.
    queue_fill: f64,
    sampler: Box<dyn ResourceSampler>,
    resources: Arc<Mutex<ResourceHistory>>,
    /// The samples of the minutes not handed to the store yet.
    resource_minutes: MinuteRollup,
    /// When the latest sample was taken (by the monitor's clock).
    last_sample: Option<SystemTime>,
    /// The latest sample's time and resident memory, for the memory rules.
    latest_rss: Option<(SystemTime, u64)>,
    /// The details of the staged error being processed (reused: no
    /// allocation per error). Boxed, so that taking it out for `process`
    /// and putting it back moves a pointer, not the whole `Failure`; `None`
    /// only after a panic in `process` (a fresh one is made then).
    staged: Option<Box<Failure>>,
    /// When (collector clock) the next stack-trace interval starts.
    next_trace_interval: Option<SystemTime>,
    /// The OTLP exporter's end (feature `otlp`): dropped with the collector,
    /// which tells the export thread to send what is left and stop.
    #[cfg(feature = "otlp")]
    otlp: Option<crate::otlp::OtlpTap>,
    /// Reads the registry of running executions.
    running_sampler: RunningSampler,
    /// The latest sample, published.
    running: Arc<Mutex<Arc<RunningNow>>>,
    status_file: status_file::StatusFile,
}

/// How often the collector samples the process's resources (by the
/// monitor's clock).
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
enum Pass {
    /// At most `RING_BUDGET` events per ring.
    Budgeted,
    /// Every event in each ring at the moment the pass reaches it.
    EverythingQueued,
}

/// A crash the test hook asked for, if any.
#[cfg(feature = "test-util")]
type CrashRequest = Option<CrashPoint>;

/// Without the test hooks, nothing can ask for a crash.
#[cfg(not(feature = "test-util"))]
type CrashRequest = Option<std::convert::Infallible>;

/// Test hook: panics if a crash was requested at `point`.
#[cfg(feature = "test-util")]
#[inline]
fn crash_hook(requested: &mut CrashRequest, point: CrashPoint) {
    if *requested == Some(point) {
        *requested = None;
        panic!("collector crash requested (test hook, {point:?})");
    }
}

/// Without the test hooks: nothing, compiled away.
#[cfg(not(feature = "test-util"))]
#[inline(always)]
fn crash_hook(_: &mut CrashRequest, _: CrashPoint) {}

/// Runs `f`, containing any panic — including one raised while dropping the
/// panic's payload. Returns false if `f` panicked.
fn contained(f: impl FnOnce()) -> bool {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => true,
        Err(payload) => {
            if let Err(payload_of_drop) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
                std::mem::forget(payload_of_drop);
            }
            false
        }
    }
}

enum Flow {
    Continue,
    Stop,
}

impl Collector {
    pub(crate) fn new(parts: CollectorParts) -> Self {
        let (persistence, loaded) = match parts.persistence {
            Some((persistence, loaded)) => (Some(persistence), loaded),
            None => (None, Vec::new()),
        };
        let ids = IdClock::new(parts.clock.now());
        let status_file = status_file::StatusFile::new(parts.log_dir, parts.clock.now());
        let mut collector = Collector {
            generation: parts.generation,
            queue: parts.queue,
            control: parts.control,
            clock: parts.clock,
            detect_clock_jumps: parts.detect_clock_jumps,
            rings: Vec::new(),
            functions: Vec::new(),
            by_name: HashMap::new(),
            logs: parts.logs,
            sinks: parts
                .sinks
                .into_iter()
                .map(|sink| SinkSlot { sink })
                .collect(),
            published: parts.published,
            unsaved: parts.unsaved,
            rollups: rollups::RollupBuffer::default(),
            memory_archive: rollups::MemoryArchive::default(),
            publish_durations: parts.publish_durations,
            feed: parts.feed,
            self_stats: parts.self_stats,
            line: Vec::with_capacity(512),
            scratch: String::with_capacity(32),
            line_parts: json::LineParts::default(),
            dropped_total: 0,
            orphan_seen: parts.orphan_baseline,
            last_tick: Instant::now(),
            previous_reading: None,
            ids,
            idle_wait: Duration::from_micros(250),
            persistence,
            alerts: parts.alerts,
            queue_fill: 0.0,
            staged: Some(Box::default()),
            next_trace_interval: None,
            running_sampler: RunningSampler::default(),
            running: parts.running,
            status_file,
            crash_requested: None,
            in_flight: None,
            sampler: parts.sampler,
            resources: parts.resources,
            resource_minutes: MinuteRollup::default(),
            last_sample: None,
            latest_rss: None,
            #[cfg(feature = "otlp")]
            otlp: parts.otlp,
        };
        for record in loaded {
            let index = collector.index_for_name(Arc::clone(&record.name), &record.trigger_type);
            collector.functions[index] = record;
        }
        if let Some(persistence) = &collector.persistence {
            let (open, max_id) = persistence.open_episodes();
            collector.alerts.take_up_episodes(open, max_id);
        }
        collector.register_schedules();
        collector
    }

    /// Makes every `every = "…"` function of the program known now, before
    /// its first call: a record (saved to the store), a due time (the one the
    /// store kept from an earlier run, else one interval from now), and so
    /// the `missed_schedule` rule. A method without `name = "…"` is known
    /// only from its first call (its name needs `Self`).
    fn register_schedules(&mut self) {
        let now = self.clock.now();
        for registration in callsite::registered() {
            let callsite = registration.callsite();
            let Some(every) = callsite.every_ns().map(Duration::from_nanos) else {
                continue;
            };
            let Some(name) = registration.name_before_first_call() else {
                continue;
            };
            let index = self.index_for_name(name.into(), callsite.trigger_type());
            self.adopt_callsite(callsite, index);
            let record = &mut self.functions[index];
            if record.next_scheduled.is_none() {
                record.next_scheduled = now.checked_add(every);
                record.dirty = true;
            }
        }
    }

    /// The supervised loop; returns after a shutdown request.
    pub(crate) fn run(mut self) {
        ON_COLLECTOR.with(|flag| flag.set(true));
        loop {
            match catch_unwind(AssertUnwindSafe(|| self.iteration())) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => break,
                Err(payload) => {
                    if let Err(payload_of_drop) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
                        std::mem::forget(payload_of_drop);
                    }
                    self.count_event_lost_in_panic();
                    let restarts = self.self_stats.restarts.fetch_add(1, Ordering::Relaxed) + 1;
                    eprintln!("monitor: the collector panicked and was restarted ({restarts} so far); queued executions are kept");
                }
            }
        }
    }

    fn iteration(&mut self) -> Flow {
        let drained = self.drain();
        if drained > 0 {
            self.evaluate_alerts(false);
        }
        if self.last_tick.elapsed() >= TICK_INTERVAL {
            self.periodic_tick();
        }
        let request = match self.control.try_recv() {
            Ok(request) => request,
            Err(TryRecvError::Disconnected) => {
                self.shutdown();
                return Flow::Stop;
            }
            Err(TryRecvError::Empty) => {
                if drained == 0 && !self.queue.wake.take_request() {
                    std::thread::park_timeout(self.idle_wait);
                    self.idle_wait = (self.idle_wait * 2).min(MAX_IDLE_WAIT);
                } else {
                    self.idle_wait = Duration::from_micros(250);
                }
                return Flow::Continue;
            }
        };
        match request {
            Control::Flush(reply) => {
                self.flush_everything(false);
                let _ = reply.send(());
            }
            Control::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Control::Rollups(reply) => {
                let _ = reply.send(self.unsaved_rollups());
            }
            Control::Acknowledge(episode, ack, reply) => {
                let now = self.clock.now();
                let outcome = self.alerts.acknowledge(episode, ack, &self.functions, now);
                if outcome.is_ok() {
                    // Saved now, not at the next save: `monitor ack` writes
                    // the same row from another process, and the later of
                    // the two must be the one the file keeps (an older
                    // write saved after a newer one was taken up would
                    // put the host and the file at odds).
                    self.persist(true);
                }
                let _ = reply.send(outcome);
            }
            Control::SetAlertRules(rules, function, reply) => {
                self.alerts.set_rules(rules, function, &self.functions);
                let _ = reply.send(());
            }
            Control::Running(reply) => {
                let _ = reply.send(self.sample_running().0);
            }
            Control::Shutdown(reply) => {
                self.shutdown();
                let _ = reply.send(());
                return Flow::Stop;
            }
            #[cfg(feature = "test-util")]
            Control::Crash(point) => self.crash_requested = Some(point),
        }
        Flow::Continue
    }

    fn shutdown(&mut self) {
        self.flush_everything(true);
        self.write_status(Heartbeat::Stopped);
    }

    /// Everything queued is processed and written; then the alert rules see
    /// the result (including whether the writes worked), statistics are
    /// saved, and the alerts those rules raised are written too.
    fn flush_everything(&mut self, sync: bool) {
        self.drain_all();
        self.flush_outputs(sync);
        self.tick();
        self.persist(true);
        let now = self.clock.now();
        self.alerts.flush(now, sync);
        #[cfg(feature = "otlp")]
        if let Some(otlp) = &self.otlp {
            otlp.flush();
        }
        if !sync {
            self.write_status(Heartbeat::Flush);
        }
    }

    /// Drains every event queued before this call (used by flush and
    /// shutdown). Bounded: events pushed meanwhile are left for later, so a
    /// flush cannot be starved by callers that keep recording.
    fn drain_all(&mut self) {
        self.drain_pass(Pass::EverythingQueued);
    }

    /// One budgeted pass over every ring; returns how many events it processed.
    fn drain(&mut self) -> usize {
        self.drain_pass(Pass::Budgeted)
    }

    fn adopt_new_rings(&mut self) {
        let mut new_rings = self.queue.new_rings.lock();
        self.rings.append(&mut new_rings);
    }

    fn drain_pass(&mut self, pass: Pass) -> usize {
        self.adopt_new_rings();
        let wall_now = self.clock.now();
        let wall_unix = UnixTime::of(wall_now);
        self.notice_clock_jump(wall_now);
        self.advance_trace_interval(wall_now);
        let mut processed = 0;
        let mut depth = 0;
        // The rings stay in `self.rings` throughout: if anything below panics,
        // the supervisor resumes with every consumer still in place.
        let mut index = 0;
        while index < self.rings.len() {
            let tick_now = ticks::now();
            let thread_name = Arc::clone(&self.rings[index].thread_name);
            depth += self.rings[index].consumer.len() as u64;
            self.queue_fill = self.queue_fill.max(self.rings[index].consumer.fill());
            let limit = match pass {
                Pass::Budgeted => RING_BUDGET,
                Pass::EverythingQueued => self.rings[index].consumer.len(),
            };
            crash_hook(&mut self.crash_requested, CrashPoint::BeforePop);
            let mut taken = 0;
            while taken < limit {
                let Some(event) = self.rings[index].consumer.pop() else {
                    break;
                };
                self.in_flight = Some(index);
                let now = (wall_now, wall_unix, tick_now);
                match event.details() {
                    Details::InExtra => self.process(event, &thread_name, now, None),
                    details => {
                        // The error's details, from the ring's bytes or the
                        // event's word into a reused failure.
                        let mut staged = self.staged.take().unwrap_or_default();
                        if details == Details::InByteRing {
                            self.rings[index].read_staged(event.local_id(), &mut staged);
                        } else {
                            crate::queue::read_carried(&event, &mut staged);
                        }
                        self.process(event, &thread_name, now, Some(&*staged));
                        self.staged = Some(staged);
                    }
                }
                taken += 1;
            }
            processed += taken;
            let ring = &mut self.rings[index];
            // Abandoned first: once it is seen (acquire), every event published
            // and every drop counted by the thread before it ended is visible.
            let finished = ring.consumer.is_abandoned() && ring.consumer.is_empty();
            let dropped = ring.consumer.dropped();
            let unreported = dropped - ring.dropped_seen;
            ring.dropped_seen = dropped;
            if unreported > 0 {
                self.report_gap(unreported, &thread_name, wall_now);
            }
            if finished {
                self.rings.swap_remove(index);
            } else {
                index += 1;
            }
        }
        let orphans = ORPHAN_DROPS.load(Ordering::Relaxed);
        if orphans > self.orphan_seen {
            self.report_gap(orphans - self.orphan_seen, "thread-exit", wall_now);
            self.orphan_seen = orphans;
        }
        self.self_stats.queue_depth.store(depth, Ordering::Relaxed);
        if let Some(feed) = &mut self.feed {
            feed.announce();
        }
        processed
    }

    /// The supervisor's accounting after a panic: an event that was popped
    /// but had not reached the statistics is counted as dropped (with a gap
    /// line), so `total_executions + cancelled + dropped_events` still
    /// equals the calls made.
    fn count_event_lost_in_panic(&mut self) {
        let Some(index) = self.in_flight.take() else {
            return;
        };
        self.dropped_total += 1;
        let thread = self.rings.get(index).map_or_else(
            || Arc::from("unknown"),
            |ring| Arc::clone(&ring.thread_name),
        );
        // Writing the gap line may fail like anything else here; the count stands.
        contained(|| {
            let now = self.clock.now();
            json::gap_line(&mut self.line, now, &thread, 1, &mut self.scratch);
            self.logs.executions.write_line(&self.line, now);
        });
    }

    /// Starts the next stack-trace interval (`capture/trace_gate.rs`) once
    /// [`capture::TRACE_INTERVAL`] of this collector's clock has passed since
    /// the current one started (or the clock went back by more than that).
    fn advance_trace_interval(&mut self, wall_now: SystemTime) {
        if let Some(next) = self.next_trace_interval {
            let back = next
                .duration_since(wall_now)
                .is_ok_and(|ahead| ahead > capture::TRACE_INTERVAL);
            if wall_now < next && !back {
                return;
            }
            capture::next_trace_interval();
        }
        self.next_trace_interval = Some(wall_now + capture::TRACE_INTERVAL);
    }

    fn notice_clock_jump(&mut self, wall_now: SystemTime) {
        if !self.detect_clock_jumps {
            return;
        }
        let tick_now = ticks::now();
        if let Some((wall_then, tick_then)) = self.previous_reading {
            let monotonic = ticks::duration_between(tick_then, tick_now);
            let expected = wall_then + monotonic;
            let jump_ms = match wall_now.duration_since(expected) {
                Ok(ahead) if ahead > CLOCK_JUMP_THRESHOLD => Some(ahead.as_secs_f64() * 1e3),
                Err(behind) if behind.duration() > CLOCK_JUMP_THRESHOLD => {
                    Some(-behind.duration().as_secs_f64() * 1e3)
                }
                _ => None,
            };
            if let Some(jump_ms) = jump_ms {
                eprintln!("monitor: the wall clock jumped by {jump_ms:.0} ms; timestamps follow it, durations are unaffected");
                json::clock_jump_line(&mut self.line, wall_now, jump_ms, &mut self.scratch);
                self.logs.executions.write_line(&self.line, wall_now);
            }
        }
        self.previous_reading = Some((wall_now, tick_now));
    }

    fn report_gap(&mut self, dropped: u64, thread: &str, wall_now: SystemTime) {
        self.dropped_total += dropped;
        json::gap_line(&mut self.line, wall_now, thread, dropped, &mut self.scratch);
        self.logs.executions.write_line(&self.line, wall_now);
    }

    fn function_index(&mut self, callsite: &'static Callsite) -> usize {
        if let Some(index) = callsite.cached_index(self.generation) {
            return index;
        }
        let name: Arc<str> = callsite.resolved_name().into();
        let index = self.index_for_name(name, callsite.trigger_type());
        self.adopt_callsite(callsite, index);
        index
    }

    /// Takes the callsite's trigger and thresholds into the record at `index`
    /// and caches the index on the callsite.
    fn adopt_callsite(&mut self, callsite: &'static Callsite, index: usize) {
        let record = &mut self.functions[index];
        if record.trigger_type != callsite.trigger_type() {
            // The source's `trigger` wins over one loaded from the store.
            record.trigger_type = callsite.trigger_type().to_owned();
            record.dirty = true;
        }
        record.every = callsite
            .every_ns()
            .map(Duration::from_nanos)
            .or(record.every);
        record.slow_threshold = callsite
            .slow_threshold_ns()
            .map(Duration::from_nanos)
            .or(record.slow_threshold);
        callsite.cache_index(self.generation, index);
    }

    fn index_for_name(&mut self, name: Arc<str>, trigger_type: &str) -> usize {
        if let Some(&index) = self.by_name.get(&name) {
            return index;
        }
        let index = self.functions.len();
        self.functions
            .push(FunctionRecord::new(Arc::clone(&name), trigger_type));
        self.by_name.insert(name, index);
        index
    }

    /// `now`: the monitor's clock at the start of the drain pass (also
    /// split), and the tick read when the pass reached this ring. `staged`:
    /// the details of an error that travelled in its ring's bytes or in the
    /// event's word (`event.details()`).
    fn process(
        &mut self,
        mut event: Event,
        thread: &Arc<str>,
        (wall_now, wall_unix, tick_now): (SystemTime, UnixTime, u64),
        staged: Option<&Failure>,
    ) {
        if let Some(failure) = event
            .extra_mut()
            .and_then(Extra::get_mut)
            .and_then(|extra| extra.failure.as_mut())
        {
            failure.resolve_trace();
        }
        crash_hook(&mut self.crash_requested, CrashPoint::BeforeCounting);
        let index = self.function_index(event.callsite);
        let nanos = ticks::nanos_between(event.start, event.end);
        // Now minus the event's age, as a `SystemTime` and split (in
        // integers, from the pass's split clock: the same time).
        let age = ticks::nanos_between(event.start, tick_now);
        let (started, started_unix) = match wall_now.checked_sub(Duration::from_nanos(age)) {
            Some(started) => (
                started,
                wall_unix
                    .minus_nanos(age)
                    .unwrap_or_else(|| UnixTime::of(started)),
            ),
            None => (wall_now, wall_unix),
        };
        let id = self
            .ids
            .id_logged_at(event.start, event.local_id(), started_unix.as_nanos());
        let since_end = ticks::nanos_between(event.end, tick_now);
        let finished = || {
            wall_now
                .checked_sub(Duration::from_nanos(since_end))
                .unwrap_or(wall_now)
        };
        let finished_minute = match wall_unix.minus_nanos(since_end) {
            Some(unix) => rollups::minute_of_unix(unix, finished),
            None => minute_of(finished()),
        };
        self.rollups
            .observe(index, finished_minute, event.status, nanos);
        let failure = event.failure().or(staged);
        let stamp = self.line_parts.stamp_at(started, started_unix);
        let function = &mut self.functions[index];
        let observation =
            function.observe(event.status, nanos, started, stamp.as_str(), id, failure);
        // Counted: from here on a panic loses at most this event's lines.
        self.in_flight = None;
        let facts = ExecutionFacts {
            id,
            status: event.status,
            duration: Duration::from_nanos(nanos),
            started,
            failure,
            new_pattern: observation.new_pattern,
        };
        #[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
        let notable = self.alerts.observe(index, function, &facts);
        crash_hook(&mut self.crash_requested, CrashPoint::AfterCounting);
        let record = ExecutionRecord {
            id,
            name: &function.name,
            trigger_type: &function.trigger_type,
            status: event.status,
            timestamp: started,
            duration: Duration::from_nanos(nanos),
            thread,
            failure,
            busy: event.busy_ns().map(Duration::from_nanos),
            trace: event.trace(),
            module_path: event.callsite.module_path(),
            file: event.callsite.file(),
            line: event.callsite.line(),
            fields: event.fields(),
        };
        let origin = json::Origin {
            function: index,
            name: &function.name,
            thread,
            callsite: event.callsite,
            stamp,
        };
        // Built straight into the logs' buffers (no copy of either line);
        // a success leaves the errors slot empty, which writes nothing.
        let mut executions_line = self.logs.executions.line_slot();
        let mut errors_line = self.logs.errors.line_slot();
        json::execution_lines(
            executions_line.buf(),
            errors_line.buf(),
            &record,
            &origin,
            &mut self.line_parts,
        );
        executions_line.commit(wall_now);
        errors_line.commit(wall_now);
        if let Some(feed) = &mut self.feed {
            feed.execution(&record, tick_now);
        }
        for slot in &mut self.sinks {
            if !contained(|| slot.sink.record(&record)) {
                self.self_stats.sink_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
        #[cfg(feature = "otlp")]
        if let Some(otlp) = &mut self.otlp {
            otlp.execution(
                &record,
                event.callsite,
                &function.name,
                thread,
                notable.slow || notable.stuck,
                event.otlp_parent(),
            );
        }
    }

    /// Periodic work: sample the running executions, evaluate the alert
    /// rules, persist and publish statistics.
    fn tick(&mut self) {
        self.last_tick = Instant::now();
        self.sample_resources();
        // Acknowledgements another process (`monitor ack`) wrote into the
        // store: one `PRAGMA data_version` when there are none.
        if let Some(rows) = self
            .persistence
            .as_mut()
            .and_then(|persistence| persistence.acknowledged_elsewhere())
        {
            let now = self.clock.now();
            self.alerts.take_up_acks(rows, &self.functions, now);
        }
        let (_, stuck) = self.sample_running();
        self.alerts.set_stuck(&self.functions, stuck);
        self.evaluate_alerts(true);
        self.persist(false);
        let published = Arc::new(self.published());
        *self.published.lock() = published;
    }

    /// Samples the process's resources if the monitor's clock moved at
    /// least [`SAMPLE_EVERY`] since the latest sample (or went back). A
    /// failed read skips this sample.
    fn sample_resources(&mut self) {
        let now = self.clock.now();
        if let Some(last) = self.last_sample {
            if now
                .duration_since(last)
                .is_ok_and(|since| since < SAMPLE_EVERY)
            {
                return;
            }
        }
        self.last_sample = Some(now);
        let Ok(reading) = self.sampler.read() else {
            return;
        };
        let sample = self.resources.lock().record(now, &reading);
        self.resource_minutes.observe(&sample);
        self.latest_rss = Some((now, sample.rss_bytes));
    }

    /// The loop's periodic tick: [`tick`](Self::tick), then the lines out to
    /// the files, however quiet the host — a killed process loses at most one
    /// tick of executions and alerts (the alerts just raised included).
    fn periodic_tick(&mut self) {
        self.tick();
        let now = self.clock.now();
        self.logs.flush(now);
        self.alerts.flush(now, false);
        if self.status_file.due() {
            self.write_status(Heartbeat::Periodic);
        }
    }

    /// Samples the executions running now (oldest first), publishes them,
    /// and returns them with the stuck ones by function.
    fn sample_running(&mut self) -> (Arc<RunningNow>, HashMap<usize, StuckNow>) {
        let now = self.clock.now();
        let ids = &self.ids;
        let sample = self.running_sampler.sample(|tick| ids.wall_of(tick));
        let mut executions = Vec::with_capacity(sample.open.len());
        let mut stuck: HashMap<usize, StuckNow> = HashMap::new();
        for open in &sample.open {
            let name = open.callsite.resolved_name();
            let stuck_after = open
                .callsite
                .stuck_after_ns()
                .map(Duration::from_nanos)
                .unwrap_or_else(|| self.alerts.stuck_after_for(&name));
            let elapsed = now.duration_since(open.started).unwrap_or_default();
            let id = crate::running::id_of(&self.ids, open);
            let is_stuck = elapsed > stuck_after;
            if is_stuck {
                let index = self.function_index(open.callsite);
                stuck
                    .entry(index)
                    .and_modify(|known| {
                        known.ids.push(id);
                        known.started.push(open.started);
                    })
                    .or_insert_with(|| StuckNow {
                        ids: vec![id],
                        started: vec![open.started],
                        threshold: stuck_after,
                        oldest_started: open.started,
                        oldest_elapsed: elapsed,
                        oldest_thread: open.thread.to_string(),
                    });
            }
            executions.push(RunningExecution {
                id,
                name,
                thread: open.thread.to_string(),
                started: crate::timestamp::Timestamp(open.started),
                elapsed,
                stuck_after,
                stuck: is_stuck,
            });
        }
        let running = Arc::new(RunningNow {
            executions,
            unlisted: sample.unlisted,
        });
        *self.running.lock() = Arc::clone(&running);
        (running, stuck)
    }

    /// Rewrites `status.json` with the latest sample of the running
    /// executions, the verdict, the firing alerts and the latest resource sample.
    fn write_status(&mut self, why: Heartbeat) {
        let stopped = why == Heartbeat::Stopped;
        let running = Arc::clone(&self.running.lock());
        let health = self.alerts.health();
        let alerts = self.alerts.firing();
        let resources = self.resources.lock().latest().cloned();
        let now = status_file::StatusNow {
            stopped,
            now: self.clock.now(),
            health: &health,
            alerts: &alerts,
            resources: resources.as_ref(),
            running: &running.executions,
            running_unlisted: running.unlisted,
            queue_depth: self.self_stats.queue_depth.load(Ordering::Relaxed),
            dropped: self.dropped_total,
        };
        // A flush's write skips the fsync: a host that flushes often (a
        // test, a bench) would otherwise wait for the disk at every flush.
        self.status_file.write(&now, why != Heartbeat::Flush);
    }

    /// Stages changed statistics and the roll-ups, and saves them when due
    /// (`force`: now); then publishes the roll-ups still unsaved. Without a
    /// store, the roll-ups stay in memory for [`rollups::MEMORY_ONLY_KEEP`].
    fn persist(&mut self, force: bool) {
        let now = self.clock.now();
        let (history, episodes) = self.alerts.take_staged();
        let Some(persistence) = self.persistence.as_mut() else {
            // Resource roll-ups are for the store only.
            drop(self.resource_minutes.take());
            let functions = &self.functions;
            let ended = self
                .rollups
                .take_before(rollups::minute_of(now), |index| &*functions[index].name);
            let oldest = now.checked_sub(rollups::MEMORY_ONLY_KEEP).unwrap_or(now);
            let changed = self
                .memory_archive
                .update(ended, rollups::minute_of(oldest));
            if changed || force {
                *self.unsaved.lock() = self.unsaved_rollups();
            }
            return;
        };
        self.alerts.store_states(&mut self.functions);
        let new_history = !history.is_empty();
        persistence.stage_alerts(history, episodes);
        persistence.stage_dirty(&mut self.functions, now);
        let functions = &self.functions;
        persistence.stage_rollups(self.rollups.take_rows(|index| &*functions[index].name));
        persistence.stage_resource_rollups(self.resource_minutes.take());
        let saves_before = persistence.stamp();
        let late = persistence.save(&mut self.functions, force, now);
        persistence.fold(now);
        // For readers that cannot ask the collector (a sink, a notifier, a
        // busy collector): what is unsaved as of the latest save or flush.
        // Staler in between, never inconsistent with the file's stamp.
        if force || persistence.stamp() != saves_before {
            *self.unsaved.lock() = persistence.unsaved();
        }
        if new_history || force || persistence.stamp() != saves_before {
            self.alerts
                .publish_unsaved_history(persistence.pending_alerts());
        }
        if late.is_empty() {
            return;
        }
        for earlier in late {
            let name = Arc::clone(&earlier.name);
            let index = self.index_for_name(name, &earlier.trigger_type.clone());
            self.functions[index].absorb(earlier);
        }
        if let Some(persistence) = self.persistence.as_mut() {
            persistence.stage_dirty(&mut self.functions, now);
            if force {
                persistence.save(&mut self.functions, true, now);
            }
            *self.unsaved.lock() = persistence.unsaved();
        }
    }

    /// The roll-ups of every execution counted and not saved yet.
    fn unsaved_rollups(&self) -> Arc<Unsaved> {
        let functions = &self.functions;
        let mut rows = self.rollups.rows(|index| &*functions[index].name);
        match &self.persistence {
            Some(persistence) => {
                let saved_later = persistence.unsaved();
                rows.extend(saved_later.rows.iter().cloned());
                Unsaved::new(rows, saved_later.stamp)
            }
            None => Arc::new(Unsaved {
                rows,
                archived: self.memory_archive.chunks(),
                stamp: None,
            }),
        }
    }

    /// Runs the alert rules (`full`: every function, else those with new
    /// executions) with the monitor's own health as input.
    fn evaluate_alerts(&mut self, full: bool) {
        let mut components = vec![
            ComponentHealth::from_log("executions log", &self.logs.executions.health()),
            ComponentHealth::from_log("errors log", &self.logs.errors.health()),
        ];
        if let Some(persistence) = &self.persistence {
            components.push(ComponentHealth::from_store(&persistence.health()));
        }
        #[cfg(feature = "otlp")]
        if let Some(otlp) = &self.otlp {
            components.push(otlp.health());
        }
        components.push(self.status_file.health());
        let inputs = HealthInputs {
            dropped_total: self.dropped_total,
            restarts: self.self_stats.restarts.load(Ordering::Relaxed),
            sink_panics: self.self_stats.sink_panics.load(Ordering::Relaxed),
            queue_fill: std::mem::take(&mut self.queue_fill),
            components,
            notifiers: Vec::new(),
            deleted_for_size: self.logs.executions.health().deleted_for_size
                + self.logs.errors.health().deleted_for_size,
            latest_rss: self.latest_rss,
        };
        let now = self.clock.now();
        self.alerts.evaluate(now, &mut self.functions, inputs, full);
    }

    /// Writes the logs out (fsync with `sync`) and flushes the sinks.
    fn flush_outputs(&mut self, sync: bool) {
        let now = self.clock.now();
        if sync {
            self.logs.sync(now);
        } else {
            self.logs.flush(now);
        }
        for slot in &mut self.sinks {
            if !contained(|| slot.sink.flush()) {
                self.self_stats.sink_panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn snapshot(&self) -> StatsSnapshot {
        let mut functions: Vec<_> = self
            .functions
            .iter()
            .map(FunctionRecord::snapshot)
            .collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        StatsSnapshot {
            functions,
            dropped_events: self.dropped_total,
        }
    }

    /// The snapshot, with the duration histograms in the same order when asked for.
    fn published(&self) -> Published {
        if !self.publish_durations {
            return Published {
                stats: self.snapshot(),
                durations: Vec::new(),
            };
        }
        let mut order: Vec<&FunctionRecord> = self.functions.iter().collect();
        order.sort_by(|a, b| a.name.cmp(&b.name));
        Published {
            stats: StatsSnapshot {
                functions: order.iter().map(|record| record.snapshot()).collect(),
                dropped_events: self.dropped_total,
            },
            durations: order.iter().map(|record| Durations::of(record)).collect(),
        }
    }
}

/// Why `status.json` is rewritten.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Heartbeat {
    /// Its periodic second (fsynced).
    Periodic,
    /// A flush asked for it (not fsynced).
    Flush,
    /// The last write, at a clean shutdown (fsynced).
    Stopped,
}
