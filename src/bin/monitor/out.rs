//! Where the command's answer goes: stdout, as text (coloured only on a
//! terminal and without `NO_COLOR`) or as JSON; and how a failure ends the
//! process (its message on stderr and an exit code).
//!
//! A closed stdout (`monitor executions | head`) is not a failure: the
//! command stops quietly with exit code 0.

use std::fmt;
use std::io::{self, IsTerminal, Write};

/// Why a command stopped early.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Printed on stderr (prefixed `monitor: `), then the process exits with `code`.
    Message { text: String, code: u8 },
    /// Whoever read stdout went away (a closed pipe): exit 0 quietly.
    ClosedOutput,
}

impl Failure {
    /// `monitor health` could not reach a verdict: exit code 3, which no
    /// verdict uses (0 green, 1 yellow, 2 red).
    pub(crate) fn unknown_health(self) -> Failure {
        match self {
            Failure::Message { text, .. } => Failure::Message { text, code: 3 },
            other => other,
        }
    }

    /// A failure with exit code 1 (bad directory, unknown id, unreadable files).
    pub(crate) fn new(text: impl fmt::Display) -> Failure {
        Failure::Message {
            text: text.to_string(),
            code: 1,
        }
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Failure::ClosedOutput
        } else {
            Failure::new(format_args!("cannot write the output: {error}"))
        }
    }
}

/// ANSI colours, used by status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Colour {
    Green,
    Yellow,
    Red,
    Magenta,
    Dim,
}

impl Colour {
    fn code(self) -> &'static str {
        match self {
            Colour::Green => "\x1b[32m",
            Colour::Yellow => "\x1b[33m",
            Colour::Red => "\x1b[31m",
            Colour::Magenta => "\x1b[35m",
            Colour::Dim => "\x1b[2m",
        }
    }

    /// The colour of an execution status as the logs write it.
    pub(crate) fn of_status(status: &str) -> Option<Colour> {
        match status {
            "success" => Some(Colour::Green),
            "error" => Some(Colour::Red),
            "panic" => Some(Colour::Magenta),
            "cancelled" => Some(Colour::Yellow),
            "gap" | "clock_jump" => Some(Colour::Dim),
            _ => None,
        }
    }

    /// The colour of a health verdict (`green`, `yellow`, `red`).
    pub(crate) fn of_verdict(verdict: &str) -> Option<Colour> {
        match verdict {
            "green" => Some(Colour::Green),
            "yellow" => Some(Colour::Yellow),
            "red" => Some(Colour::Red),
            _ => Some(Colour::Dim),
        }
    }
}

/// Whether to colour: only for a terminal, and never when `NO_COLOR` is set.
pub(crate) fn colour_wanted(stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none()
}

/// The command's standard output.
pub(crate) struct Out {
    writer: io::LineWriter<io::Stdout>,
    colour: bool,
}

impl Out {
    /// Stdout, coloured when it is a terminal and `NO_COLOR` is not set.
    pub(crate) fn stdout() -> Out {
        let stdout = io::stdout();
        let colour = colour_wanted(
            stdout.is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        );
        Out {
            writer: io::LineWriter::new(stdout),
            colour,
        }
    }

    /// Writes one line.
    pub(crate) fn line(&mut self, text: &str) -> Result<(), Failure> {
        Ok(self.line_io(text)?)
    }

    /// Writes one line; for callers that deal in `io::Result`.
    pub(crate) fn line_io(&mut self, text: &str) -> io::Result<()> {
        self.writer.write_all(text.as_bytes())?;
        self.writer.write_all(b"\n")
    }

    /// `text` in `colour` when colouring, else as it is.
    pub(crate) fn paint(&self, text: &str, colour: Option<Colour>) -> String {
        paint(text, colour, self.colour)
    }

    /// Whether this output is coloured.
    pub(crate) fn coloured(&self) -> bool {
        self.colour
    }

    /// Writes everything buffered.
    pub(crate) fn flush(&mut self) -> Result<(), Failure> {
        self.writer.flush()?;
        Ok(())
    }
}

/// `text` wrapped in `colour`'s escape codes when `enabled`.
pub(crate) fn paint(text: &str, colour: Option<Colour>, enabled: bool) -> String {
    match colour {
        Some(colour) if enabled => format!("{}{text}\x1b[0m", colour.code()),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour_wanted(true, None));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(true, Some(OsStr::new(""))));
    }

    #[test]
    fn painting_wraps_the_text_only_when_enabled() {
        assert_eq!(
            paint("error", Colour::of_status("error"), true),
            "\x1b[31merror\x1b[0m"
        );
        assert_eq!(paint("error", Colour::of_status("error"), false), "error");
        assert_eq!(paint("odd", Colour::of_status("odd"), true), "odd");
    }

    #[test]
    fn a_closed_pipe_is_a_quiet_end() {
        let closed: Failure = io::Error::from(io::ErrorKind::BrokenPipe).into();
        assert!(matches!(closed, Failure::ClosedOutput));
        let full: Failure = io::Error::other("disk full").into();
        assert!(matches!(full, Failure::Message { code: 1, .. }));
    }
}
