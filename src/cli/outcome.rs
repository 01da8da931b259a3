//! How a command ends: its exit status, and the warnings and errors it
//! reports on standard error.

use std::io::Write;

use alientar::Error;
use alientar::Report;
use alientar::internals::totals_line;

/// The exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success (diff: the archive and the tree are identical).
    Ok,
    /// Some entries failed, each reported, the rest done (diff and check:
    /// differences found, owners that do not map).
    Partial,
    /// Fatal: bad usage, an unreadable or malformed archive, unmapped IDs
    /// on create.
    Fatal,
    /// `unshare` could not run its command: 125, 126 or 127.
    Command(i32),
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Partial => 1,
            Exit::Fatal => 2,
            Exit::Command(code) => code,
        }
    }
}

/// Report the warnings and errors of a command's run on stderr; its status.
pub(super) fn finish(report: Report) -> Exit {
    for w in &report.warnings {
        say_err(&format!("alientar: warning: {w}"));
    }
    for e in &report.errors {
        say_err(&format!("alientar: {}", message(e)));
    }
    if let Some(f) = &report.fatal {
        end_on_broken_pipe(f);
        say_err(&format!("alientar: {}", message(f)));
        return Exit::Fatal;
    }
    if report.errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Partial
    }
}

/// [`finish`], then with `--totals` GNU tar's totals line ("written" or
/// "read") on stderr.
pub(super) fn finish_totals(
    report: Report,
    totals: Option<&str>,
    start: std::time::Instant,
) -> Exit {
    let bytes = report.bytes;
    let code = finish(report);
    if let Some(what) = totals {
        eprintln!(
            "{}",
            totals_line(what, bytes, start.elapsed().as_secs_f64())
        );
    }
    code
}

/// A write to a closed pipe (`| head` has exited) ends the command as it
/// ends GNU tar: killed by SIGPIPE, silently.
pub(super) fn end_on_broken_pipe(e: &Error) {
    if e.is_broken_pipe() {
        alientar::internals::die_of_sigpipe();
    }
}

/// A line on standard error (see [`put_line`]).
pub(super) fn say_err(line: &str) {
    put_line(&mut std::io::stderr().lock(), line.as_bytes());
}

/// A line to a standard stream. A closed pipe ends the process as it ends
/// GNU tar; other errors are dropped, as there is nowhere left to report
/// them (the command's own work goes on).
pub(super) fn put_line(w: &mut dyn Write, line: &[u8]) {
    let r = w.write_all(line).and_then(|()| w.write_all(b"\n"));
    if r.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        alientar::internals::die_of_sigpipe();
    }
}

/// An error as the user reads it: the library's rendering (operation,
/// path, cause) without the "(os error N)" that std appends to causes.
pub(super) fn message(e: &Error) -> String {
    let s = e.to_string();
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find(" (os error ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " (os error ".len()..];
        match tail.find(')') {
            Some(j) if j > 0 && tail[..j].bytes().all(|b| b.is_ascii_digit()) => {
                rest = &tail[j + 1..];
            }
            _ => {
                out.push_str(" (os error ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Is stdout a terminal?
pub(super) fn stdout_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

/// Is stderr a terminal?
pub(super) fn stderr_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}
