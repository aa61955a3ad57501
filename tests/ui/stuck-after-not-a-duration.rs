use monitor::monitored;

#[monitored(stuck_after = "forever")]
fn hangs() {}

#[monitored(stuck_after = "0s")]
fn never_stuck() {}

#[monitored(stuck_after = 300)]
fn number() {}

fn main() {}
