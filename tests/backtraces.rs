//! A host's own backtraces (an error type that captures one, a panic) show no
//! frame of the monitor's crates between the caller and the monitored body.

mod common;

use std::backtrace::Backtrace;

use common::{block_on, exclusive, temp_dir};
use monitor::{monitored, Monitor};

/// The symbols of a captured backtrace's frames, outermost last.
fn frames(trace: &Backtrace) -> Vec<String> {
    trace
        .to_string()
        .lines()
        .filter_map(|line| {
            let (index, symbol) = line.trim_start().split_once(": ")?;
            index.parse::<usize>().ok().map(|_| symbol.to_owned())
        })
        .collect()
}

/// Frames named after one of the monitor's crates.
fn monitor_frames(trace: &Backtrace) -> Vec<String> {
    frames(trace)
        .into_iter()
        .filter(|symbol| symbol.starts_with("monitor_core::") || symbol.starts_with("monitor::"))
        .collect()
}

#[monitored]
fn closure_shape(text: &str) -> Result<Backtrace, std::num::ParseIntError> {
    let _: u8 = text.parse()?;
    Ok(Backtrace::force_capture())
}

#[monitored]
fn in_place_shape() -> impl Fn() -> Backtrace {
    let trace = Backtrace::force_capture();
    let trace = std::sync::Mutex::new(Some(trace));
    move || trace.lock().unwrap().take().unwrap()
}

#[monitored]
#[track_caller]
fn tracked_shape() -> Backtrace {
    Backtrace::force_capture()
}

#[monitored]
async fn async_shape() -> Backtrace {
    Backtrace::force_capture()
}

#[test]
fn monitored_bodies_add_no_frame_of_the_monitor_to_a_backtrace() {
    let _lock = exclusive();
    let dir = temp_dir("backtraces");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();

    let sync_traces = [
        ("closure", closure_shape("1").unwrap()),
        ("in place", in_place_shape()()),
        ("tracked", tracked_shape()),
    ];
    for (shape, trace) in &sync_traces {
        let all = frames(trace);
        assert!(
            all.iter().any(|symbol| symbol.contains("backtraces::")),
            "{shape}: the trace has symbols: {all:#?}"
        );
        assert_eq!(monitor_frames(trace), Vec::<String>::new(), "{shape}");
    }
    // An async body is polled by the monitor's future: one frame, its `poll`.
    let async_frames = monitor_frames(&block_on(async_shape()));
    assert!(
        async_frames.len() <= 1
            && async_frames
                .iter()
                .all(|symbol| symbol.contains("MonitoredFuture")),
        "{async_frames:#?}"
    );
    assert!(guard.flush());
    assert_eq!(common::total_executions("backtraces::closure_shape"), 1);
}
