//! Every line of every file is one complete JSON object, whatever the error
//! message holds; huge messages are capped and marked.

mod common;

use common::{errors, exclusive, executions, temp_dir};
use monitor::{monitored, Monitor};

#[monitored(name = "hostile")]
fn hostile(message: String) -> Result<(), String> {
    Err(message)
}

#[test]
fn hostile_messages_stay_on_one_line() {
    let _lock = exclusive();
    let dir = temp_dir("json-hostile");
    let guard = Monitor::builder().log_dir(&dir).install().unwrap();
    let lossy = String::from_utf8_lossy(&[b'a', 0xff, 0xfe, b'z']).into_owned();
    let messages = vec![
        "quote \" and backslash \\".to_owned(),
        "two\nlines\r\nand a tab\t".to_owned(),
        "controls \u{0} \u{1} \u{7} \u{1b}[31m \u{7f}".to_owned(),
        lossy.clone(),
        "emoji 🚀 and é".to_owned(),
        "{\"looks\": \"like json\"}\n{".to_owned(),
    ];
    for message in &messages {
        hostile(message.clone()).unwrap_err();
    }
    let huge = "x".repeat(1 << 20);
    hostile(huge).unwrap_err();
    guard.flush();

    let error_lines = errors(&dir);
    assert_eq!(error_lines.len(), messages.len() + 1);
    for (line, message) in error_lines.iter().zip(&messages) {
        assert_eq!(line["error_message"], message.as_str());
        assert!(line.get("error_message_truncated").is_none());
    }
    assert!(error_lines[3]["error_message"]
        .as_str()
        .unwrap()
        .contains('\u{fffd}'));
    let capped = &error_lines[messages.len()];
    assert_eq!(capped["error_message"].as_str().unwrap().len(), 4096);
    assert_eq!(capped["error_message_truncated"], true);
    assert_eq!(executions(&dir).len(), messages.len() + 1);
    for file in ["executions/current.log", "errors/current_errors.log"] {
        let raw = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(raw.ends_with('\n'));
        for line in raw.lines() {
            assert!(line.len() < 16 * 1024, "a line of {} bytes", line.len());
        }
    }
}
