use monitor::monitored;

#[monitored(fields(chat = 1, #user))]
fn job(user: u8) {
    let _ = user;
}

fn main() {}
