//! `#[monitored]` on every function shape real crates have, compiled under
//! `deny(warnings)` with prelude names shadowed, and each one run and counted.
#![deny(warnings, unsafe_op_in_unsafe_fn)]
#![allow(clippy::needless_lifetimes, clippy::multiple_bound_locations)]

mod common;

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use common::{block_on, errors, exclusive, lines_named, temp_dir};
use monitor::{monitored, Monitor};

/// A crate that defines its own prelude-like names, as many do.
mod shadowed {
    #![allow(dead_code, non_camel_case_types)]
    use monitor::monitored;

    #[derive(Debug)]
    pub struct Error(pub &'static str);
    impl ::std::fmt::Display for Error {
        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
            f.write_str(self.0)
        }
    }
    pub type Result<T> = ::core::result::Result<T, Error>;
    struct Box;
    struct Option;
    struct Vec;
    struct String;
    mod core {}
    mod std {}

    #[monitored]
    pub fn with_own_result(fail: bool) -> Result<u8> {
        if fail {
            return Err(Error("own result failed"));
        }
        Ok(1)
    }
}

#[monitored]
fn generic<T: Clone + Into<u64>, const N: usize>(items: [T; N]) -> u64
where
    T: Copy,
{
    items.iter().map(|&item| item.into()).sum()
}

#[monitored]
fn impl_arg(value: impl Display) -> usize {
    value.to_string().len()
}

#[monitored]
fn impl_return(n: u32) -> impl Iterator<Item = u32> {
    (0..n).map(|i| i * 2)
}

#[monitored]
fn collects(n: u32) -> Vec<u32> {
    (0..n).collect()
}

#[monitored]
fn converts(n: u8) -> u64 {
    n.into()
}

#[monitored]
fn loop_with_return(limit: u32) -> u32 {
    let mut i = 0;
    loop {
        if i >= limit {
            return i;
        }
        i += 1;
    }
}

#[monitored]
fn question_mark(text: &str) -> Result<u32, std::num::ParseIntError> {
    let value: u32 = text.parse()?;
    Ok(value + 1)
}

#[monitored]
fn option_question_mark(values: &[u8]) -> Option<u8> {
    let first = values.first()?;
    Some(first + 1)
}

#[monitored]
fn diverges() -> ! {
    panic!("diverging functions can only panic or loop")
}

/// # Safety
/// `pointer` must be valid for reads.
#[monitored]
unsafe fn reads(pointer: *const u8) -> u8 {
    // SAFETY: the caller promises `pointer` is valid.
    unsafe { *pointer }
}

#[monitored]
extern "C" fn c_callback(x: i32) -> i32 {
    x + 1
}

#[monitored]
#[track_caller]
fn tracked(fail: bool) -> u8 {
    if fail {
        panic!("reported at the caller");
    }
    3
}

#[monitored]
#[track_caller]
fn tracked_question_mark(text: &str) -> Result<u8, String> {
    let value: u8 = text.parse().map_err(|_| "not a number")?;
    Ok(value)
}

#[monitored]
#[track_caller]
fn caller_line() -> u32 {
    std::panic::Location::caller().line()
}

#[monitored]
#[track_caller]
fn tracked_impl_return() -> impl Display {
    std::panic::Location::caller().line()
}

#[monitored]
#[track_caller]
fn tracked_unit(counter: &mut u32) {
    *counter += 1;
}

#[monitored]
#[track_caller]
fn tracked_diverging_body() -> u8 {
    panic!("the body's block diverges")
}

#[monitored]
fn impl_in_result_tail(fail: bool) -> Result<impl Display, String> {
    if fail {
        Err("tail failure".to_owned())
    } else {
        Ok("fine")
    }
}

/// Timed until it returns the future, and a success whatever the future
/// resolves to (documented on the attribute).
#[monitored]
fn returns_future(fail: bool) -> impl Future<Output = Result<u8, String>> {
    async move {
        if fail {
            Err("too late to classify".to_owned())
        } else {
            Ok(1)
        }
    }
}

/// Parameter and return shapes whose expansion must stay clean under
/// `clippy::pedantic` in the host's code (`#[cfg]` and `_`-prefixed
/// parameters, classified `#[track_caller]` and `impl Trait` returns).
mod pedantic {
    #![warn(clippy::pedantic)]
    use monitor::monitored;
    use std::fmt::Display;

