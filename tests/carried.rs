//! Errors of at most 8 bytes carried in the event's last word
//! (`capture/deferred.rs`, ARCHITECTURE.md "Failure details"): odd layouts,
//! a generic function failing with several small types from several threads,
//! and the paths that fall back to the stage.

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use common::{block_on, errors, exclusive, lines_named, temp_dir};
use monitor::{monitored, Monitor, Overflow};

/// A zero-sized error aligned more than the event's word.
#[derive(Debug, Clone, Copy)]
#[repr(align(16))]
struct Aligned;

impl fmt::Display for Aligned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("aligned and empty")
    }
}

impl std::error::Error for Aligned {}

/// A packed error: its `u32` is not aligned.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed)]
struct Packed {
    tag: u8,
    code: u32,
}

impl fmt::Display for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (tag, code) = (self.tag, self.code);
        write!(f, "packed {tag}/{code}")
    }
}

impl std::error::Error for Packed {}

/// Variants of different sizes: `Byte` leaves three bytes of padding.
#[derive(Debug, Clone, Copy)]
enum Mixed {
    Byte(u8),
    Word(u32),
}

impl fmt::Display for Mixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mixed::Byte(byte) => write!(f, "byte {byte}"),
            Mixed::Word(word) => write!(f, "word {word}"),
        }
    }
}

impl std::error::Error for Mixed {}

/// A `u8` and a `u32`: three bytes of padding between them.
#[derive(Debug, Clone, Copy)]
struct Pair(u8, u32);

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pair {} {}", self.0, self.1)
    }
}

impl std::error::Error for Pair {}

/// Interior mutability: the clone is carried, not the original.
#[derive(Debug, Clone)]
struct Counted(Cell<u32>);

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt {}", self.0.get())
    }
}

impl std::error::Error for Counted {}

/// An error that lives in a static, returned by reference: a pointer is
/// carried.
#[derive(Debug)]
struct Shared {
    what: &'static str,
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shared: {}", self.what)
    }
}

impl std::error::Error for Shared {}

static SHARED: Shared = Shared { what: "static" };

#[monitored]
fn fails_aligned() -> Result<(), Aligned> {
    Err(Aligned)
}

#[monitored]
fn fails_packed(code: u32) -> Result<(), Packed> {
    Err(Packed { tag: 7, code })
}

#[monitored]
fn fails_mixed(word: bool) -> Result<(), Mixed> {
    Err(if word {
        Mixed::Word(70_000)
    } else {
        Mixed::Byte(9)
    })
}

#[monitored]
fn fails_pair(code: u32) -> Result<(), Pair> {
    Err(Pair(3, code))
}

#[monitored]
fn fails_counted(counted: &Counted) -> Result<(), Counted> {
    let error = counted.clone();
    // The caller changes its own copy after the failure.
    counted.0.set(counted.0.get() + 1);
    Err(error)
}

#[monitored]
fn fails_shared() -> Result<(), &'static Shared> {
    Err(&SHARED)
}

