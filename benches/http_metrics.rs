//! `/metrics` rendering for 1,000 functions (target: under 5 ms), in the
//! Prometheus text format and in OpenMetrics. Each function has executions
//! in two statuses and a spread of durations, so every line of its
//! histogram (28 buckets, `+Inf`, `_sum`, `_count`) is written.
//!
//! This times the rendering on the server thread from a published snapshot
//! (what a scrape costs besides the socket); the collector takes no part in
//! a scrape.
//!
//! Run: `cargo bench --bench http_metrics --features http`.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use monitor::http::__MetricsBench;

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_render");
    for functions in [100usize, 1_000] {
        let bench = __MetricsBench::new(functions);
        let bytes = bench.render(false);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format!("prometheus_{functions}_functions"), |b| {
            b.iter(|| black_box(bench.render(false)))
        });
        group.bench_function(format!("openmetrics_{functions}_functions"), |b| {
            b.iter(|| black_box(bench.render(true)))
        });
        println!("{functions} functions: {bytes} bytes of exposition");
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    render(&mut criterion);
    criterion.final_summary();
}
