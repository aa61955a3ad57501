use monitor::monitored;

#[monitored(fields("user id"))]
fn job() {}

fn main() {}
