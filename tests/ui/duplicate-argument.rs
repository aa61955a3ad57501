use monitor::monitored;

#[monitored(name = "a", name = "b")]
fn job() {}

fn main() {}
