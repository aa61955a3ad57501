use monitor::monitored;

#[monitored(slow = "1.5.5s")]
fn two_dots() {}

#[monitored(every = "30m1h")]
fn smallest_unit_first() {}

#[monitored(every = "1h30")]
fn last_part_without_unit() {}

fn main() {}
