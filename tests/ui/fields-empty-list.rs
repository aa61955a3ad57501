use monitor::monitored;

#[monitored(fields(always))]
fn job() {}

fn main() {}
