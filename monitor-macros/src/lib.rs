//! The `#[monitored]` attribute of the [`monitor`](https://docs.rs/monitor) crate.
//!
//! Use it through the facade: `use monitor::monitored;`. The pipeline is split
//! by job: `attr.rs` parses the arguments, `item.rs` checks what the attribute is
//! on, `expand.rs` writes the code. Errors point at the offending token; on an
//! error the function is emitted unchanged beside the `compile_error!`, so one
//! mistake does not cascade into twenty.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod attr;
mod duration;
mod expand;
mod fields;
mod item;

use proc_macro::TokenStream;

/// Records every execution of a function: start time, duration, and whether
/// it succeeded, returned `Err`, panicked, or (async) was cancelled.
///
/// ```ignore
/// use monitor::monitored;
///
/// #[monitored]
/// fn turn_off_lights() -> std::io::Result<()> { Ok(()) }
///
/// #[monitored(name = "scale_ec2", trigger = "condition", slow = "2s", every = "1h")]
/// async fn scale() -> Result<(), String> { Ok(()) }
/// ```
///
/// Arguments (all optional, each at most once):
///
/// - `name = "…"`: the name in statistics and logs. Default: `module::function`,
///   or `module::Type::method` for methods.
/// - `trigger = "…"`: a free-form label written as `trigger_type`. Default `"call"`.
/// - `slow = "200ms"`: executions longer than this raise a slow-call alert.
/// - `every = "1h"`: the function is expected to run at least this often; a
///   missed run raises an alert.
/// - `stuck_after = "5m"`: an execution still running after this long is
///   stuck: it raises a `stuck_execution` alert while it runs. Default: the
///   rules' `stuck_after` (1 hour).
/// - `crate = "my_app::instrumentation"`: the path a host re-exports `monitor`
///   under; the expansion names the runtime only through it. Default `::monitor`.
/// - `fields(user_id = req.user, chat = %chat_id, ?thing, name, always)`:
///   context written as a `"fields"` object with the execution, in
///   `#[tracing::instrument(fields(…))]`'s syntax (below).
///
/// ```ignore
/// #[monitored(fields(user_id = req.user, chat = %req.chat, ?req.kind, attempt))]
/// fn handle(req: Request, attempt: u32) -> Result<(), Error> { Ok(()) }
/// ```
///
/// Fields: `name = value`; `%value` records `Display`, `?value` records
/// `Debug`, a bare value keeps its JSON type (integers, floats, booleans;
/// `&str`, `String`, `char` as strings; other types need `%` or `?`);
/// `%name`, `?name` and `name` record the variable of that name (`?req.kind`:
/// the field path, named `req.kind`; where tracing would make a bare `name` an
/// empty field to record later); names may be dotted (`user.id = …`) or
/// string literals. At most 16 fields, names at most 64 bytes.
///
/// - The expressions are evaluated when the execution starts (an `async
///   fn`'s at its first poll), before the body runs, and only while a
///   monitor is installed: with none, nothing is evaluated. The body may
///   then move what they refer to.
/// - Without `always` (anywhere in the list) they are written only for an
///   execution that fails (error or panic). A `Copy` value is held as it is
///   until then and formatted only on failure; any other value, references
///   included, is formatted to text at the start (capped at 256 bytes).
///   With `always`, every execution carries them (two allocations per call).
/// - A function without `fields(…)` expands exactly as it would without
///   this feature.
///
/// Durations are a number (fractions allowed: `"1.5s"`) and a unit: `ns`,
/// `us` (or `µs`), `ms`, `s`, `m` (or `min`), `h`, `d`; or several such
/// parts, largest unit first, each unit once: `"1h30m"`, `"1m 30s"`.
///
/// What is timed and classified is the function's returned value, by its
/// type (`impl Trait` inside the return type included: `-> Result<impl Display, E>`
/// returning `Err` is an error):
///
/// - A function whose return type is `impl Trait` itself (or holds one in a
///   tuple, array or reference), such as `-> impl FnMut(&T, &T) -> Ordering`,
///   keeps its body where it is, so a returned closure is type-checked against
///   the declared type exactly as without the attribute. It is timed and
///   recorded as a success, or a panic when it unwinds; its value is not
///   classified (it cannot be an `Err`). An `async fn` of that kind is timed
///   from its first poll and, dropped before it finishes, is cancelled.
/// - The attribute is applied once: a second `#[monitored]` on the same
///   function is a compile error.
/// - An `async fn` (also inside `#[async_trait]`) is timed from the first poll
///   of its future to completion. A plain `fn` that *returns* a future
///   (`fn f() -> impl Future<Output = …>`) is timed until it returns the
///   future, and classified as a success: make it an `async fn` to time the work.
/// - `#[track_caller]` functions keep propagating the caller's location to
///   `unwrap()`, `Location::caller()` and other `#[track_caller]` calls in the
///   body, unless the body leaves the function early: a `return` or `?` of the
///   function itself (not of a closure, async block or nested item inside it;
///   one anywhere inside a macro's arguments counts). Such a body runs inside
///   a closure so that its returned value can still be classified, and the
///   locations reported inside it are then the body's own.
#[proc_macro_attribute]
pub fn monitored(args: TokenStream, item: TokenStream) -> TokenStream {
    monitored_tokens(args.into(), item.into()).into()
}

/// The attribute on `proc_macro2` tokens: an expansion, or a compile error
/// plus the item unchanged. Never panics, whatever the tokens (`fuzz_tests`).
fn monitored_tokens(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let args = match syn::parse2::<attr::Args>(args) {
        Ok(args) => args,
        Err(error) => return with_original(error, item),
    };
    match item::parse(item.clone()) {
        Ok(function) => expand::expand(&args, function),
        Err(error) => with_original(error, item),
    }
}

/// The error, plus the item unchanged so the rest of the crate still compiles.
fn with_original(error: syn::Error, item: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let error = error.to_compile_error();
    quote::quote!(#error #item)
}

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod golden_tests;
