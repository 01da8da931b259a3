//! Building one frame on the pool: its bytes copied, its files' spans read
//! (or copied, for small files the walk read). What cannot be read is
//! archived as zeros and reported in [`Notes`]: a member's size was laid
//! out from the walk's `lstat`, so a file that shrank is padded with zeros
//! and one that grew is cut there, as GNU tar does, each reported with GNU
//! tar's words (exit status 1).

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::entry::Time;
use crate::error::Error;
use crate::progress::Progress;
use crate::sys::Dir;
use crate::sys::tree::open_nofollow;
use crate::walk::Prefetched;

/// What a frame is made of.
pub(super) enum FramePart {
    /// Header blocks, padding, trailers: these bytes of the frame's `meta`.
    Bytes(Range<usize>),
    /// A span of a file's data.
    File(FileSpan),
}

/// Where a file's data is: its path, and the data itself if the walk
/// read it.
#[derive(Clone, Default)]
pub(super) struct Source {
    pub(super) path: PathBuf,
    pub(super) data: Option<Arc<Prefetched>>,
}

/// `len` bytes of the file `src` from `offset`.
pub(super) struct FileSpan {
    pub(super) src: Source,
    pub(super) offset: u64,
    pub(super) len: u64,
    /// The file's size when stat'ed.
    pub(super) size: u64,
    /// The file's modification time when stat'ed.
    pub(super) mtime: Time,
    /// This span ends the file's data (the file is then checked for having
    /// changed).
    pub(super) last: bool,
}

/// Problems met by the frame jobs, reported after the archive is written.
#[derive(Default)]
pub(super) struct Notes(std::sync::Mutex<Vec<Error>>);

impl Notes {
    fn push(&self, n: Error) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(n);
    }

    /// Everything noted so far, in the order noted.
    pub(super) fn take(&self) -> Vec<Error> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Build one frame's `len` bytes: copy byte parts from `meta`, read file
/// spans.
pub(super) fn build_frame(
    parts: Vec<FramePart>,
    meta: &[u8],
    len: usize,
    notes: &Notes,
    progress: &Progress,
) -> Vec<u8> {
    let mut out = crate::frame::input_buffer(len);
    let mut files = OpenFiles::default();
    for p in parts {
        match p {
            FramePart::Bytes(r) => out.extend_from_slice(&meta[r]),
            FramePart::File(span) => {
                let len = span.len;
                files.read_span(span, &mut out, notes);
                progress.add_bytes(len);
            }
        }
    }
    out
}

/// The file a frame's spans were last read from, and its directory: a
/// frame's files mostly share one, and opening by name in it saves
/// resolving the whole path.
#[derive(Default)]
struct OpenFiles {
    /// The file (`None` when it could not be opened).
    file: Option<(PathBuf, Option<File>)>,
    dir: Option<(PathBuf, Option<Dir>)>,
}

impl OpenFiles {
    /// Append `span`'s bytes to `out`; what cannot be read becomes zeros.
    fn read_span(&mut self, span: FileSpan, out: &mut Vec<u8>, notes: &Notes) {
        if let Some(data) = &span.src.data {
            return copy_span(&span, data.bytes(), out, notes);
        }
        let (path, offset, len) = (span.src.path, span.offset, span.len);
        // (Compared as bytes: `Path`'s `==` walks both paths' components
        // from the end whenever they differ, which is every new file.)
        if self
            .file
            .as_ref()
            .is_none_or(|(p, _)| p.as_os_str() != path.as_os_str())
        {
            let f = match open_in(&mut self.dir, &path) {
                Ok(f) => Some(f),
                Err(e) => {
                    if offset == 0 {
                        notes.push(unopened(&path, e));
                    }
                    None
                }
            };
            self.file = Some((path, f));
        }
        let (path, f) = self.file.as_ref().expect("opened above");
        let start = out.len();
        if let Some(f) = f {
            let (got, failed) = read_at(f, path, out, offset, len as usize, notes);
            let got = got as u64;
            // A file that shrank is reported by the span its end is in now,
            // once (the spans after it read nothing).
            let now = || crate::sys::fstat(f).map_or(0, |m| m.size);
            if failed {
                // Reported by read_at.
            } else if got < len && (offset + got >= now() || offset == 0) {
                let left = span.size - offset - got;
                notes.push(Error::changed(
                    path,
                    format!("File shrank by {left} bytes; padding with zeros"),
                ));
            } else if got == len && span.last && changed(f, span.size, span.mtime) {
                notes.push(Error::changed(path, "file changed as we read it"));
            }
        }
        out.resize(start + len as usize, 0);
    }
}

