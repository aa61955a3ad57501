use monitor::monitored;

#[monitored(fields(user = tracing::field::Empty))]
fn job() {}

fn main() {}
