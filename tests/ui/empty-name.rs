use monitor::monitored;

#[monitored(name = "  ")]
fn job() {}

fn main() {}
