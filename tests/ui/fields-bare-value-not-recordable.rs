use monitor::monitored;

struct Opaque;

#[monitored(fields(thing = Opaque))]
fn job() {}

fn main() {}
