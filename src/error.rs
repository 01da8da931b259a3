//! The library's error type.
//!
//! Every error names what was being done and, where there is one, the path
//! (the archive member or the file on disk) it was being done to.

use std::io;
use std::path::PathBuf;

/// A specialized `Result` for alientar operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An alientar error: an operation, the path it concerned, and the cause
/// ([`std::error::Error::source`]: the I/O error underneath, if any).
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
    context: Option<String>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// An I/O operation failed.
    #[error("{op}: {source}")]
    Io {
        /// The operation, e.g. "failed to set owner 100041".
        op: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The archive is malformed.
    #[error("{0}")]
    Format(String),
    /// An ID map or map SPEC is invalid.
    #[error("{0}")]
    Map(String),
    /// An ID has no translation in the chosen map.
    #[error("{0}")]
    Unmapped(String),
    /// A context is unknown or badly defined.
    #[error("{0}")]
    Context(String),
    /// An archive member would land outside the destination, or is otherwise refused.
    #[error("{0}")]
    Unsafe(String),
    /// Bad usage: options that do not fit together, a bad argument.
    #[error("{0}")]
    Usage(String),
    /// A file changed, shrank or vanished while it was archived: the
    /// archive holds what could be read (GNU tar's "file changed as we
    /// read it", exit status 1).
    #[error("{0}")]
    Changed(String),
}

impl Error {
    /// A new error of the given kind with no path.
    pub fn new(kind: ErrorKind) -> Error {
        Error {
            kind,
            path: None,
            context: None,
        }
    }

    /// An I/O error during `op` on `path`. The message reads as a sentence:
    /// `op` with the path after it ("cannot open" → "cannot open PATH:
    /// CAUSE"), or where `op` has `{}` ("cannot link {} into place").
    pub fn io(op: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::new(ErrorKind::Io {
            op: op.into(),
            source,
        })
        .with_path(path)
    }

    /// An I/O error during `op` with no path (one given later with
    /// [`Error::with_path`] goes where [`Error::io`] puts it).
    pub fn io_nopath(op: impl Into<String>, source: io::Error) -> Error {
        Error::new(ErrorKind::Io {
            op: op.into(),
            source,
        })
    }

    /// A malformed-archive error.
    pub fn format(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Format(msg.into()))
    }

    /// An invalid map error.
    pub fn map(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Map(msg.into()))
    }

    /// An unmapped-ID error.
    pub fn unmapped(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unmapped(msg.into()))
    }

    /// A context error.
    pub fn context(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Context(msg.into()))
    }

    /// A refused (unsafe) member.
    pub fn unsafe_path(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unsafe(msg.into()))
    }

    /// A usage error.
    pub fn usage(msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage(msg.into()))
    }

    /// The file at `path` changed while it was archived.
    pub fn changed(path: impl Into<PathBuf>, msg: impl Into<String>) -> Error {
        Error::new(ErrorKind::Changed(msg.into())).with_path(path)
    }

    /// Attach the path this error concerns (kept if one is already set).
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Error {
        if self.path.is_none() {
            self.path = Some(path.into());
        }
        self
    }

    /// Prefix a description of the larger operation, e.g. "reading archive.tar".
    pub fn with_context(mut self, what: impl Into<String>) -> Error {
        if self.context.is_none() {
            self.context = Some(what.into());
        }
        self
    }

    /// The path this error concerns, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// The kind of error.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The underlying I/O error, if this is one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.kind {
            ErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// True when this is a write to a closed pipe (`alientar list | head`):
    /// the reader is gone, and the command should end quietly.
    pub fn is_broken_pipe(&self) -> bool {
        self.io_error()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// `context: operation path: cause` for I/O errors, `context: path:
    /// message` for the others; the path escaped as `list` shows names.
    fn render(&self) -> String {
        use std::os::unix::ffi::OsStrExt;
        let mut s = String::new();
        if let Some(c) = &self.context {
            s.push_str(c);
            s.push_str(": ");
        }
        let path = self
            .path
            .as_ref()
            .map(|p| crate::quote::escaped(p.as_os_str().as_bytes()));
        match (&self.kind, path) {
            (ErrorKind::Io { op, source }, Some(p)) => {
                match op.split_once("{}") {
                    Some((before, after)) => {
                        s.push_str(before);
                        s.push_str(&p);
                        s.push_str(after);
                    }
                    None => {
                        s.push_str(op);
                        s.push(' ');
                        s.push_str(&p);
                    }
                }
                s.push_str(": ");
                s.push_str(&source.to_string());
            }
            (kind, Some(p)) => {
                s.push_str(&p);
                s.push_str(": ");
                s.push_str(&kind.to_string());
            }
            (kind, None) => s.push_str(&kind.to_string()),
        }
        s
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Error {
    /// The I/O error an operation failed with; the other kinds have no
    /// cause beyond their message.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eperm() -> io::Error {
        io::Error::from_raw_os_error(libc::EPERM)
    }

    /// The cause of an I/O error is reachable as `source()`, as error
    /// reporters (anyhow, eyre) walk it.
    #[test]
    fn source_is_the_io_error() {
        use std::error::Error as _;
        let e = Error::io("cannot open", "a", eperm());
        let src = e.source().expect("an I/O error has a source");
        assert_eq!(src.to_string(), eperm().to_string());
        assert!(Error::format("bad header").source().is_none());
    }

    /// Operation, path, cause: a sentence, the path where the operation
    /// names it (`{}`) or after it.
    #[test]
    fn io_errors_read_as_sentences() {
        let cases = [
            (
                Error::io("cannot set the metadata of", "etc/shadow", eperm()),
                "cannot set the metadata of etc/shadow: Operation not permitted",
            ),
            (
                Error::io("cannot link {} into place", "etc/shadow", eperm()),
                "cannot link etc/shadow into place: Operation not permitted",
            ),
            (
                Error::io("cannot open {} (zeros archived instead)", "a/b", eperm()),
                "cannot open a/b (zeros archived instead): Operation not permitted",
            ),
            (
                Error::io_nopath("cannot read archive", eperm()).with_path("x.tar"),
                "cannot read archive x.tar: Operation not permitted",
            ),
            (
                Error::io_nopath("cannot write listing", eperm()),
                "cannot write listing: Operation not permitted",
            ),
            (
                Error::io("cannot stat", "a", eperm()).with_context("reading x.tar"),
                "reading x.tar: cannot stat a: Operation not permitted",
            ),
            (
                Error::format("bad header").with_path("x.tar"),
                "x.tar: bad header",
            ),
            (
                // A path is shown escaped, as list shows names.
                Error::io("cannot create", "a\nb", eperm()),
                "cannot create a\\nb: Operation not permitted",
            ),
        ];
        for (e, want) in cases {
            let got = e.to_string();
            let got = got.split(" (os error").next().unwrap_or_default();
            assert_eq!(got, want);
        }
    }
}
