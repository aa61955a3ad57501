use monitor::monitored;

#[monitored(fields("" = 1))]
fn job() {}

fn main() {}