/// Append `span`'s bytes of the file whose data the walk read (`data`:
/// one byte more than its size if it grew) to `out`, as
/// [`OpenFiles::read_span`] would read them.
fn copy_span(span: &FileSpan, data: &[u8], out: &mut Vec<u8>, notes: &Notes) {
    let start = span.offset as usize;
    let end = start + span.len as usize;
    let have = &data[start.min(data.len())..end.min(data.len())];
    out.extend_from_slice(have);
    out.resize(out.len() + (span.len as usize - have.len()), 0);
    let size = span.size as usize;
    if data.len() < size && (start..end).contains(&data.len()) {
        // A file that shrank, reported once: by the span its end is in now.
        let left = size - data.len();
        notes.push(Error::changed(
            &span.src.path,
            format!("File shrank by {left} bytes; padding with zeros"),
        ));
    } else if data.len() > size && span.last {
        notes.push(Error::changed(&span.src.path, "file changed as we read it"));
    }
}

/// Append up to `len` bytes of `f` (at `path`) from `offset` to `out`;
/// returns how many it held, and whether a read failed (noted).
fn read_at(
    f: &File,
    path: &Path,
    out: &mut Vec<u8>,
    offset: u64,
    len: usize,
    notes: &Notes,
) -> (usize, bool) {
    let mut got = 0usize;
    while got < len {
        match crate::sys::pread_append(f, out, len - got, offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                notes.push(Error::io(
                    "cannot read {} (zeros archived for the rest)",
                    path,
                    e,
                ));
                return (got, true);
            }
        }
    }
    (got, false)
}

/// A file that could not be opened to be read: gone since the walk (GNU
/// tar's words), or another error. Its member holds zeros.
fn unopened(path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        return Error::changed(
            path,
            format!("{} (zeros archived instead)", crate::walk::REMOVED),
        );
    }
    Error::io("cannot open {} (zeros archived instead)", path, e)
}

/// `f` is no longer as it was stat'ed.
fn changed(f: &File, size: u64, mtime: Time) -> bool {
    crate::sys::fstat(f)
        .map(|m| m.size != size || m.mtime != mtime)
        .unwrap_or(false)
}

/// Open `path` (not following a symlink in its last component) by name in
/// its directory, opened once for a run of files in it (`dir`).
fn open_in(dir: &mut Option<(PathBuf, Option<Dir>)>, path: &Path) -> io::Result<File> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return open_nofollow(path);
    };
    if parent.as_os_str().is_empty() {
        return open_nofollow(path);
    }
    if dir
        .as_ref()
        .is_none_or(|(p, _)| p.as_os_str() != parent.as_os_str())
    {
        *dir = Some((parent.to_path_buf(), Dir::open_nofollow(parent).ok()));
    }
    match dir.as_ref().and_then(|(_, d)| d.as_ref()) {
        Some(d) => d.open_file(name.as_bytes()),
        // A parent that is now a symlink, or cannot be opened: by path.
        None => open_nofollow(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spans of a 10-byte file cut at 4 and 8 whose data the walk read
    /// as `data`: the bytes built, and the notes.
    fn spans_of(data: &[u8]) -> (Vec<u8>, Vec<String>) {
        let data = Arc::new(Prefetched::of(data));
        let notes = Notes::default();
        let mut out = Vec::new();
        for (offset, len) in [(0, 4), (4, 4), (8, 2)] {
            let span = FileSpan {
                src: Source {
                    path: PathBuf::from("t/f"),
                    data: Some(data.clone()),
                },
                offset,
                len,
                size: 10,
                mtime: Time::default(),
                last: offset + len == 10,
            };
            OpenFiles::default().read_span(span, &mut out, &notes);
        }
        (out, notes.take().iter().map(ToString::to_string).collect())
    }

    #[test]
    fn prefetched_data_is_copied_span_by_span() {
        let (out, notes) = spans_of(b"0123456789");
        assert_eq!(out, b"0123456789");
        assert!(notes.is_empty(), "{notes:?}");
    }

    /// As a file read when its frame is built: one that shrank is padded
    /// with zeros and reported once, one that grew is cut and reported.
    #[test]
    fn prefetched_data_that_shrank_or_grew_is_reported_once() {
        let (out, notes) = spans_of(b"012345");
        assert_eq!(out, b"012345\0\0\0\0");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("t/f: File shrank by 4 bytes"),
            "{notes:?}"
        );
        let (out, notes) = spans_of(b"01234567");
        assert_eq!(out, b"01234567\0\0");
        assert_eq!(notes.len(), 1, "{notes:?}");
        let (out, notes) = spans_of(b"0123456789A");
        assert_eq!(out, b"0123456789");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("t/f: file changed as we read it"),
            "{notes:?}"
        );
    }
}
