use monitor::monitored;

#[monitored(name = job)]
fn job() {}

fn main() {}
