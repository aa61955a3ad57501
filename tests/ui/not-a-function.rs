use monitor::monitored;

#[monitored]
struct Job;

fn main() {}
