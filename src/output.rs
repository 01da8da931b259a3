//! The archive `create` and `remap` write, and how it gets where `-f` (or
//! `-o`) says.
//!
//! GNU tar opens whatever is named and writes into it. alientar does the
//! same with everything but a regular file, which it replaces only once
//! the archive is complete, so that a failed run (an unmapped owner, a
//! full disk) leaves the old archive as it was:
//!
//! | the name is | the archive is written |
//! |---|---|
//! | `-`, or another name of standard output's file (`/dev/stdout`) | to standard output |
//! | a device, FIFO or socket, or anything in `/proc` | into it, where it is |
//! | a regular file | as `.NAME.alientar-tmp-PID` beside it, then renamed over it, with its mode, owner, group and ACL |
//! | a regular file with other hard links, or whose owner or ACL a new file cannot have | as above, then copied into it |
//! | nothing yet | as above; the new file's mode is 0666 less the umask |
//!
//! Symlinks are followed: the temporary and the rename are at the target,
//! so the link stays a link. A temporary left by a killed run (its PID no
//! longer a process) is removed by the next run writing the same name.
//!
//! gzip, xz and bzip2 compress the whole stream here, finished (errors
//! checked) before the rename; zstd frames are made by the frame pipeline,
//! which writes them through here as plain bytes.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::sys::{self, Dir};

/// The access ACL, copied from an archive to the one replacing it.
const ACL_XATTR: &str = "system.posix_acl_access";

/// At most this much memory for xz's threads (fewer threads above it).
const XZ_MEMORY: u64 = 1 << 30;

/// The archive being written (see the module's table for where).
pub(crate) struct Output {
    /// What the archive's bytes are written to (taken by the frame pipeline).
    pub(crate) writer: Option<Box<dyn Write + Send>>,
    /// The archive's name in messages.
    pub(crate) display: PathBuf,
    /// The compressor and the file behind `writer`, finished by [`Output::commit`].
    stream: Arc<Mutex<Option<Encoder>>>,
    place: Place,
    /// Device and inode of the regular file written, if it is one.
    id: Option<(u64, u64)>,
    /// Gives a new file its name once it is complete (see
    /// [`Output::name_when_complete`]).
    namer: Option<Namer>,
    /// Sees the uncompressed tar stream as it is written (taken by the
    /// frame pipeline).
    pub(crate) tap: Option<crate::frame::Tap>,
}

/// Names a new archive once it is complete, from its bytes: it is given
/// the file, open for reading.
pub(crate) type Namer = Box<dyn FnOnce(&File) -> io::Result<OsString> + Send>;

/// What happens to the written file when it is complete.
enum Place {
    /// Nothing: standard output, or a file written where it is.
    AsIs,
    /// The temporary `tmp` in `dir` is renamed over `name`.
    Rename {
        dir: Dir,
        tmp: OsString,
        name: OsString,
    },
    /// The temporary `tmp` in `dir` is copied into the old file `into`
    /// (open for writing since the start), then removed.
    CopyInto { dir: Dir, tmp: OsString, into: File },
}

impl Output {
    /// Open the archive `archive` (`-`: standard output), compressed as
    /// `format` says unless it is zstd (made in frames by the caller).
    ///
    /// # Errors
    /// The archive cannot be created or opened for writing.
    pub(crate) fn open(archive: &Path, format: OutFormat) -> Result<Output> {
        let cerr = |e: io::Error| Error::io("cannot create the archive", archive, e);
        let (dest, place, id) = if archive == Path::new("-") {
            (Dest::Stdout(io::stdout()), Place::AsIs, None)
        } else {
            match resolve(archive).map_err(cerr)? {
                Target::AsIs => {
                    let (dest, id) = write_as_is(archive).map_err(cerr)?;
                    (dest, Place::AsIs, id)
                }
                Target::Regular(p, old) => replacing(&p, &old).map_err(cerr)?,
                Target::New(p) => new_file(&p).map_err(cerr)?,
            }
        };
        let display = if archive == Path::new("-") {
            PathBuf::from("standard output")
        } else {
            archive.to_path_buf()
        };
        let mut out = Output {
            writer: None,
            display,
            stream: Arc::new(Mutex::new(None)),
            place,
            id,
            namer: None,
            tap: None,
        };
        // (Made once `out` exists, whose drop removes the temporary.)
        let enc = Encoder::new(dest, format).map_err(cerr)?;
        out.stream = Arc::new(Mutex::new(Some(enc)));
        out.writer = Some(Box::new(Shared(out.stream.clone())));
        Ok(out)
    }

