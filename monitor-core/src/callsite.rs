//! Static callsites: one per annotated function (or per `tracing` span metadata).
//!
//! The hot path only ever passes `&'static Callsite` around; names are resolved
//! once, by the collector, the first time it sees the callsite.
//!
//! Every `#[monitored]` function also registers its callsite, statically, in
//! [`MONITORED_FUNCTIONS`]: a `linkme` distributed slice that the linker
//! gathers from the whole program, so the monitor knows every annotated
//! function (and its `every = "…"` schedule) from `install()` on, before any
//! of them runs. Registering costs nothing at run time: no code runs before
//! `main`, and a call never touches the slice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use linkme::distributed_slice;

/// Where executions come from: one `static` per `#[monitored]` function.
///
/// Built by the `#[monitored]` expansion through [`Callsite::new`]; hosts do not
/// normally touch it.
///
/// ```
/// use monitor_core::__private::Callsite;
/// static CALLSITE: Callsite = Callsite::new(None, module_path!(), "job", "call", file!(), line!(), None, None);
/// assert_eq!(CALLSITE.trigger_type(), "call");
/// ```
pub struct Callsite {
    explicit_name: Option<&'static str>,
    module_path: &'static str,
    fn_name: &'static str,
    trigger_type: &'static str,
    file: &'static str,
    line: u32,
    slow_threshold_ns: Option<u64>,
    every_ns: Option<u64>,
    /// The attribute's `stuck_after`, in nanoseconds.
    stuck_after_ns: Option<u64>,
    /// `type_name::<Self>` of the impl the function lives in, set by the first call
    /// of a method; read by the collector when it names the callsite.
    self_type: OnceLock<fn() -> &'static str>,
    /// `(monitor generation << 32) | (function index + 1)`, written and read only by
    /// the collector thread so it can skip a name lookup per event. Zero: unknown.
    collector_slot: AtomicU64,
    /// Stack traces taken here: `(trace interval << 8) | traces in it`
    /// (see `capture/trace_gate.rs`).
    trace_gate: AtomicU64,
    /// The shape of the error of the latest trace taken here.
    traced_shape: AtomicU64,
    /// The address of the function that formats the errors this callsite's
    /// events carry in their last word (`capture/deferred.rs`): set by the
    /// first such error, never changed. Zero: none yet.
    carried_format: AtomicUsize,
}

