//! Trimming a symbolised stack trace so that it starts at the host's code.
//!
//! A trace is captured inside the monitor (for an `Err`: while classifying
//! the returned value; for a panic: in the panic hook), so its first frames
//! are the monitor's own and the standard library's capture and panic
//! machinery. Those frames, and only those at the top, are removed; the rest
//! is kept as it is, renumbered from 0.

/// True for a frame of the monitor or of the standard library: the frames
/// above the host's code in a trace the monitor captured.
fn is_machinery(name: &str) -> bool {
    // `<&&Classify<…> as monitor_core::…>::m`, `<alloc::boxed::Box<F> as …>::call`.
    let path = name.trim_start_matches(['<', '&', '*']);
    let path = path.strip_prefix("mut ").unwrap_or(path);
    const OURS: [&str; 8] = [
        "monitor_core::",
        "monitor::",
        "std::",
        "core::",
        "alloc::",
        "__rustc::",
        "rust_begin_unwind",
        "__rust_",
    ];
    OURS.iter().any(|prefix| path.starts_with(prefix))
}

/// The frame header `   3: name` → `name`.
fn frame_name(line: &str) -> Option<&str> {
    let (index, name) = line.trim_start().split_once(": ")?;
    index.parse::<usize>().ok()?;
    Some(name)
}

/// `trace` (the `Display` of a `std::backtrace::Backtrace`) without the
/// monitor's and the standard library's frames above the first frame of
/// other code. Unchanged if no such frame is found.
pub(crate) fn trim_own_frames(trace: &str) -> String {
    let mut frames: Vec<Vec<&str>> = Vec::new();
    let mut preamble: Vec<&str> = Vec::new();
    for line in trace.lines() {
        match (frame_name(line), frames.last_mut()) {
            (Some(_), _) => frames.push(vec![line]),
            (None, Some(frame)) => frame.push(line),
            (None, None) => preamble.push(line),
        }
    }
    let Some(first_host) = frames
        .iter()
        .position(|frame| frame_name(frame[0]).is_some_and(|name| !is_machinery(name)))
    else {
        return trace.to_owned();
    };
    if first_host == 0 {
        return trace.to_owned();
    }
    let mut out = String::with_capacity(trace.len());
    for line in preamble {
        out.push_str(line);
        out.push('\n');
    }
    for (index, frame) in frames[first_host..].iter().enumerate() {
        let name = frame_name(frame[0]).unwrap_or_default();
        out.push_str(&format!("{index:4}: {name}\n"));
        for line in &frame[1..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PANIC: &str = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/library/std/src/backtrace.rs:312:9
   1: monitor_core::capture::panic_hook::install_panic_hook::{{closure}}
             at ./monitor-core/src/capture/panic_hook.rs:63:9
   2: <alloc::boxed::Box<F,A> as core::ops::function::Fn<Args>>::call
   3: std::panicking::rust_panic_with_hook
   4: __rustc::rust_begin_unwind
   5: core::panicking::panic_fmt
   6: app::jobs::check::{{closure}}
             at ./src/jobs.rs:19:5
   7: monitor_core::guard::call
             at ./monitor-core/src/guard.rs:133:5
   8: app::jobs::check
   9: <unknown>
";

    #[test]
    fn the_trace_starts_at_the_hosts_frame_renumbered() {
        let trimmed = trim_own_frames(PANIC);
        assert_eq!(
            trimmed,
            "   0: app::jobs::check::{{closure}}
             at ./src/jobs.rs:19:5
   1: monitor_core::guard::call
             at ./monitor-core/src/guard.rs:133:5
   2: app::jobs::check
   3: <unknown>
"
        );
    }

    #[test]
    fn trait_impls_of_the_monitor_are_its_own_frames() {
        let trace = "   0: monitor_core::capture::classify::capture_stack_trace
   1: <&&&&&&monitor_core::capture::classify::Classify<core::result::Result<T,E>> as monitor_core::capture::classify::ClassifyError>::__monitor_outcome
   2: <app::Thing as app::Job>::run
";
        assert_eq!(
            trim_own_frames(trace),
            "   0: <app::Thing as app::Job>::run\n"
        );
    }

    #[test]
    fn a_trace_without_host_frames_is_kept_whole() {
        let trace = "   0: std::backtrace::Backtrace::capture\n   1: core::ops::function::FnOnce::call_once\n";
        assert_eq!(trim_own_frames(trace), trace);
        assert_eq!(trim_own_frames(""), "");
        assert_eq!(trim_own_frames("disabled backtrace"), "disabled backtrace");
    }
}
