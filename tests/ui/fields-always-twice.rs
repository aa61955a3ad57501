use monitor::monitored;

#[monitored(fields(always, a = 1, always))]
fn job() {}

fn main() {}