    /// Where scratch data that belongs with the archive may go: the
    /// directory its temporary is written in (the filesystem the user gave
    /// the archive's bytes to), when it is one.
    pub(crate) fn scratch_dir(&self) -> Option<Dir> {
        match &self.place {
            Place::Rename { dir, .. } | Place::CopyInto { dir, .. } => dir.reopen().ok(),
            Place::AsIs => None,
        }
    }

    /// Device and inode of the file being written, when it is a regular file
    /// (the walk leaves it out).
    pub(crate) fn id(&self) -> Option<(u64, u64)> {
        self.id
    }

    /// Name the archive, once complete, as `namer` says (in the directory
    /// of the name it was opened as), instead of that name: a blob named by
    /// its digest. Only a new file can be named so.
    ///
    /// # Errors
    /// The archive is not a new file.
    pub(crate) fn name_when_complete(&mut self, namer: Namer) -> Result<()> {
        if !matches!(self.place, Place::Rename { .. }) {
            return Err(Error::io(
                "cannot write the new file",
                &self.display,
                io::Error::from(io::ErrorKind::AlreadyExists),
            ));
        }
        self.namer = Some(namer);
        Ok(())
    }

    /// The archive is complete: finish the compressor, then put the file in
    /// place. Call once the writer is done with (the frame pipeline
    /// finished, the sink flushed).
    ///
    /// # Errors
    /// The compressor's last write, or the rename or copy, failed. The
    /// old file is then as it was, unless the copy into it (see
    /// [`replacing`]) failed part-way.
    pub(crate) fn commit(mut self) -> Result<()> {
        let werr = |e: io::Error| Error::io("cannot write the archive", &self.display, e);
        let enc = self.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(enc) = enc else {
            return Err(werr(io::Error::other("the archive was already finished")));
        };
        // The file closes here; only the temporary's fate is left.
        drop(enc.finish().map_err(werr)?);
        let namer = self.namer.take();
        match &self.place {
            Place::AsIs => Ok(()),
            Place::Rename { dir, tmp, name } => {
                let name = match namer {
                    Some(namer) => dir.open_file(tmp.as_bytes()).and_then(|f| namer(&f)),
                    None => Ok(name.clone()),
                }
                .map_err(werr)?;
                dir.rename(tmp.as_bytes(), name.as_bytes())
                    .map_err(|e| Error::io("cannot rename the new archive to", &self.display, e))?;
                self.place = Place::AsIs;
                Ok(())
            }
            Place::CopyInto { dir, tmp, into } => copy_into(dir, tmp, into).map_err(werr),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Place::Rename { dir, tmp, .. } | Place::CopyInto { dir, tmp, .. } = &self.place {
            let _ = dir.unlink(tmp.as_bytes(), false);
        }
    }
}

/// An archive file opened: where the bytes go, what happens to it when
/// complete, and its device and inode if it is a regular file.
type Opened = (Dest, Place, Option<(u64, u64)>);

/// What `-f` names, symlinks followed.
enum Target {
    /// Not a regular file, or in /proc: written into as it is.
    AsIs,
    /// The regular file at this path (no symlink in the last component),
    /// as `lstat` saw it.
    Regular(PathBuf, Metadata),
    /// Nothing: a new file at this path (a dangling symlink's target).
    New(PathBuf),
}

/// Follow `archive`'s symlinks one by one to what they lead to.
fn resolve(archive: &Path) -> io::Result<Target> {
    let mut p = archive.to_path_buf();
    // As many links as the kernel follows in one path.
    for _ in 0..40 {
        if in_proc(&p) {
            return Ok(Target::AsIs);
        }
        let m = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::New(p)),
            Err(e) => return Err(e),
        };
        if m.file_type().is_symlink() {
            let to = std::fs::read_link(&p)?;
            p = p.parent().map_or_else(|| to.clone(), |d| d.join(&to));
        } else if m.file_type().is_file() {
            return Ok(Target::Regular(p, m));
        } else {
            return Ok(Target::AsIs);
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// Is `p` a name in /proc (where `/dev/stdout` and `/dev/fd/N` lead)? Such
/// names are the kernel's view of open files: written into, never replaced.
fn in_proc(p: &Path) -> bool {
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::canonicalize(dir).is_ok_and(|d| d.starts_with("/proc"))
}

/// Open what `archive` names for writing where it is: standard output
/// itself when it is standard output's file (no reopening, which a pipe
/// made by another user or a socket would refuse); a regular file reached
/// through /proc is truncated, as GNU tar does; devices and FIFOs are not
/// (truncation means nothing to them).
fn write_as_is(archive: &Path) -> io::Result<(Dest, Option<(u64, u64)>)> {
    let m = std::fs::metadata(archive)?;
    if sys::fstat(io::stdout()).is_ok_and(|o| (o.dev, o.ino) == (m.dev(), m.ino())) {
        return Ok((Dest::Stdout(io::stdout()), None));
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(m.is_file())
        .custom_flags(libc::O_NOCTTY)
        .open(archive)?;
    Ok((Dest::File(f), m.is_file().then(|| (m.dev(), m.ino()))))
}

/// The directory holding `p` (opened) and `p`'s name in it.
fn dir_and_name(p: &Path) -> io::Result<(Dir, OsString)> {
    let name = p
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((Dir::open(dir)?, name.to_os_string()))
}

/// Write a new archive to the new file `p`.
fn new_file(p: &Path) -> io::Result<Opened> {
    let (dir, name) = dir_and_name(p)?;
    let (tmp, f) = temporary(&dir, &name, 0o666)?;
    let id = sys::fstat(&f).ok().map(|m| (m.dev, m.ino));
    Ok((Dest::File(f), Place::Rename { dir, tmp, name }, id))
}

/// A new temporary `.NAME.alientar-tmp-PID` in `dir` (never through a
/// symlink), after removing those of dead processes.
fn temporary(dir: &Dir, name: &OsStr, mode: u32) -> io::Result<(OsString, File)> {
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".alientar-tmp-");
    dir.remove_stale_files(prefix.as_bytes());
    let mut tmp = prefix;
    tmp.push(std::process::id().to_string());
    match dir.create_file(tmp.as_bytes(), mode) {
        Ok(f) => Ok((tmp, f)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Our own name: left by an earlier process with this PID.
            dir.unlink(tmp.as_bytes(), false)?;
            Ok((tmp.clone(), dir.create_file(tmp.as_bytes(), mode)?))
        }
        Err(e) => Err(e),
    }
}

/// Write a new archive to replace the regular file `p` (`old`): renamed
/// over it when the new file can have its owner, group, mode and ACL,
/// else copied into it.
///
/// A hard-linked archive is copied into, not renamed over, so that every
/// name keeps showing the same file. GNU tar writes into the old file from
/// the start; writing a temporary first and copying it in only once it is
/// complete keeps the old archive intact when the run fails (an unmapped
/// owner, a full disk) — the copy itself is not atomic, and costs one more
/// write of the archive (`copy_file_range`, within the filesystem).
fn replacing(p: &Path, old: &Metadata) -> io::Result<Opened> {
    let (dir, name) = dir_and_name(p)?;
    let (tmp, f) = temporary(&dir, &name, 0o600)?;
    let id = sys::fstat(&f).ok().map(|m| (m.dev, m.ino));
    let keep = if old.nlink() > 1 {
        Err(io::Error::other("hard-linked"))
    } else {
        keep_attributes(&f, p, old)
    };
    if keep.is_ok() {
        return Ok((Dest::File(f), Place::Rename { dir, tmp, name }, id));
    }
    // Opened now, so that a file we may not write fails the run before it
    // starts rather than after.
    match std::fs::OpenOptions::new().write(true).open(p) {
        Ok(into) => Ok((Dest::File(f), Place::CopyInto { dir, tmp, into }, id)),
        Err(e) => {
            let _ = dir.unlink(tmp.as_bytes(), false);
            Err(e)
        }
    }
}

/// Give the new file `f` the old file's (`p`, `old`) owner, group, mode and
/// access ACL.
fn keep_attributes(f: &File, p: &Path, old: &Metadata) -> io::Result<()> {
    let new = sys::fstat(f)?;
    if (new.uid, new.gid) != (old.uid(), old.gid()) {
        sys::fchown(f, old.uid(), old.gid())?;
    }
    // After the owner: a change of owner clears setuid and setgid.
    sys::fchmod(f, old.mode() & 0o7777)?;
    match sys::getxattr(p, ACL_XATTR)? {
        Some(acl) => sys::fsetxattr(f, ACL_XATTR, &acl),
        // One inherited from the directory's default ACL is not the old file's.
        None => sys::fremovexattr(f, ACL_XATTR),
    }
}

/// Copy the complete temporary `tmp` (in `dir`) into the old file `into`.
fn copy_into(dir: &Dir, tmp: &OsStr, into: &File) -> io::Result<()> {
    let mut from = dir.open_file(tmp.as_bytes())?;
    into.set_len(0)?;
    let mut to = into;
    io::copy(&mut from, &mut to)?;
    Ok(())
}

/// Where the archive's bytes go.
enum Dest {
    Stdout(io::Stdout),
    File(File),
}

impl Write for Dest {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Dest::Stdout(o) => o.write(b),
            Dest::File(f) => f.write(b),
        }
    }
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Dest::Stdout(o) => o.write_all(b),
            Dest::File(f) => f.write_all(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Dest::Stdout(o) => o.flush(),
            Dest::File(f) => f.flush(),
        }
    }
}

