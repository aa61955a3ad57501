use monitor::monitored;

#[monitored]
#[monitored(name = "again")]
fn twice() -> u8 {
    1
}

fn main() {
    let _ = twice();
}
