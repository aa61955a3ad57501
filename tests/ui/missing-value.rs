use monitor::monitored;

#[monitored(trigger)]
fn job() {}

fn main() {}