/// The stream compressor in front of the destination (zstd and plain tar:
/// none).
enum Encoder {
    Plain(Dest),
    Gzip(flate2::write::GzEncoder<Dest>),
    Xz(XzWriter),
    Bzip2(bzip2::write::BzEncoder<Dest>),
}

impl Encoder {
    fn new(d: Dest, format: OutFormat) -> io::Result<Encoder> {
        Ok(match format {
            OutFormat::Gzip(l) => Encoder::Gzip(flate2::write::GzEncoder::new(
                d,
                flate2::Compression::new(l),
            )),
            OutFormat::Xz(l) => Encoder::Xz(XzWriter::new(d, l)?),
            OutFormat::Bzip2(l) => {
                Encoder::Bzip2(bzip2::write::BzEncoder::new(d, bzip2::Compression::new(l)))
            }
            OutFormat::Zstd(_) | OutFormat::Plain => Encoder::Plain(d),
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Encoder::Plain(d) => d,
            Encoder::Gzip(e) => e,
            Encoder::Xz(e) => e,
            Encoder::Bzip2(e) => e,
        }
    }

    /// Write the compressor's last bytes and flush: the archive is whole.
    fn finish(self) -> io::Result<Dest> {
        let mut d = match self {
            Encoder::Plain(d) => d,
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Xz(e) => e.finish()?,
            Encoder::Bzip2(e) => e.finish()?,
        };
        d.flush()?;
        Ok(d)
    }
}

/// The encoder as the frame pipeline (on its own thread) or a sink writes
/// to it; the [`Output`] keeps it to finish it.
struct Shared(Arc<Mutex<Option<Encoder>>>);

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut Encoder) -> io::Result<T>) -> io::Result<T> {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(e) => f(e),
            None => Err(io::Error::other("the archive was already finished")),
        }
    }
}

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.with(|e| e.writer().write(b))
    }
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        self.with(|e| e.writer().write_all(b))
    }
    /// Plain output is flushed; a compressor is not before it finishes (a
    /// flush mid-stream costs compression, and means nothing to the
    /// archive).
    fn flush(&mut self) -> io::Result<()> {
        self.with(|e| match e {
            Encoder::Plain(d) => d.flush(),
            _ => Ok(()),
        })
    }
}

