use monitor::monitored;

#[monitored(crate = "my app::monitor")]
fn job() {}

fn main() {
    job();
}