/// The messages of the error lines of `name`, in order.
fn messages(lines: &[serde_json::Value], name: &str, error_type: &str) -> Vec<String> {
    lines_named(lines, &format!("carried::{name}"))
        .into_iter()
        .map(|line| {
            assert_eq!(line["error_type"], error_type, "{line}");
            line["error_message"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn errors_of_odd_layouts_are_carried_with_their_text() {
    let _lock = exclusive();
    let dir = temp_dir("carried-layouts");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .install()
        .unwrap();
    let counted = Counted(Cell::new(1));
    for round in 0..3u32 {
        fails_aligned().unwrap_err();
        fails_packed(round).unwrap_err();
        fails_mixed(round % 2 == 1).unwrap_err();
        fails_pair(round).unwrap_err();
        fails_counted(&counted).unwrap_err();
        fails_shared().unwrap_err();
    }
    assert!(guard.flush());
    let lines = errors(&dir);
    assert_eq!(
        messages(&lines, "fails_aligned", "carried::Aligned"),
        ["aligned and empty"; 3]
    );
    assert_eq!(
        messages(&lines, "fails_packed", "carried::Packed"),
        ["packed 7/0", "packed 7/1", "packed 7/2"]
    );
    assert_eq!(
        messages(&lines, "fails_mixed", "carried::Mixed"),
        ["byte 9", "word 70000", "byte 9"]
    );
    assert_eq!(
        messages(&lines, "fails_pair", "carried::Pair"),
        ["pair 3 0", "pair 3 1", "pair 3 2"]
    );
    assert_eq!(
        messages(&lines, "fails_counted", "carried::Counted"),
        ["attempt 1", "attempt 2", "attempt 3"]
    );
    assert_eq!(
        messages(&lines, "fails_shared", "&carried::Shared"),
        ["shared: static"; 3]
    );
}

macro_rules! small_error {
    ($name:ident, $int:ty) => {
        #[derive(Debug, Clone, Copy)]
        struct $name($int);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", stringify!($name), self.0)
            }
        }

        impl std::error::Error for $name {}
    };
}

small_error!(ByteCode, u8);
small_error!(ShortCode, u16);
small_error!(WordCode, u32);
small_error!(LongCode, u64);

#[monitored]
fn fails_with<E: std::error::Error + Clone + Send + 'static>(error: E) -> Result<(), E> {
    Err(error)
}

#[test]
fn a_generic_function_failing_with_four_small_types_on_four_threads_formats_each_right() {
    // One callsite, four formatters racing to claim it: one type is carried,
    // the others go through the stage, and no line is formatted with
    // another type's formatter.
    let _lock = exclusive();
    let dir = temp_dir("carried-four-threads");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .queue_capacity(1 << 12)
        .overflow(Overflow::Block)
        .install()
        .unwrap();
    const ROUNDS: u8 = 200;
    std::thread::scope(|scope| {
        scope.spawn(|| (0..ROUNDS).for_each(|i| assert!(fails_with(ByteCode(i)).is_err())));
        scope.spawn(|| (0..ROUNDS).for_each(|i| assert!(fails_with(ShortCode(i.into())).is_err())));
        scope.spawn(|| (0..ROUNDS).for_each(|i| assert!(fails_with(WordCode(i.into())).is_err())));
        scope.spawn(|| (0..ROUNDS).for_each(|i| assert!(fails_with(LongCode(i.into())).is_err())));
    });
    assert!(guard.flush());
    let lines = errors(&dir);
    let failed = lines_named(&lines, "carried::fails_with");
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for line in failed {
        let error_type = line["error_type"].as_str().unwrap();
        let message = line["error_message"].as_str().unwrap();
        let (name, value) = message.split_once(' ').unwrap();
        assert_eq!(error_type, format!("carried::{name}"), "{line}");
        seen.entry(name.to_owned())
            .or_default()
            .push(value.parse().unwrap());
    }
    let all: Vec<u64> = (0..u64::from(ROUNDS)).collect();
    for name in ["ByteCode", "ShortCode", "WordCode", "LongCode"] {
        assert_eq!(seen.get(name), Some(&all), "{name}");
    }
}

#[monitored]
async fn fails_later(code: u32) -> Result<(), WordCode> {
    std::future::ready(()).await;
    Err(WordCode(code))
}

#[test]
fn an_async_function_carries_its_error() {
    let _lock = exclusive();
    let dir = temp_dir("carried-async");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .install()
        .unwrap();
    for code in 0..3 {
        block_on(fails_later(code)).unwrap_err();
    }
    assert!(guard.flush());
    assert_eq!(
        messages(&errors(&dir), "fails_later", "carried::WordCode"),
        ["WordCode 0", "WordCode 1", "WordCode 2"]
    );
}

#[monitored(fields(code))]
fn fails_with_fields(code: u32) -> Result<(), WordCode> {
    Err(WordCode(code))
}

#[test]
fn with_fields_or_a_stack_trace_a_small_error_keeps_its_text() {
    let _lock = exclusive();
    let dir = temp_dir("carried-fallbacks");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(true)
        .install()
        .unwrap();
    for code in 0..3 {
        fails_with_fields(code).unwrap_err();
        fails_pair(code).unwrap_err();
    }
    assert!(guard.flush());
    let lines = errors(&dir);
    assert_eq!(
        messages(&lines, "fails_with_fields", "carried::WordCode"),
        ["WordCode 0", "WordCode 1", "WordCode 2"]
    );
    for line in lines_named(&lines, "carried::fails_with_fields") {
        assert!(line.to_string().contains("\"code\""), "{line}");
    }
    // The first error of a pattern takes a stack trace (and goes through the
    // stage); later ones are carried.
    assert_eq!(
        messages(&lines, "fails_pair", "carried::Pair"),
        ["pair 3 0", "pair 3 1", "pair 3 2"]
    );
}

/// An error whose `Display` calls a monitored function that fails with a
/// carried error: formatted on the collector, where monitored calls are not
/// recorded, or on the caller.
#[derive(Debug, Clone, Copy)]
struct Nested(u32);

impl fmt::Display for Nested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = fails_pair(self.0).unwrap_err();
        write!(f, "nested around {inner}")
    }
}

impl std::error::Error for Nested {}

#[monitored]
fn fails_nested(code: u32) -> Result<(), Nested> {
    Err(Nested(code))
}

/// Not `Clone`: formatted on the caller, in the stage, whose `Display`
/// fails a monitored function with a carried error.
#[derive(Debug)]
struct Outer(u32);

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = fails_pair(self.0).unwrap_err();
        write!(f, "outer around {inner}")
    }
}

impl std::error::Error for Outer {}

#[monitored]
fn fails_outer(code: u32) -> Result<(), Outer> {
    Err(Outer(code))
}

#[test]
fn a_display_that_fails_a_monitored_function_is_recorded_once_each() {
    let _lock = exclusive();
    let dir = temp_dir("carried-nested");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .install()
        .unwrap();
    fails_nested(1).unwrap_err();
    fails_outer(2).unwrap_err();
    assert!(guard.flush());
    let lines = errors(&dir);
    assert_eq!(
        messages(&lines, "fails_nested", "carried::Nested"),
        ["nested around pair 3 1"]
    );
    assert_eq!(
        messages(&lines, "fails_outer", "carried::Outer"),
        ["outer around pair 3 2"]
    );
    // The inner call formatted on the collector is not recorded; the one
    // on the caller is.
    assert_eq!(
        messages(&lines, "fails_pair", "carried::Pair"),
        ["pair 3 2"]
    );
}

#[test]
fn a_tiny_blocking_queue_loses_no_carried_error() {
    let _lock = exclusive();
    let dir = temp_dir("carried-block");
    let guard = Monitor::builder()
        .log_dir(&dir)
        .capture_backtraces(false)
        .queue_capacity(1)
        .overflow(Overflow::Block)
        .install()
        .unwrap();
    for code in 0..500 {
        fails_pair(code).unwrap_err();
    }
    assert!(guard.flush());
    let expected: Vec<String> = (0..500).map(|code| format!("pair 3 {code}")).collect();
    assert_eq!(
        messages(&errors(&dir), "fails_pair", "carried::Pair"),
        expected
    );
}
