use monitor::monitored;

#[monitored(slow = "200 parsecs")]
fn job() {}

#[monitored(every = "60")]
fn tick() {}

fn main() {}
