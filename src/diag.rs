//! What the user sees on stderr besides the final error: warnings, hints and,
//! with `GIT_CREDENTIAL_GITHUB_APP_TRACE=1`, one trace line per step.
//!
//! Callers pass only values that are not secrets (the types holding secrets
//! have no `Display`), so no line here can carry a key, a JWT or a token.
//! Every line has its control characters escaped (`redact::escape`): it may
//! quote git config, a file name, the environment or a server's answer.

use crate::redact::escape;
use std::cell::RefCell;
use std::fmt::Display;
use std::io::Write;

/// The environment variable that turns tracing on.
pub const TRACE_ENV: &str = "GIT_CREDENTIAL_GITHUB_APP_TRACE";

const PREFIX: &str = "git-credential-github-app";

/// Where lines go. Shared by reference (a `RefCell` around a writer), so
/// `Diag` stays covariant and can be borrowed for any shorter lifetime.
pub(crate) trait Sink {
    fn write_line(&self, line: std::fmt::Arguments<'_>);
}

impl<W: Write> Sink for RefCell<W> {
    fn write_line(&self, line: std::fmt::Arguments<'_>) {
        if let Ok(mut out) = self.try_borrow_mut() {
            // stderr is gone only when git is; nothing else to tell.
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Whether `value` of the trace variable turns tracing on: anything but empty, `0` or `false`.
pub fn trace_enabled(value: Option<&str>) -> bool {
    value.is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

#[derive(Clone, Copy)]
pub(crate) struct Diag<'a> {
    sink: &'a dyn Sink,
    trace: bool,
}

impl<'a> Diag<'a> {
    pub(crate) fn new(sink: &'a dyn Sink, trace: bool) -> Diag<'a> {
        Diag { sink, trace }
    }

    /// A line the user should read (a warning or a hint).
    pub(crate) fn say(&self, message: impl Display) {
        self.line(format_args!("{PREFIX}: {}", escape(&message.to_string())));
    }

    /// A trace line, built only when tracing is on.
    pub(crate) fn trace(&self, message: impl FnOnce() -> String) {
        if self.trace {
            self.line(format_args!("{PREFIX}: trace: {}", escape(&message())));
        }
    }

    fn line(&self, text: std::fmt::Arguments<'_>) {
        self.sink.write_line(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_are_written_only_when_tracing() {
        let out = RefCell::new(Vec::new());
        let diag = Diag::new(&out, false);
        diag.trace(|| "hidden".into());
        diag.say("shown");
        assert_eq!(String::from_utf8(out.take()).unwrap(), "git-credential-github-app: shown\n");
        Diag::new(&out, true).trace(|| "step".into());
        assert_eq!(String::from_utf8(out.take()).unwrap(), "git-credential-github-app: trace: step\n");
    }

    #[test]
    fn the_trace_variable_is_on_unless_empty_zero_or_false() {
        assert!(trace_enabled(Some("1")));
        assert!(trace_enabled(Some("yes")));
        assert!(!trace_enabled(Some("0")));
        assert!(!trace_enabled(Some("")));
        assert!(!trace_enabled(Some("false")));
        assert!(!trace_enabled(None));
    }
}
