use monitor::monitored;

#[monitored(fields(user = , chat = 2))]
fn job() {}

fn main() {}
