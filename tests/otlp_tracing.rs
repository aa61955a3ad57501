//! The parent link (feature `otlp-tracing`): a `#[monitored]` call inside a
//! `tracing` span that carries OpenTelemetry context (a host using
//! `tracing-opentelemetry` with an SDK tracer) is exported as a child of
//! that span, in its trace; a call outside any such span starts a trace.
#![cfg(feature = "otlp-tracing")]

mod common;
#[path = "common/otlp_receiver.rs"]
mod receiver;

use std::time::Duration;

use common::{exclusive, temp_dir};
use monitor::{monitored, Monitor, OtlpConfig};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use receiver::{spans, Receiver};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::prelude::*;

#[monitored(name = "otlp_tracing::handler")]
fn handler() -> Result<(), String> {
    Ok(())
}

#[monitored(name = "otlp_tracing::failing_handler")]
fn failing_handler() -> Result<(), String> {
    Err("no".into())
}

#[test]
fn a_call_inside_an_opentelemetry_span_joins_its_trace_as_a_child() {
    let _exclusive = exclusive();
    let receiver = Receiver::start();
    let guard = Monitor::builder()
        .log_dir(temp_dir("otlp-tracing"))
        .otlp(
            OtlpConfig::http(receiver.endpoint())
                .export_interval(Duration::from_secs(3600))
                .schedule_delay(Duration::from_secs(3600)),
        )
        .install()
        .unwrap();

    // The host's tracing setup: tracing-opentelemetry over an SDK tracer.
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("host")));
    let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!("request");
        let _entered = request.enter();
        handler().unwrap();
        failing_handler().unwrap_err();
        let context = request.context();
        let span_context = context.span().span_context().clone();
        (
            span_context.trace_id().to_bytes(),
            span_context.span_id().to_bytes(),
        )
    });
    handler().unwrap(); // outside any span
    assert!(monitor::flush());

    let (_, request) = receiver.next_traces();
    let all = spans(&request);
    assert_eq!(all.len(), 3, "{all:#?}");
    let linked: Vec<_> = all
        .iter()
        .filter(|s| !s.parent_span_id.is_empty())
        .collect();
    assert_eq!(linked.len(), 2, "{all:#?}");
    for span in linked {
        assert_eq!(span.trace_id, trace_id.to_vec(), "{}", span.name);
        assert_eq!(span.parent_span_id, span_id.to_vec(), "{}", span.name);
    }
    let outside = all.iter().find(|s| s.parent_span_id.is_empty()).unwrap();
    assert_eq!(outside.name, "otlp_tracing::handler");
    assert_ne!(outside.trace_id, trace_id.to_vec());
    drop(guard);
}
