use monitor::monitored;

trait Job {
    #[monitored]
    fn run(&self);
}

fn main() {}
