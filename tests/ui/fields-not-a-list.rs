use monitor::monitored;

#[monitored(fields = "user")]
fn job() {}

fn main() {}
