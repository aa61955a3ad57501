use monitor::monitored;

#[monitored(nmae = "job")]
fn job() {}

fn main() {}
