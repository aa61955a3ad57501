use monitor::monitored;

#[monitored(fields(a = 1), fields(b = 2))]
fn job() {}

fn main() {}