impl Callsite {
    /// A callsite: `explicit_name`, `slow_threshold_ns` and `every_ns` are
    /// the attribute's `name`, `slow` and `every`, when given.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        explicit_name: Option<&'static str>,
        module_path: &'static str,
        fn_name: &'static str,
        trigger_type: &'static str,
        file: &'static str,
        line: u32,
        slow_threshold_ns: Option<u64>,
        every_ns: Option<u64>,
    ) -> Self {
        Callsite {
            explicit_name,
            module_path,
            fn_name,
            trigger_type,
            file,
            line,
            slow_threshold_ns,
            every_ns,
            stuck_after_ns: None,
            self_type: OnceLock::new(),
            collector_slot: AtomicU64::new(0),
            trace_gate: AtomicU64::new(0),
            traced_shape: AtomicU64::new(0),
            carried_format: AtomicUsize::new(0),
        }
    }

    /// The callsite of one `tracing` span site: named `target::name` (the
    /// name is leaked, once per span metadata, so bounded by the program's
    /// span sites), `trigger_type` `"span"`.
    pub(crate) fn for_span(
        name: &'static str,
        target: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        let explicit_name: &'static str = Box::leak(format!("{target}::{name}").into_boxed_str());
        Callsite::new(
            Some(explicit_name),
            target,
            name,
            "span",
            file,
            line,
            None,
            None,
        )
    }

    /// Whether an error here, in trace interval `interval`, gets a stack
    /// trace: the first error of the interval does, and so does an error
    /// whose `shape` (see `capture/trace_gate.rs`) differs from the latest
    /// traced one's, up to `max_per_interval` traces in the interval.
    /// Lock-free; when two threads race, at most one of them wins each slot.
    pub(crate) fn trace_due(
        &self,
        interval: u64,
        shape: impl FnOnce() -> u64,
        max_per_interval: u64,
    ) -> bool {
        let gate = self.trace_gate.load(Ordering::Relaxed);
        let first = gate >> 8 != interval;
        if !first && gate & 0xFF >= max_per_interval {
            return false;
        }
        let shape = shape();
        if !first && self.traced_shape.load(Ordering::Relaxed) == shape {
            return false;
        }
        let next = if first { (interval << 8) | 1 } else { gate + 1 };
        let won = self
            .trace_gate
            .compare_exchange(gate, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if won {
            self.traced_shape.store(shape, Ordering::Relaxed);
        }
        won
    }

    /// Whether an error formatted by the function at address `format` may
    /// be carried in an event's word from here: the first such error
    /// claims the callsite for its formatter, and only errors with that
    /// formatter are carried (a generic function's callsite is shared by
    /// its instantiations, whose error types differ).
    #[inline]
    pub(crate) fn carries(&self, format: usize) -> bool {
        let claimed = self.carried_format.load(Ordering::Relaxed);
        claimed == format
            || (claimed == 0
                && self
                    .carried_format
                    .compare_exchange(0, format, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok())
    }

    /// The address of the formatter of the errors carried from here (see
    /// [`carries`](Self::carries)); zero before the first. The event that
    /// carries one is published after the claim, so its reader sees it.
    pub(crate) fn carried_format(&self) -> usize {
        self.carried_format.load(Ordering::Relaxed)
    }

    /// This callsite with the attribute's `stuck_after` (nanoseconds): an
    /// execution running longer is stuck (the `stuck_execution` rule).
    ///
    /// ```
    /// use monitor_core::__private::Callsite;
    /// static CALLSITE: Callsite = Callsite::new(None, module_path!(), "job", "call", file!(), line!(), None, None)
    ///     .with_stuck_after(300_000_000_000);
    /// assert_eq!(CALLSITE.stuck_after_ns(), Some(300_000_000_000));
    /// ```
    pub const fn with_stuck_after(mut self, nanos: u64) -> Self {
        self.stuck_after_ns = Some(nanos);
        self
    }

    /// The attribute's `stuck_after` in nanoseconds, if any.
    pub fn stuck_after_ns(&self) -> Option<u64> {
        self.stuck_after_ns
    }

    /// Records the `Self` type of a method's impl (first call wins).
    #[inline(always)]
    pub fn note_self_type(&self, type_name: fn() -> &'static str) {
        if self.self_type.get().is_none() {
            let _ = self.self_type.set(type_name);
        }
    }

    /// The function's name as it appears in statistics and logs: the explicit
    /// `name`, else `module::function`, else `module::Type::method` for methods.
    pub fn resolved_name(&self) -> String {
        if let Some(explicit_name) = self.explicit_name {
            return explicit_name.to_owned();
        }
        match self.self_type.get() {
            Some(type_name) => {
                let ty = short_type_name(type_name());
                format!("{}::{}::{}", self.module_path, ty, self.fn_name)
            }
            None => format!("{}::{}", self.module_path, self.fn_name),
        }
    }

    /// The free-form trigger label (`"call"` unless the attribute says otherwise).
    pub fn trigger_type(&self) -> &'static str {
        self.trigger_type
    }

    /// The module the function was written in.
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// Source file of the function.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// Source line of the function.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// Per-function slow-call threshold in nanoseconds, if any.
    pub fn slow_threshold_ns(&self) -> Option<u64> {
        self.slow_threshold_ns
    }

    /// Declared schedule interval in nanoseconds (`every = "1h"`), if any.
    pub fn every_ns(&self) -> Option<u64> {
        self.every_ns
    }

    pub(crate) fn cached_index(&self, generation: u32) -> Option<usize> {
        let slot = self.collector_slot.load(Ordering::Relaxed);
        if slot >> 32 == u64::from(generation) && slot & 0xffff_ffff != 0 {
            Some((slot & 0xffff_ffff) as usize - 1)
        } else {
            None
        }
    }

    pub(crate) fn cache_index(&self, generation: u32, index: usize) {
        let slot = (u64::from(generation) << 32) | (index as u64 + 1);
        self.collector_slot.store(slot, Ordering::Relaxed);
    }
}

/// One `#[monitored]` function as the expansion registers it in
/// [`MONITORED_FUNCTIONS`]: its callsite, and whether it is a method (named
/// after `Self`, which only its first call tells).
///
/// ```
/// use monitor_core::__private::{Callsite, Registration};
/// static CALLSITE: Callsite = Callsite::new(None, module_path!(), "job", "call", file!(), line!(), None, None);
/// static REGISTRATION: Registration = Registration::new(&CALLSITE, false);
/// assert_eq!(REGISTRATION.callsite().trigger_type(), "call");
/// ```
#[doc(hidden)]
pub struct Registration {
    callsite: &'static Callsite,
    method: bool,
}