/// An xz stream, multithreaded (blocks compressed in parallel; the output
/// does not depend on the number of threads), driven here rather than by
/// `xz2::write::XzEncoder`, which panics on a liblzma error.
struct XzWriter {
    stream: xz2::stream::Stream,
    buf: Vec<u8>,
    out: Dest,
}

impl XzWriter {
    fn new(out: Dest, level: u32) -> io::Result<XzWriter> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut b = xz2::stream::MtStreamBuilder::new();
        b.preset(level).check(xz2::stream::Check::Crc64);
        let mut n = u32::try_from(threads).unwrap_or(1);
        loop {
            b.threads(n);
            if n <= 1 || b.memusage() <= XZ_MEMORY {
                break;
            }
            n -= 1;
        }
        Ok(XzWriter {
            stream: b.encoder().map_err(io::Error::other)?,
            buf: Vec::with_capacity(1 << 16),
            out,
        })
    }

    /// Run liblzma on `data` with `action`; write what it made.
    fn process(&mut self, data: &[u8], action: xz2::stream::Action) -> io::Result<(usize, bool)> {
        self.buf.clear();
        let before = self.stream.total_in();
        let status = self
            .stream
            .process_vec(data, &mut self.buf, action)
            .map_err(io::Error::other)?;
        self.out.write_all(&self.buf)?;
        let used = (self.stream.total_in() - before) as usize;
        Ok((used, status == xz2::stream::Status::StreamEnd))
    }

    fn finish(mut self) -> io::Result<Dest> {
        while !self.process(&[], xz2::stream::Action::Finish)?.1 {}
        Ok(self.out)
    }
}