    #[monitored]
    #[track_caller]
    pub(super) fn tracked_result(fail: bool) -> Result<u8, String> {
        if fail {
            Err("tracked failure".to_owned())
        } else {
            Ok(1)
        }
    }

    #[monitored]
    pub(super) fn impl_in_result(text: &str) -> Result<impl Display, String> {
        // `?` converts the `&str` error into the spelled-out `String`.
        let value: u8 = text.parse().map_err(|_| "not a number")?;
        if value == 0 {
            return Err("zero".to_owned());
        }
        Ok(value)
    }

    #[monitored]
    pub(super) fn cfg_parameter(#[cfg(any())] removed: u8, kept: u8) -> u8 {
        kept
    }

    #[monitored]
    pub(super) fn attributed_mut_parameter(#[allow(unused_mut)] mut value: u8) -> u8 {
        value += 1;
        value
    }

    #[monitored]
    pub(super) fn underscored_parameters(_unused: String, _also_unused: &str, used: u8) -> u8 {
        used
    }
}

#[monitored]
#[inline]
fn inlined(x: u8) -> u8 {
    x.wrapping_add(1)
}

#[monitored]
fn with_lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

#[monitored]
fn destructured((a, b): (u8, u8), mut c: u8) -> u8 {
    c += a + b;
    c
}

struct Counter {
    value: u32,
    items: Vec<String>,
}

impl Counter {
    #[monitored]
    fn new() -> Self {
        Counter {
            value: 0,
            items: Vec::new(),
        }
    }

    #[monitored]
    fn bump(&mut self) -> &mut u32 {
        self.value += 1;
        &mut self.value
    }

    #[monitored]
    fn first_item(&mut self) -> Option<&mut String> {
        self.items.first_mut()
    }

    #[monitored]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.value
    }

    #[monitored]
    fn boxed(self: Box<Self>) -> u32 {
        self.value
    }

    #[monitored]
    fn consume(self) -> u32 {
        self.value
    }

    #[monitored]
    async fn async_method(&self) -> u32 {
        self.value
    }
}

trait Job {
    fn id(&self) -> u32;

    #[monitored]
    fn describe(&self) -> String {
        format!("job {}", self.id())
    }

    #[monitored]
    async fn run(&self) -> Result<u32, String> {
        Ok(self.id())
    }
}

struct Backup;
impl Job for Backup {
    fn id(&self) -> u32 {
        7
    }
}

#[async_trait::async_trait]
trait Service {
    async fn call(&self, input: u32) -> Result<u32, String>;
}

struct Doubler;

#[async_trait::async_trait]
impl Service for Doubler {
    #[monitored(name = "doubler_call")]
    async fn call(&self, input: u32) -> Result<u32, String> {
        if input == 0 {
            return Err("zero".into());
        }
        Ok(input * 2)
    }
}

#[monitored(name = "instrument_inside")]
#[tracing::instrument]
fn instrument_inside(x: u8) -> u8 {
    x
}

#[tracing::instrument]
#[monitored(name = "instrument_outside")]
fn instrument_outside(x: u8) -> u8 {
    x
}

#[monitored(name = "instrument_async_inside")]
#[tracing::instrument]
async fn instrument_async_inside(x: u8) -> u8 {
    x
}

#[tracing::instrument]
#[monitored(name = "instrument_async_outside")]
async fn instrument_async_outside(x: u8) -> u8 {
    x
}

#[monitored]
async fn async_impl_return() -> impl Display {
    5
}

#[monitored]
async fn async_impl_in_result(text: &str) -> Result<impl Display, String> {
    // As in the sync shape, `?` converts into the spelled-out `String`.
    let value: u8 = text.parse().map_err(|_| "not a number")?;
    Ok(value)
}

fn boxed_future() -> Pin<Box<dyn Future<Output = u8>>> {
    Box::pin(async { 1 })
}

