use monitor::monitored;

// The expansion names the runtime through this path only: a wrong one fails.
#[monitored(crate = "not_reexported::monitor")]
fn job() {}

fn main() {
    job();
}
