//! Without an installed monitor, monitored functions run normally and record nothing.

use monitor::monitored;

#[monitored]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[monitored]
fn fails() -> Result<(), String> {
    Err("nobody is watching".into())
}

#[test]
fn monitored_functions_work_without_a_monitor() {
    assert_eq!(add(2, 3), 5);
    assert_eq!(fails(), Err("nobody is watching".to_owned()));
    let caught = std::panic::catch_unwind(|| {
        #[monitored]
        fn boom() {
            panic!("still unwinds")
        }
        boom()
    });
    assert!(caught.is_err());
    assert!(monitor::stats().is_empty());
    assert_eq!(monitor::stats().dropped_events, 0);
    assert!(!monitor::flush());
    assert!(monitor::status_report()
        .to_string()
        .starts_with("Monitored functions: 0"));
    let health = monitor::health();
    assert_eq!(health.verdict, monitor::Verdict::NotInstalled, "{health}");
    assert!(!health.is_green());
}