#[test]
fn every_shape_compiles_runs_and_is_counted() {
    let _lock = exclusive();
    let dir = temp_dir("shapes");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    assert!(shadowed::with_own_result(false).is_ok());
    assert!(shadowed::with_own_result(true).is_err());
    assert_eq!(generic::<u8, 3>([1, 2, 3]), 6);
    assert_eq!(impl_arg(12345), 5);
    assert_eq!(impl_return(3).collect::<Vec<_>>(), vec![0, 2, 4]);
    assert_eq!(collects(3), vec![0, 1, 2]);
    assert_eq!(converts(7), 7);
    assert_eq!(loop_with_return(4), 4);
    assert_eq!(question_mark("41"), Ok(42));
    assert!(question_mark("x").is_err());
    assert_eq!(option_question_mark(&[1]), Some(2));
    assert_eq!(option_question_mark(&[]), None);
    assert!(std::panic::catch_unwind(|| diverges()).is_err());
    let byte = 9u8;
    // SAFETY: `byte` is a valid, live u8.
    assert_eq!(unsafe { reads(&byte) }, 9);
    assert_eq!(c_callback(1), 2);
    assert_eq!(tracked(false), 3);
    let (unwound, tracked_panic_line) = (std::panic::catch_unwind(|| tracked(true)), line!());
    assert!(unwound.is_err());
    assert_eq!(pedantic::tracked_result(false), Ok(1));
    assert!(pedantic::tracked_result(true).is_err());
    assert_eq!(tracked_question_mark("7"), Ok(7));
    assert_eq!(tracked_question_mark("x"), Err("not a number".to_owned()));
    let (reported, expected) = (caller_line(), line!());
    assert_eq!(reported, expected);
    let (reported, expected) = (tracked_impl_return().to_string(), line!());
    assert_eq!(reported, expected.to_string());
    let mut tracked_counter = 0;
    tracked_unit(&mut tracked_counter);
    assert_eq!(tracked_counter, 1);
    assert!(std::panic::catch_unwind(tracked_diverging_body).is_err());
    assert_eq!(pedantic::impl_in_result("5").unwrap().to_string(), "5");
    assert!(pedantic::impl_in_result("0").is_err());
    assert_eq!(
        pedantic::impl_in_result("x").err().as_deref(),
        Some("not a number")
    );
    assert_eq!(impl_in_result_tail(false).unwrap().to_string(), "fine");
    assert!(impl_in_result_tail(true).is_err());
    assert!(block_on(returns_future(true)).is_err());
    assert_eq!(pedantic::cfg_parameter(4), 4);
    assert_eq!(pedantic::attributed_mut_parameter(4), 5);
    assert_eq!(pedantic::underscored_parameters(String::new(), "", 6), 6);
    assert_eq!(inlined(1), 2);
    assert_eq!(with_lifetimes("a", "b"), "a");
    assert_eq!(destructured((1, 2), 3), 6);

    let mut counter = Counter::new();
    *counter.bump() += 10;
    assert_eq!(counter.value, 11);
    assert!(counter.first_item().is_none());
    assert_eq!(Pin::new(&mut counter).pinned(), 11);
    assert_eq!(block_on(counter.async_method()), 11);
    assert_eq!(Box::new(Counter::new()).boxed(), 0);
    assert_eq!(counter.consume(), 11);

    assert_eq!(Backup.describe(), "job 7");
    assert_eq!(block_on(Backup.run()), Ok(7));
    assert_eq!(block_on(Doubler.call(4)), Ok(8));
    assert!(block_on(Doubler.call(0)).is_err());
    assert_eq!(instrument_inside(1), 1);
    assert_eq!(instrument_outside(1), 1);
    assert_eq!(block_on(instrument_async_inside(1)), 1);
    assert_eq!(block_on(instrument_async_outside(1)), 1);
    assert_eq!(block_on(async_impl_return()).to_string(), "5");
    assert_eq!(block_on(boxed_future()), 1);
    assert_eq!(
        block_on(async_impl_in_result("3")).unwrap().to_string(),
        "3"
    );
    assert!(block_on(async_impl_in_result("x")).is_err());

    assert!(guard.flush());
    let stats = monitor::stats();
    let here = module_path!();
    let count = |name: &str| {
        stats
            .get(name)
            .unwrap_or_else(|| {
                panic!(
                    "{name} not recorded; have {:?}",
                    stats.iter().map(|s| &s.name).collect::<Vec<_>>()
                )
            })
            .total_executions
    };
    assert_eq!(count(&format!("{here}::shadowed::with_own_result")), 2);
    assert_eq!(
        stats
            .get(&format!("{here}::shadowed::with_own_result"))
            .unwrap()
            .error_count,
        1
    );
    assert_eq!(count(&format!("{here}::generic")), 1);
    assert_eq!(count(&format!("{here}::impl_return")), 1);
    assert_eq!(count(&format!("{here}::question_mark")), 2);
    assert_eq!(count(&format!("{here}::diverges")), 1);
    assert_eq!(
        stats.get(&format!("{here}::diverges")).unwrap().panic_count,
        1
    );
    assert_eq!(count(&format!("{here}::reads")), 1);
    assert_eq!(count(&format!("{here}::c_callback")), 1);
    let tracked_stats = stats.get(&format!("{here}::tracked")).unwrap();
    assert_eq!(
        (tracked_stats.success_count, tracked_stats.panic_count),
        (1, 1)
    );
    let outcomes = |name: &str| {
        let stats = stats.get(&format!("{here}::{name}")).unwrap();
        (stats.success_count, stats.error_count, stats.panic_count)
    };
    assert_eq!(outcomes("pedantic::tracked_result"), (1, 1, 0));
    assert_eq!(outcomes("tracked_question_mark"), (1, 1, 0));
    assert_eq!(outcomes("caller_line"), (1, 0, 0));
    assert_eq!(outcomes("tracked_impl_return"), (1, 0, 0));
    assert_eq!(outcomes("tracked_unit"), (1, 0, 0));
    assert_eq!(outcomes("tracked_diverging_body"), (0, 0, 1));
    assert_eq!(outcomes("pedantic::impl_in_result"), (1, 2, 0));
    assert_eq!(outcomes("impl_in_result_tail"), (1, 1, 0));
    assert_eq!(outcomes("returns_future"), (1, 0, 0));
    assert_eq!(outcomes("async_impl_in_result"), (1, 1, 0));
    assert_eq!(outcomes("pedantic::cfg_parameter"), (1, 0, 0));
    assert_eq!(outcomes("pedantic::attributed_mut_parameter"), (1, 0, 0));
    assert_eq!(outcomes("pedantic::underscored_parameters"), (1, 0, 0));
    let error_lines = errors(&dir);
    let tracked_panic = lines_named(&error_lines, &format!("{here}::tracked"))[0];
    let location = tracked_panic["context"]["panic_location"].as_str().unwrap();
    assert!(
        location.contains(&format!("shapes.rs:{tracked_panic_line}:")),
        "{location} is not the caller's line {tracked_panic_line}"
    );
    assert_eq!(count(&format!("{here}::Counter::new")), 2);
    assert_eq!(count(&format!("{here}::Counter::bump")), 1);
    assert_eq!(count(&format!("{here}::Counter::pinned")), 1);
    assert_eq!(count(&format!("{here}::Counter::boxed")), 1);
    assert_eq!(count(&format!("{here}::Counter::consume")), 1);
    assert_eq!(count(&format!("{here}::Counter::async_method")), 1);
    assert_eq!(count(&format!("{here}::Backup::describe")), 1);
    assert_eq!(count(&format!("{here}::Backup::run")), 1);
    let doubler = stats.get("doubler_call").unwrap();
    assert_eq!((doubler.total_executions, doubler.error_count), (2, 1));
    for name in [
        "instrument_inside",
        "instrument_outside",
        "instrument_async_inside",
        "instrument_async_outside",
    ] {
        assert_eq!(count(name), 1, "{name}");
    }
    assert_eq!(count(&format!("{here}::async_impl_return")), 1);
    // The remaining shapes: each ran and succeeded (`None` is a success).
    for (name, runs) in [
        ("impl_arg", 1),
        ("collects", 1),
        ("converts", 1),
        ("loop_with_return", 1),
        ("option_question_mark", 2),
        ("inlined", 1),
        ("with_lifetimes", 1),
        ("destructured", 1),
        ("Counter::first_item", 1),
    ] {
        assert_eq!(outcomes(name), (runs, 0, 0), "{name}");
    }
}