impl Write for XzWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            let (used, _) = self.process(data, xz2::stream::Action::Run)?;
            if used > 0 || data.is_empty() {
                return Ok(used);
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xz_of(data: &[u8], threads: u32) -> Vec<u8> {
        let mut b = xz2::stream::MtStreamBuilder::new();
        b.preset(1)
            .check(xz2::stream::Check::Crc64)
            .threads(threads)
            .block_size(1 << 20);
        let tmp = tempfile::tempfile().unwrap();
        let mut w = XzWriter {
            stream: b.encoder().unwrap(),
            buf: Vec::with_capacity(1 << 16),
            out: Dest::File(tmp),
        };
        w.write_all(data).unwrap();
        let Dest::File(mut f) = w.finish().unwrap() else {
            unreachable!()
        };
        use std::io::{Read, Seek};
        f.rewind().unwrap();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        v
    }

    /// The same bytes make the same xz stream whatever the number of
    /// threads (archives are reproducible across machines).
    #[test]
    fn xz_output_does_not_depend_on_threads() {
        let data = crate::testutil::noise(3, 3 << 20);
        let one = xz_of(&data, 1);
        assert_eq!(one, xz_of(&data, 4));
        let mut back = Vec::new();
        use std::io::Read;
        xz2::read::XzDecoder::new_multi_decoder(&one[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }
}

/// Output compression.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OutFormat {
    /// Independent zstd frames at this level, plus a seek table.
    Zstd(i32),
    /// One gzip stream at this level (1–9).
    Gzip(u32),
    /// One xz stream at this level (0–9).
    Xz(u32),
    /// One bzip2 stream at this level (1–9).
    Bzip2(u32),
    /// Plain tar.
    Plain,
}

impl OutFormat {
    /// The format the archive's file name asks for, by its last suffix as
    /// GNU tar's `--auto-compress` reads it (`.zst`, `.tzst` → zstd level
    /// 3; `.gz`, `.tgz`, `.taz` → gzip 6; `.xz`, `.txz` → xz 6; `.bz2`,
    /// `.tbz`, `.tbz2`, `.tz2` → bzip2 9; anything else → plain).
    pub fn from_name(p: &Path) -> OutFormat {
        match p.extension().and_then(|e| e.to_str()) {
            Some("zst" | "tzst") => OutFormat::Zstd(3),
            Some("gz" | "tgz" | "taz") => OutFormat::Gzip(6),
            Some("xz" | "txz") => OutFormat::Xz(6),
            Some("bz2" | "tbz" | "tbz2" | "tz2") => OutFormat::Bzip2(9),
            _ => OutFormat::Plain,
        }
    }

    /// The compressor a name asks for that alientar cannot write (GNU tar
    /// runs lzip, lzma, lzop or compress for these).
    pub fn unsupported_in_name(p: &Path) -> Option<&'static str> {
        match p.extension().and_then(|e| e.to_str())? {
            "lz" => Some("lzip"),
            "lzma" | "tlz" => Some("lzma"),
            "lzo" => Some("lzop"),
            "Z" | "taZ" => Some("compress"),
            _ => None,
        }
    }

    /// The same compressor at `level`.
    ///
    /// # Errors
    /// A level the compressor does not have (zstd 1–19, gzip and bzip2
    /// 1–9, xz 0–9), named with the range.
    pub fn with_level(self, level: u32) -> std::result::Result<OutFormat, String> {
        let (name, lo, hi) = match self {
            OutFormat::Zstd(_) => ("zstd", 1, 19),
            OutFormat::Gzip(_) => ("gzip", 1, 9),
            OutFormat::Xz(_) => ("xz", 0, 9),
            OutFormat::Bzip2(_) => ("bzip2", 1, 9),
            OutFormat::Plain => return Ok(self),
        };
        if !(lo..=hi).contains(&level) {
            return Err(format!("--level {level}: {name} levels are {lo} to {hi}"));
        }
        Ok(match self {
            OutFormat::Zstd(_) => OutFormat::Zstd(level as i32),
            OutFormat::Gzip(_) => OutFormat::Gzip(level),
            OutFormat::Xz(_) => OutFormat::Xz(level),
            OutFormat::Bzip2(_) => OutFormat::Bzip2(level),
            OutFormat::Plain => OutFormat::Plain,
        })
    }
}