impl Registration {
    /// The registration of `callsite`; `method` when its name depends on `Self`.
    pub const fn new(callsite: &'static Callsite, method: bool) -> Self {
        Registration { callsite, method }
    }

    /// The registered callsite.
    pub fn callsite(&self) -> &'static Callsite {
        self.callsite
    }

    /// The name the function will be recorded under, if it is known before
    /// its first call: always, except for a method without `name = "…"`.
    pub(crate) fn name_before_first_call(&self) -> Option<String> {
        let named = self.callsite.explicit_name.is_some() || !self.method;
        (named || self.callsite.self_type.get().is_some()).then(|| self.callsite.resolved_name())
    }
}

/// Every `#[monitored]` function of the program, gathered by the linker.
#[doc(hidden)]
#[distributed_slice]
pub static MONITORED_FUNCTIONS: [Registration];

/// Registers a `#[monitored]` function in [`MONITORED_FUNCTIONS`]: what the
/// expansion writes, as `__private::register!`. A macro of this crate rather
/// than the `linkme` attributes in the expansion: when the path to the crate
/// is wrong (`#[monitored(crate = "…")]`), the host gets that one error, not
/// a cascade about attributes nobody expanded.
///
/// ```
/// use monitor_core::__private::{Callsite, Registration};
/// static CALLSITE: Callsite = Callsite::new(None, module_path!(), "job", "call", file!(), line!(), None, None);
/// monitor_core::__private::register!(REGISTRATION = Registration::new(&CALLSITE, false));
/// assert_eq!(REGISTRATION.callsite().trigger_type(), "call");
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __monitor_register {
    ($name:ident = $registration:expr) => {
        #[$crate::__private::linkme::distributed_slice($crate::__private::MONITORED_FUNCTIONS)]
        #[linkme(crate = $crate::__private::linkme)]
        static $name: $crate::__private::Registration = $registration;
    };
}

/// The `#[monitored]` functions of the program.
pub(crate) fn registered() -> &'static [Registration] {
    &MONITORED_FUNCTIONS
}

/// Whether a `tracing` span site belongs to a `#[monitored]` function: one
/// with the span's name, module and file (a `#[tracing::instrument]` span of
/// a `#[monitored]` function has exactly those). `Some(Some(callsite))` names
/// that function; `Some(None)`: several functions match (methods of the same
/// name in one module), any of them. Built once, on first use.
pub(crate) fn monitored_function_of(
    module_path: &'static str,
    name: &'static str,
    file: &'static str,
) -> Option<Option<&'static Callsite>> {
    type Key = (&'static str, &'static str, &'static str);
    static BY_SITE: OnceLock<HashMap<Key, Option<&'static Callsite>>> = OnceLock::new();
    let by_site = BY_SITE.get_or_init(|| {
        let mut by_site = HashMap::new();
        for registration in registered() {
            let callsite = registration.callsite;
            let key = (callsite.module_path, callsite.fn_name, callsite.file);
            by_site
                .entry(key)
                .and_modify(|found| *found = None)
                .or_insert(Some(callsite));
        }
        by_site
    });
    by_site.get(&(module_path, name, file)).copied()
}

/// `my_crate::db::Store<alloc::string::String>` → `Store`.
fn short_type_name(full: &str) -> &str {
    let without_generics = full.split('<').next().unwrap_or(full);
    without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names_drop_paths_and_generics() {
        assert_eq!(
            short_type_name("a::b::Store<alloc::string::String>"),
            "Store"
        );
        assert_eq!(short_type_name("Store"), "Store");
        assert_eq!(short_type_name("&a::Thing"), "Thing");
    }

    #[test]
    fn names_resolve_explicit_then_module_then_method() {
        static EXPLICIT: Callsite =
            Callsite::new(Some("job"), "app", "f", "call", "f.rs", 1, None, None);
        static PLAIN: Callsite =
            Callsite::new(None, "app::jobs", "f", "call", "f.rs", 1, None, None);
        static METHOD: Callsite = Callsite::new(None, "app", "run", "call", "f.rs", 1, None, None);
        METHOD.note_self_type(|| "app::Worker<u8>");
        assert_eq!(EXPLICIT.resolved_name(), "job");
        assert_eq!(PLAIN.resolved_name(), "app::jobs::f");
        assert_eq!(METHOD.resolved_name(), "app::Worker::run");
    }
}