/// Shapes whose returned value is type-checked against the declared return
/// type: closures with reference parameters are higher-ranked only when that
/// type is their expected type, and `#[monitored]` must not take it away.
mod expected_type {
    use std::cmp::Ordering;

    use monitor::monitored;

    /// The shape that broke a whole iterator crate (issue 11).
    #[monitored]
    pub(crate) fn key_to_cmp<T, K, F>(mut key: F) -> impl FnMut(&T, &T) -> Ordering
    where
        F: FnMut(&T) -> K,
        K: Ord,
    {
        move |a, b| key(a).cmp(&key(b))
    }

    #[monitored]
    pub(crate) fn at_least<T: PartialOrd + Copy>(min: T) -> impl Fn(&T) -> bool {
        move |value| *value >= min
    }

    #[monitored]
    pub(crate) fn above<'a, T: PartialOrd>(
        items: &'a [T],
        min: &'a T,
    ) -> impl Iterator<Item = &'a T> {
        items
            .iter()
            .filter(move |item| *item > min)
            .take_while(|_| true)
    }

    #[monitored]
    pub(crate) fn prefix_matcher(prefix: &str) -> Result<impl Fn(&str) -> bool, String> {
        let prefix: String = prefix.parse().map_err(|_| "never")?;
        if prefix.is_empty() {
            return Err("empty prefix".to_owned());
        }
        Ok(move |text: &str| text.starts_with(prefix.as_str()))
    }

    #[monitored]
    pub(crate) fn counter_sink<T>(enabled: bool) -> Option<impl FnMut(&T)> {
        if !enabled {
            return None;
        }
        Some(move |_item: &T| {})
    }

    #[monitored]
    pub(crate) fn boxed_equals<T: PartialEq + 'static>(expected: T) -> Box<dyn Fn(&T) -> bool> {
        Box::new(move |value| *value == expected)
    }

    #[monitored]
    pub(crate) fn positive_or_panic(fail: bool) -> impl Fn(&u8) -> bool {
        assert!(!fail, "no predicate");
        |value| *value > 0
    }

    /// Written on one line, as a host without rustfmt may: the body kept in
    /// place must not become a block in a block (`unused_braces`).
    #[monitored]
    #[rustfmt::skip]
    pub(crate) fn one_line() -> impl Fn(&u8) -> bool { |value| *value > 1 }

    #[monitored]
    #[track_caller]
    #[rustfmt::skip]
    pub(crate) fn one_line_tracked() -> impl Fn(&u8) -> bool { |value| *value > 2 }

    #[monitored]
    pub(crate) fn with_length(text: &str) -> (impl Fn(&str) -> bool, usize) {
        let length = text.len();
        (move |other| other.len() == length, length)
    }

    #[monitored]
    pub(crate) fn higher_ranked() -> impl for<'a> Fn(&'a str) -> &'a str {
        |text| text.trim()
    }

    #[monitored]
    pub(crate) fn boxed_higher_ranked(trim: bool) -> Box<dyn for<'a> Fn(&'a str) -> &'a str> {
        if trim {
            return Box::new(|text| text.trim());
        }
        Box::new(|text| text)
    }

    #[monitored]
    pub(crate) fn negate<T>(predicate: impl Fn(&T) -> bool) -> impl Fn(&T) -> bool {
        move |value| !predicate(value)
    }

    #[monitored]
    pub(crate) fn sorted_by_key(mut items: Vec<(u8, &str)>) -> Vec<(u8, &str)> {
        items.sort_by(|a, b| a.1.cmp(b.1));
        items.select_nth_unstable_by(0, |a, b| a.0.cmp(&b.0));
        items.sort_by(key_to_cmp(|item: &(u8, &str)| item.1));
        items
    }

    #[monitored]
    #[track_caller]
    pub(crate) fn tracked_measure() -> impl Fn(&str) -> usize {
        let line = std::panic::Location::caller().line() as usize;
        move |text| text.len() + line
    }

    #[monitored]
    pub(crate) async fn async_boxed_equals(expected: u8, any: bool) -> Box<dyn Fn(&u8) -> bool> {
        if any {
            return Box::new(|_| true);
        }
        Box::new(move |value| *value == expected)
    }

    /// An `async fn`'s return type is not linted by `clippy::type_complexity`
    /// (its signature is desugared); the fake return's `let` of that type
    /// must not be either.
    #[monitored]
    pub(crate) async fn async_complex(
        allowed: &[u8],
        fail: bool,
    ) -> Result<Box<dyn Fn(&u8) -> bool + '_>, String> {
        if fail {
            return Err("no filter".to_owned());
        }
        Ok(Box::new(move |value| allowed.contains(value)))
    }

    /// An `async fn` returning a closure through `impl Fn(&T)`: its body
    /// keeps its place (the closure needs the declared type), timed from the
    /// first poll; dropped mid-flight, it is cancelled.
    #[monitored]
    pub(crate) async fn async_at_least(min: u8) -> impl Fn(&u8) -> bool {
        Yield(false).await;
        move |value| *value >= min
    }

    macro_rules! positive {
        () => {
            |value| *value > 0
        };
    }

    /// The tail is a macro call.
    #[monitored]
    pub(crate) async fn async_macro_tail() -> impl Fn(&u8) -> bool {
        Yield(false).await;
        positive!()
    }

    fn is_positive(value: &u8) -> bool {
        *value > 0
    }

    #[monitored]
    pub(crate) async fn async_early_return(early: bool) -> impl Fn(&u8) -> bool {
        if early {
            return is_positive;
        }
        Yield(false).await;
        is_positive
    }

    /// Pending once, then ready.
    pub(crate) struct Yield(pub(crate) bool);

    impl std::future::Future for Yield {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if self.0 {
                std::task::Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }

    pub(crate) struct Sorter {
        pub(crate) descending: bool,
    }

    impl Sorter {
        #[monitored]
        pub(crate) fn comparator<T: Ord>(&self) -> impl Fn(&T, &T) -> Ordering + '_ {
            move |a, b| {
                let order = a.cmp(b);
                if self.descending {
                    order.reverse()
                } else {
                    order
                }
            }
        }

        #[monitored]
        pub(crate) fn checked<T: Ord>(&self, limit: T) -> Result<impl Fn(&T) -> bool, String> {
            if self.descending {
                return Err("no limit when descending".to_owned());
            }
            Ok(move |value: &T| *value <= limit)
        }
    }

    pub(crate) trait Filter<T> {
        fn predicate(&self) -> impl Fn(&T) -> bool;
        fn boxed(&self) -> Box<dyn Fn(&T) -> bool>;
    }

    pub(crate) struct Even;

    impl Filter<u32> for Even {
        #[monitored]
        fn predicate(&self) -> impl Fn(&u32) -> bool {
            |value| value % 2 == 0
        }

        #[monitored]
        fn boxed(&self) -> Box<dyn Fn(&u32) -> bool> {
            Box::new(|value| value % 2 == 0)
        }
    }
}

