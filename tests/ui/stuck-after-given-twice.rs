use monitor::monitored;

#[monitored(stuck_after = "5m", slow = "1s", stuck_after = "1h")]
fn twice() {}

fn main() {}
