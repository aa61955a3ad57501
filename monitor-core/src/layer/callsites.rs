//! Callsites of spans, interned per span metadata.
//!
//! A span's [`Metadata`] is a `&'static` value, one per `span!` site, so its
//! address identifies the site. The first span of a site anywhere in the
//! process leaks one [`Callsite`] (bounded by the program's span sites); after
//! that each thread finds it in its own small map keyed by the address: no
//! string is hashed or formatted per span, and no lock is taken.
//!
//! That first time also decides whether the site is the span of a
//! `#[monitored]` function (a `#[tracing::instrument]` beside the attribute):
//! same name, module and file as a registered function. Such a span is not an
//! execution of its own (the function's call already is one); it only takes
//! its place in its parent's trace.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use parking_lot::RwLock;
use tracing_core::Metadata;

use crate::callsite::Callsite;

/// Hashes a pointer-sized key with one multiplication (Fibonacci hashing):
/// the keys are metadata addresses, already unique.
#[derive(Default)]
pub(super) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.0 = (value as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What the layer knows about one span site.
#[derive(Clone, Copy)]
pub(super) struct Site {
    /// The callsite the span is recorded under (in traces too): the span's
    /// own, or the `#[monitored]` function's for its span.
    pub(super) callsite: &'static Callsite,
    /// False for the span of a `#[monitored]` function: the function records
    /// its calls, the span is only a node in its parent's trace.
    pub(super) own_execution: bool,
    /// Whether the site declares fields beyond `message`: only then are a
    /// span's values looked at.
    pub(super) has_fields: bool,
}

type AddressMap = HashMap<usize, Site, BuildHasherDefault<AddressHasher>>;

/// Every span callsite made so far, by metadata address.
static INTERNED: RwLock<AddressMap> = RwLock::new(HashMap::with_hasher(BuildHasherDefault::new()));

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Unknown,
    /// An ordinary host thread: its spans are recorded.
    Record,
    /// One of the monitor's own threads: nothing is recorded there.
    Skip,
}

struct Local {
    role: Cell<Role>,
    callsites: RefCell<AddressMap>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            role: Cell::new(Role::Unknown),
            callsites: RefCell::new(HashMap::with_hasher(BuildHasherDefault::new())),
        }
    };
}

/// The site of spans of `metadata`, or `None` on the monitor's own threads
/// (the collector and the notifier threads, known by a thread-local flag, not
/// by name), whose spans are never recorded.
#[inline]
pub(super) fn for_span(metadata: &'static Metadata<'static>) -> Option<Site> {
    let key = metadata as *const Metadata<'static> as usize;
    LOCAL
        .try_with(|local| {
            match local.role.get() {
                Role::Record => {}
                Role::Skip => return None,
                Role::Unknown => {
                    let role = if crate::queue::is_monitor_thread() {
                        Role::Skip
                    } else {
                        Role::Record
                    };
                    local.role.set(role);
                    if role == Role::Skip {
                        return None;
                    }
                }
            }
            if let Ok(map) = local.callsites.try_borrow() {
                if let Some(&site) = map.get(&key) {
                    return Some(site);
                }
            }
            let site = interned(key, metadata);
            if let Ok(mut map) = local.callsites.try_borrow_mut() {
                map.insert(key, site);
            }
            Some(site)
        })
        // Thread-local storage is being torn down (a span in a TLS destructor):
        // the shared map still answers.
        .unwrap_or_else(|_| Some(interned(key, metadata)))
}

#[cold]
fn interned(key: usize, metadata: &'static Metadata<'static>) -> Site {
    if let Some(&site) = INTERNED.read().get(&key) {
        return site;
    }
    let mut map = INTERNED.write();
    *map.entry(key).or_insert_with(|| {
        let file = metadata.file().unwrap_or("");
        let monitored = metadata.module_path().and_then(|module_path| {
            crate::callsite::monitored_function_of(module_path, metadata.name(), file)
        });
        let callsite = match monitored {
            Some(Some(function)) => function,
            _ => Box::leak(Box::new(Callsite::for_span(
                metadata.name(),
                metadata.target(),
                file,
                metadata.line().unwrap_or(0),
            ))),
        };
        Site {
            callsite,
            own_execution: monitored.is_none(),
            has_fields: metadata
                .fields()
                .iter()
                .any(|field| field.name() != "message"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_of(span: &tracing::Span) -> &'static Metadata<'static> {
        span.metadata()
            .expect("a span with a subscriber that enables it")
    }

    #[test]
    fn one_callsite_per_metadata_shared_by_threads() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let make = |n: u32| tracing::info_span!(target: "unit::callsites", "interned", n = n);
            let first = metadata_of(&make(1));
            let again = metadata_of(&make(2));
            assert!(std::ptr::eq(first, again));
            let a = for_span(first).unwrap().callsite;
            let b = for_span(again).unwrap().callsite;
            assert!(std::ptr::eq(a, b));
            let other = std::thread::scope(|scope| {
                scope
                    .spawn(|| for_span(first).unwrap().callsite as *const Callsite as usize)
                    .join()
                    .unwrap()
            });
            assert_eq!(other, a as *const Callsite as usize);
            assert_eq!(a.resolved_name(), "unit::callsites::interned");
            assert_eq!(a.trigger_type(), "span");
            assert_eq!(a.module_path(), "unit::callsites");
            assert!(a.line() > 0);
        });
    }

    #[test]
    fn a_host_thread_is_recorded_whatever_its_name() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("named");
            let metadata = metadata_of(&span);
            for name in ["monitor-worker", "monitor-collector", "monitor-notifier-0"] {
                let recorded = std::thread::scope(|scope| {
                    std::thread::Builder::new()
                        .name(name.into())
                        .spawn_scoped(scope, || for_span(metadata).is_some())
                        .unwrap()
                        .join()
                        .unwrap()
                });
                assert!(recorded, "{name}");
            }
        });
    }
}
