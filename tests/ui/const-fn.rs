use monitor::monitored;

#[monitored]
const fn answer() -> u8 {
    42
}

fn main() {}
