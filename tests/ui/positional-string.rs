use monitor::monitored;

#[monitored("job")]
fn job() {}

fn main() {}
