//! GNU tar's extract options: what to do with names that exist
//! (`--keep-old-files`, `--skip-old-files`, `--overwrite`), file contents
//! to standard output (`--to-stdout`), modes through the umask
//! (`--no-same-permissions`), and the `--totals` line.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::extract::ExtractOptions;
use crate::member::safe_components;
use crate::pattern::Patterns;
use crate::report::Report;
use crate::sys::Dir;
use crate::tar::Reader;
use crate::transform::Transform;

/// What extract does with a name that exists already.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum OldFiles {
    /// alientar's default: a file is written under a temporary name (or
    /// unnamed) and then put in place of what was there, so the name always
    /// shows the old file or the new one, never a partial one; an existing
    /// directory is kept and gets the archive's metadata. (GNU tar's
    /// default removes the old file first.)
    #[default]
    Replace,
    /// `--overwrite`: an existing regular file is emptied and written in
    /// place, as GNU tar does: the same inode, so its other hard links see
    /// the new contents, but a reader may see it partly written. Other
    /// names are replaced as by default.
    Overwrite,
    /// `-k`/`--keep-old-files`: an existing name is an error (reported,
    /// the file left as it is); an existing directory is left untouched,
    /// its metadata too.
    Keep,
    /// `--skip-old-files`: an existing name is skipped silently; an
    /// existing directory is left untouched, its metadata too.
    Skip,
}

impl OldFiles {
    /// Does an existing name keep this entry out?
    fn keeps_existing(self) -> bool {
        matches!(self, OldFiles::Keep | OldFiles::Skip)
    }
}

/// Which entries extract takes and what it changes in them first: member
/// patterns match the names as stored (as in GNU tar), then the transform
/// renames and `--no-same-permissions` applies the umask.
pub(crate) struct Admit {
    pats: Patterns,
    transform: Option<Transform>,
    umask: Option<u32>,
    keep_root: bool,
}

impl Admit {
    pub(crate) fn new(opts: &ExtractOptions) -> Admit {
        Admit {
            pats: Patterns::new(opts.patterns.iter().cloned()),
            transform: opts.transform.clone().filter(|t| !t.is_empty()),
            umask: opts.apply_umask.then(crate::sys::umask),
            keep_root: opts.old_files.keeps_existing(),
        }
    }

    /// `None`: leave the entry out. Else the entry as it is to be
    /// extracted, and its name as stored when the transform changed it
    /// (what `-v` shows, as GNU tar does).
    pub(crate) fn admit(&mut self, e: &mut Entry) -> Option<Option<Vec<u8>>> {
        if !self.pats.matches(&e.path) {
            return None;
        }
        let mut stored = None;
        if let Some(x) = &self.transform {
            let before = e.path.clone();
            x.apply_entry(e);
            stored = (before != e.path).then_some(before);
        }
        if let Some(m) = self.umask {
            e.mode &= 0o777 & !m;
        }
        // The destination always exists: with -k or --skip-old-files its
        // own metadata stays.
        let root = || safe_components(&e.path).is_ok_and(|(c, _)| c.is_empty());
        if self.keep_root && e.kind == Kind::Dir && root() {
            return None;
        }
        Some(stored)
    }

    /// The patterns no entry matched.
    pub(crate) fn unmatched(&self) -> Vec<String> {
        self.pats.unmatched()
    }
}

/// Finds the names that exist, for `--keep-old-files` and
/// `--skip-old-files` (on the reading thread, after the workers have
/// applied every earlier entry of the same name).
pub(crate) struct Existing {
    policy: OldFiles,
    /// The last parent directory looked up.
    parent: Option<(Vec<u8>, Dir)>,
}

impl Existing {
    pub(crate) fn new(policy: OldFiles) -> Existing {
        Existing {
            policy,
            parent: None,
        }
    }

    /// True when the entry `key` is to be left out because its name
    /// exists; `report` gets the error (`--keep-old-files`). `fresh`: no
    /// earlier entry of this run named this directory (one that did may
    /// have made it: then it is not an old one).
    pub(crate) fn leaves_out(
        &mut self,
        root: &Dir,
        key: &[u8],
        e: &Entry,
        fresh: bool,
        report: &mut dyn FnMut(Error),
    ) -> bool {
        if !self.policy.keeps_existing() || key.is_empty() || (e.kind == Kind::Dir && !fresh) {
            return false;
        }
        let Some(kind) = self.lookup(root, key) else {
            return false;
        };
        let old_dir = kind == rustix::fs::FileType::Directory;
        if self.policy == OldFiles::Keep && !(old_dir && e.kind == Kind::Dir) {
            report(Error::io(
                "cannot overwrite {} (--keep-old-files)",
                std::path::Path::new(std::ffi::OsStr::from_bytes(key)),
                io::Error::from_raw_os_error(rustix::io::Errno::EXIST.raw_os_error()),
            ));
        }
        true
    }

    /// The type of what `key` names now, if anything (a parent that is
    /// missing or not a directory: nothing; the worker reports that).
    fn lookup(&mut self, root: &Dir, key: &[u8]) -> Option<rustix::fs::FileType> {
        let (parent, name) = match key.iter().rposition(|&b| b == b'/') {
            Some(i) => (&key[..i], &key[i + 1..]),
            None => (&key[..0], key),
        };
        if self.parent.as_ref().is_none_or(|(k, _)| k != parent) {
            let comps = crate::member::split(parent);
            self.parent = crate::extract::walk_dirs(root, &comps, false)
                .ok()
                .map(|d| (parent.to_vec(), d));
        }
        let (_, dir) = self.parent.as_ref()?;
        dir.lstat(name).ok().map(|m| m.kind())
    }
}