#[test]
fn shapes_that_need_their_declared_return_type_compile_and_are_timed() {
    use expected_type::*;

    let _lock = exclusive();
    let dir = temp_dir("shapes-expected-type");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    let mut words = vec!["pear", "fig", "apple"];
    words.sort_by(key_to_cmp(|word: &&str| word.len()));
    assert_eq!(words, ["fig", "pear", "apple"]);
    assert!(at_least(3)(&4) && !at_least(3)(&2));
    assert_eq!(above(&[1, 5, 2, 7], &2).collect::<Vec<_>>(), [&5, &7]);
    assert!(prefix_matcher("ab").unwrap()("abc"));
    assert!(prefix_matcher("").is_err());
    let mut sink = counter_sink::<u8>(true).unwrap();
    sink(&1);
    assert!(counter_sink::<u8>(false).is_none());
    assert!(boxed_equals(4)(&4));
    assert!(one_line()(&2) && !one_line()(&1));
    assert!(one_line_tracked()(&3) && !one_line_tracked()(&2));
    let (same_length, length) = with_length("abc");
    assert!(same_length("xyz") && length == 3);
    assert_eq!(higher_ranked()("  x "), "x");
    assert_eq!(boxed_higher_ranked(true)(" y "), "y");
    assert_eq!(boxed_higher_ranked(false)(" y "), " y ");
    assert!(negate(|value: &u8| *value > 3)(&1));
    assert_eq!(
        sorted_by_key(vec![(2, "b"), (1, "c"), (3, "a")]),
        [(3, "a"), (2, "b"), (1, "c")]
    );
    let (measure, line) = (tracked_measure(), line!());
    assert_eq!(measure("ab"), 2 + line as usize, "the caller's location");
    assert!(block_on(async_at_least(3))(&4));
    assert!(block_on(async_macro_tail())(&4));
    assert!(block_on(async_early_return(true))(&1));
    assert!(!block_on(async_early_return(false))(&0));
    {
        let mut dropped_mid_flight = std::pin::pin!(async_at_least(1));
        assert!(common::poll_once(dropped_mid_flight.as_mut()).is_pending());
    }
    assert!(block_on(async_boxed_equals(2, false))(&2));
    assert!(block_on(async_boxed_equals(2, true))(&9));
    assert!(block_on(async_complex(&[1, 2], false)).unwrap()(&2));
    assert!(block_on(async_complex(&[1, 2], true)).is_err());
    let ascending = Sorter { descending: false };
    let mut numbers = vec![3, 1, 2];
    numbers.sort_by(ascending.comparator());
    assert_eq!(numbers, [1, 2, 3]);
    numbers.sort_by(Sorter { descending: true }.comparator());
    assert_eq!(numbers, [3, 2, 1]);
    assert!(ascending.checked(5).unwrap()(&5));
    assert!(Sorter { descending: true }.checked(5).is_err());
    assert!(Even.predicate()(&4));
    assert!(!Even.boxed()(&3));
    assert!(std::panic::catch_unwind(|| positive_or_panic(true)).is_err());
    assert!(positive_or_panic(false)(&1));

    assert!(guard.flush());
    let stats = monitor::stats();
    let here = module_path!();
    let outcomes = |name: &str| {
        let stats = stats
            .get(&format!("{here}::expected_type::{name}"))
            .unwrap_or_else(|| panic!("{name} was not recorded"));
        (stats.success_count, stats.error_count, stats.panic_count)
    };
    // `sorted_by_key` calls `key_to_cmp` once more.
    assert_eq!(outcomes("key_to_cmp"), (2, 0, 0));
    assert_eq!(outcomes("at_least"), (2, 0, 0));
    assert_eq!(outcomes("above"), (1, 0, 0));
    assert_eq!(outcomes("positive_or_panic"), (1, 0, 1));
    // An `impl` inside `Result` or `Option` is classified as usual.
    assert_eq!(outcomes("prefix_matcher"), (1, 1, 0));
    assert_eq!(outcomes("counter_sink"), (2, 0, 0));
    assert_eq!(outcomes("with_length"), (1, 0, 0));
    assert_eq!(outcomes("one_line"), (2, 0, 0));
    assert_eq!(outcomes("one_line_tracked"), (2, 0, 0));
    // A spelled-out `Box<dyn Fn…>` is classified as usual.
    assert_eq!(outcomes("boxed_equals"), (1, 0, 0));
    assert_eq!(outcomes("higher_ranked"), (1, 0, 0));
    assert_eq!(outcomes("boxed_higher_ranked"), (2, 0, 0));
    assert_eq!(outcomes("negate"), (1, 0, 0));
    assert_eq!(outcomes("sorted_by_key"), (1, 0, 0));
    assert_eq!(outcomes("tracked_measure"), (1, 0, 0));
    assert_eq!(outcomes("async_boxed_equals"), (2, 0, 0));
    assert_eq!(outcomes("async_at_least"), (1, 0, 0));
    assert_eq!(
        stats
            .get(&format!("{here}::expected_type::async_at_least"))
            .unwrap()
            .cancelled_count,
        1,
        "dropped after its first poll"
    );
    assert_eq!(outcomes("async_early_return"), (2, 0, 0));
    assert_eq!(outcomes("async_macro_tail"), (1, 0, 0));
    assert_eq!(outcomes("async_complex"), (1, 1, 0));
    assert_eq!(outcomes("Sorter::comparator"), (2, 0, 0));
    assert_eq!(outcomes("Sorter::checked"), (1, 1, 0));
    assert_eq!(outcomes("Even::predicate"), (1, 0, 0));
    assert_eq!(outcomes("Even::boxed"), (1, 0, 0));
}

/// A host that re-exports `monitor` under a path of its own.
mod reexport {
    pub use monitor as instrumentation;
}

#[reexport::instrumentation::monitored(crate = "crate::reexport::instrumentation")]
fn through_reexport(fail: bool) -> Result<u8, String> {
    if fail {
        return Err("through the re-export".to_owned());
    }
    Ok(1)
}

#[test]
fn a_reexported_runtime_is_named_through_the_crate_argument() {
    let _lock = exclusive();
    let dir = temp_dir("shapes-reexport");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    assert_eq!(through_reexport(false), Ok(1));
    assert!(through_reexport(true).is_err());
    assert!(guard.flush());
    let stats = monitor::stats();
    let record = stats
        .get(&format!("{}::through_reexport", module_path!()))
        .unwrap();
    assert_eq!((record.success_count, record.error_count), (1, 1));
}
