use monitor::monitored;

#[monitored(fields(user = 1, user = 2))]
fn job() {}

fn main() {}