/// `extract --to-stdout`: the contents of the regular files among the
/// selected members, in archive order, to `out`; nothing is written to
/// disk and owners are not looked at. `on_entry` gets each selected name.
///
/// # Errors
/// The archive cannot be opened, or `out` cannot be written. A damaged
/// archive is [`Report::fatal`], after what came before it was written.
pub fn to_stdout(
    opts: &ExtractOptions,
    out: &mut dyn Write,
    on_entry: &mut dyn FnMut(&[u8]),
) -> Result<Report> {
    let mut report = Report::default();
    let (_, r) = crate::input::open_source(&opts.archive)?;
    let mut rd = Reader::new(r);
    let mut pats = Patterns::new(opts.patterns.iter().cloned());
    let werr = |e: io::Error| Error::io_nopath("cannot write to standard output", e);
    let mut buf = vec![0u8; 128 << 10];
    let archive = opts.archive.display().to_string();
    loop {
        let e = match rd.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(err) => {
                report.fatal = Some(err.with_context(format!("reading {archive}")));
                break;
            }
        };
        if !pats.matches(&e.path) {
            continue;
        }
        on_entry(&e.path);
        report.entries += 1;
        if e.kind == Kind::File
            && let Err(err) = copy_member(&mut rd, &mut buf, out).map_err(werr)?
        {
            report.fatal = Some(err.with_context(format!("reading {archive}")));
            break;
        }
    }
    out.flush().map_err(werr)?;
    report.bytes = rd.position();
    for p in pats.unmatched() {
        report
            .errors
            .push(Error::usage(format!("{p}: not found in archive")));
    }
    Ok(report)
}

/// Copy the current member's data to `out`. `Err`: `out` failed;
/// `Ok(Err)`: the archive did.
fn copy_member<R: io::Read>(
    rd: &mut Reader<R>,
    buf: &mut [u8],
    out: &mut dyn Write,
) -> io::Result<Result<()>> {
    loop {
        match rd.read_data(buf) {
            Ok(0) => return Ok(Ok(())),
            Ok(n) => out.write_all(&buf[..n])?,
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// GNU tar's `--totals` line: `Total bytes written: 10240 (10KiB,
/// 39MiB/s)`, the tar stream's bytes (uncompressed) and their rate over
/// `seconds`.
pub fn totals_line(what: &str, bytes: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 && (bytes as f64 / seconds) < u64::MAX as f64 {
        format!("{}/s", human((bytes as f64 / seconds) as u64))
    } else {
        "?/s".to_string()
    };
    format!("Total bytes {what}: {bytes} ({}, {rate})", human(bytes))
}

/// A byte count as GNU tar's `--totals` shows it (gnulib's
/// `human_readable` with autoscale, powers of 1024, `KiB`-style suffixes,
/// rounded up): `512B`, `2.0KiB`, `9.5KiB`, `10KiB`, `1.5MiB`, `96MiB`.
fn human(n: u64) -> String {
    const BASE: u64 = 1024;
    let mut amount = n;
    // One decimal digit of what was divided away, and whether anything
    // below it was lost: 0 nothing, 1 less than half a digit, 2 half, 3 more.
    let (mut tenths, mut rounding) = (0u64, 0u64);
    let mut exponent = 0usize;
    while amount >= BASE && exponent < 8 {
        let r10 = (amount % BASE) * 10 + tenths;
        let r2 = (r10 % BASE) * 2 + (rounding >> 1);
        amount /= BASE;
        tenths = r10 / BASE;
        rounding = if r2 < BASE {
            u64::from(r2 + rounding != 0)
        } else {
            2 + u64::from(BASE < r2 + rounding)
        };
        exponent += 1;
    }
    let mut decimal = None;
    if exponent > 0 && amount < 10 {
        if rounding > 0 {
            tenths += 1;
            rounding = 0;
            if tenths == 10 {
                amount += 1;
                tenths = 0;
            }
        }
        if amount < 10 {
            decimal = Some(tenths);
            tenths = 0;
        }
    }
    if tenths + rounding > 0 {
        amount += 1;
        if exponent > 0 && amount == BASE && exponent < 8 {
            exponent += 1;
            amount = 1;
            decimal = Some(0);
        }
    }
    let digits = match decimal {
        Some(t) => format!("{amount}.{t}"),
        None => amount.to_string(),
    };
    match exponent {
        0 => format!("{digits}B"),
        e => format!("{digits}{}iB", char::from(b"KMGTPEZY"[e - 1])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures from GNU tar 1.34's `--totals` (sizes of archives it wrote).
    #[test]
    fn human_as_gnu_tar() {
        for (n, want) in [
            (512u64, "512B"),
            (1023, "1023B"),
            (1024, "1.0KiB"),
            (2048, "2.0KiB"),
            (3072, "3.0KiB"),
            (9728, "9.5KiB"),
            (10240, "10KiB"),
            (1505280, "1.5MiB"),
            (15001600, "15MiB"),
            (100003840, "96MiB"),
            (1025, "1.1KiB"),
            (10239, "10KiB"),
            (10241, "11KiB"),
            (1024 * 1024 - 1, "1.0MiB"),
            (10 * 1024 * 1024 + 1, "11MiB"),
        ] {
            assert_eq!(human(n), want, "{n}");
        }
    }

    #[test]
    fn totals() {
        assert_eq!(
            totals_line("written", 10240, 10240.0 / (39.0 * 1048576.0)),
            "Total bytes written: 10240 (10KiB, 39MiB/s)"
        );
        assert_eq!(totals_line("read", 0, 0.0), "Total bytes read: 0 (0B, ?/s)");
    }
}
