//! `extract`: archive → tree.
//!
//! Each entry's context IDs are turned into host IDs through the map chosen
//! for its label (or the `--map`/`--context` override), then an owner sink
//! applies them. Every name is resolved one component at a time under the
//! destination's directory handle with `O_NOFOLLOW` ([`crate::sys`]), so no
//! member — absolute, with `..`, or behind a symlink an earlier member made —
//! lands outside the destination. Regular files, symlinks, devices and hard
//! links are made under a temporary name and renamed into place: an error or
//! a kill never leaves a truncated file under its final name. Directory
//! metadata is applied last, deepest first.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;

use rustix::fs::FileType;

use crate::context::Registry;
use crate::create::{OwnerOptions, Report};
use crate::entry::{Entry, Kind, LABEL_XATTR};
use crate::error::{Error, Result};
use crate::list::MapChooser;
use crate::pattern::Patterns;
use crate::sys::{self, Dir};
use crate::tar::Reader;
use crate::translate::{Direction, translate};

/// How owners land on disk.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Owners {
    /// `chown` when privileged, else `none` (with a warning when owners are lost).
    Auto,
    /// Real owners with `fchownat` (root or `CAP_CHOWN`).
    Chown,
    /// Owners dropped, like `tar --no-same-owner`; setuid/setgid bits are dropped with them.
    None,
}

/// What to extract.
#[derive(Clone, Debug)]
pub struct ExtractOptions {
    /// The archive (`-` for stdin).
    pub archive: PathBuf,
    /// `-C`: the destination directory (must exist).
    pub dest: PathBuf,
    /// Member patterns; empty extracts everything.
    pub patterns: Vec<Vec<u8>>,
    /// Ownership options.
    pub owners: OwnerOptions,
    /// The owner sink.
    pub sink: Owners,
}

/// Split a member name into safe components: a leading `/` is removed
/// (reported by the flag), empty and `.` components are dropped.
///
/// # Errors
/// A `..` component.
pub fn safe_components(path: &[u8]) -> std::result::Result<(Vec<&[u8]>, bool), String> {
    let stripped = path.starts_with(b"/");
    let mut out = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(
                    "member name contains '..': refusing to write outside the destination".into(),
                );
            }
            c => out.push(c),
        }
    }
    Ok((out, stripped))
}

struct Extractor {
    dest: PathBuf,
    root: Dir,
    chown: bool,
    cache: Option<(Vec<u8>, Dir)>,
    tmp_counter: u64,
    deferred: Vec<(Vec<u8>, Entry)>,
    dir_labels: HashMap<Vec<u8>, Option<String>>,
    warnings: BTreeMap<String, u64>,
}

fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

impl Extractor {
    fn tmp_name(&mut self) -> Vec<u8> {
        self.tmp_counter += 1;
        format!(".alientar-{}-{}", std::process::id(), self.tmp_counter).into_bytes()
    }

    fn warn(&mut self, what: impl Into<String>) {
        *self.warnings.entry(what.into()).or_insert(0) += 1;
    }

    /// The directory holding `comps`' last component, created as needed.
    fn parent(&mut self, comps: &[&[u8]]) -> io::Result<&Dir> {
        let parent = &comps[..comps.len() - 1];
        let key = join(parent);
        if self.cache.as_ref().is_some_and(|(k, _)| *k == key) {
            return Ok(&self.cache.as_ref().expect("checked").1);
        }
        let d = walk_dirs(&self.root, parent, true)?;
        self.cache = Some((key, d));
        Ok(&self.cache.as_ref().expect("just set").1)
    }

    /// Should this entry carry the label xattr (its label differs from its parent's)?
    fn wants_label(&self, comps: &[&[u8]], e: &Entry) -> bool {
        if e.label.is_none() || e.kind == Kind::Symlink {
            return false;
        }
        if comps.is_empty() {
            return true;
        }
        let parent = join(&comps[..comps.len() - 1]);
        match self.dir_labels.get(&parent) {
            Some(l) => *l != e.label,
            None => true,
        }
    }

    /// Owner, mode, xattrs and mtime on an open file or directory, in that
    /// order (chown clears setuid bits and capabilities; they are set after).
    fn apply_fd(&mut self, fd: &impl std::os::fd::AsFd, e: &Entry, label: bool) -> io::Result<()> {
        if self.chown {
            sys::fchown(fd, e.uid as u32, e.gid as u32)?;
        }
        let mode = if self.chown { e.mode } else { e.mode & !0o6000 };
        sys::fchmod(fd, mode)?;
        for (k, v) in &e.xattrs {
            if let Err(err) = sys::fsetxattr(fd, k, v) {
                self.warn(format!("cannot set xattr {k}: {err}"));
            }
        }
        if label
            && let Some(l) = &e.label
            && let Err(err) = sys::fsetxattr(fd, LABEL_XATTR, l.as_bytes())
        {
            self.warn(format!("cannot set the label xattr {LABEL_XATTR}: {err}"));
        }
        sys::futimens(fd, e.mtime)
    }

    /// Rename `tmp` over `name`, replacing an empty directory if need be.
    fn place(dir: &Dir, tmp: &[u8], name: &[u8]) -> io::Result<bool> {
        match dir.rename(tmp, name) {
            Ok(()) => Ok(false),
            Err(e) if matches!(e.raw_os_error(), Some(c) if c == rustix::io::Errno::ISDIR.raw_os_error() || c == rustix::io::Errno::NOTEMPTY.raw_os_error() || c == rustix::io::Errno::EXIST.raw_os_error()) =>
            {
                dir.unlink(name, true)?;
                dir.rename(tmp, name)?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    fn extract_one<R: io::Read>(
        &mut self,
        rd: &mut Reader<R>,
        comps: &[&[u8]],
        e: &Entry,
    ) -> Result<()> {
        let path = String::from_utf8_lossy(&join(comps)).into_owned();
        if comps.is_empty() {
            if e.kind == Kind::Dir {
                self.dir_labels.insert(Vec::new(), e.label.clone());
                self.deferred.push((Vec::new(), e.clone()));
                return Ok(());
            }
            return Err(Error::unsafe_path("member has an empty name").with_path(e.display_path()));
        }
        let label = self.wants_label(comps, e);
        let name = comps[comps.len() - 1];
        let tmp = self.tmp_name();
        let chown = self.chown;
        let io_err = |op: &str, err: io::Error| Error::io(op, &path, err);
        if let Err(err) = self.parent(comps) {
            let msg = if err.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
                || err.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error())
            {
                "cannot create: a parent directory is a symlink or not a directory (not followed)"
                    .to_string()
            } else {
                "cannot create parent directory".to_string()
            };
            return Err(io_err(&msg, err));
        }
        match e.kind {
            Kind::Dir => {
                let dir = self.parent(comps).expect("resolved above");
                match dir.lstat(name) {
                    Ok(st) if st.kind == FileType::Directory => {}
                    Ok(_) => {
                        dir.unlink(name, false)
                            .map_err(|x| io_err("cannot replace with a directory", x))?;
                        dir.mkdir(name, 0o700)
                            .map_err(|x| io_err("cannot create directory", x))?;
                    }
                    Err(_) => dir
                        .mkdir(name, 0o700)
                        .map_err(|x| io_err("cannot create directory", x))?,
                }
                let key = join(comps);
                self.dir_labels.insert(key.clone(), e.label.clone());
                self.deferred.push((key, e.clone()));
                Ok(())
            }
            Kind::File => {
                let dir = self.parent(comps).expect("resolved above");
                let mut f = dir
                    .create_file(&tmp, 0o600)
                    .map_err(|x| io_err("cannot create", x))?;
                let r = (|| -> Result<()> {
                    let mut buf = vec![0u8; 256 << 10];
                    loop {
                        let n = rd.read_data(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        f.write_all(&buf[..n])
                            .map_err(|x| io_err("cannot write", x))?;
                    }
                    Ok(())
                })();
                let r = r.and_then(|()| {
                    self.apply_fd(&f, e, label)
                        .map_err(|x| io_err("cannot set metadata of", x))
                });
                drop(f);
                let dir = &self.cache.as_ref().expect("resolved above").1;
                let r = r.and_then(|()| {
                    Self::place(dir, &tmp, name).map_err(|x| io_err("cannot rename into place", x))
                });
                if r.is_err() {
                    let _ = dir.unlink(&tmp, false);
                }
                self.after_replace(r)
            }
            Kind::Symlink => {
                let target = e.link.clone().unwrap_or_default();
                let dir = self.parent(comps).expect("resolved above");
                dir.symlink(&target, &tmp)
                    .map_err(|x| io_err("cannot create symlink", x))?;
                let r = (|| -> io::Result<()> {
                    if chown {
                        dir.lchown(&tmp, e.uid as u32, e.gid as u32)?;
                    }
                    dir.set_mtime(&tmp, e.mtime)
                })()
                .map_err(|x| io_err("cannot set metadata of", x));
                let r = r.and_then(|()| {
                    Self::place(dir, &tmp, name).map_err(|x| io_err("cannot rename into place", x))
                });
                if r.is_err() {
                    let _ = dir.unlink(&tmp, false);
                }
                self.after_replace(r)
            }
            Kind::HardLink => {
                let target = e.link.clone().unwrap_or_default();
                let (tcomps, _) = safe_components(&target).map_err(|m| {
                    Error::unsafe_path(format!("hard link target: {m}")).with_path(&path)
                })?;
                if tcomps.is_empty() {
                    return Err(Error::unsafe_path("hard link to an empty name").with_path(&path));
                }
                if tcomps == comps {
                    return Ok(());
                }
                let tdir =
                    walk_dirs(&self.root, &tcomps[..tcomps.len() - 1], false).map_err(|x| {
                        io_err(
                            &format!(
                                "cannot find hard link target {}",
                                String::from_utf8_lossy(&target)
                            ),
                            x,
                        )
                    })?;
                let dir = self.parent(comps).expect("resolved above");
                dir.hardlink(&tdir, tcomps[tcomps.len() - 1], &tmp)
                    .map_err(|x| {
                        io_err(
                            &format!("cannot hard-link to {}", String::from_utf8_lossy(&target)),
                            x,
                        )
                    })?;
                let r =
                    Self::place(dir, &tmp, name).map_err(|x| io_err("cannot rename into place", x));
                // Renaming over another link to the same inode is a no-op that leaves tmp.
                let _ = dir.unlink(&tmp, false);
                self.after_replace(r)
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                let ft = match e.kind {
                    Kind::Char => FileType::CharacterDevice,
                    Kind::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dir = self.parent(comps).expect("resolved above");
                if let Err(x) = dir.mknod(&tmp, ft, 0o600, e.dev_major, e.dev_minor) {
                    if e.kind.is_device()
                        && x.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error())
                    {
                        self.warn(
                            "device nodes not created: creating them needs root (CAP_MKNOD)"
                                .to_string(),
                        );
                        return Ok(());
                    }
                    return Err(io_err("cannot create", x));
                }
                let mut warns = Vec::new();
                let r = (|| -> io::Result<()> {
                    if chown {
                        dir.lchown(&tmp, e.uid as u32, e.gid as u32)?;
                    }
                    dir.chmod(&tmp, if chown { e.mode } else { e.mode & !0o6000 })?;
                    for (k, v) in &e.xattrs {
                        if let Err(err) = dir.lsetxattr(&tmp, k, v) {
                            warns.push(format!("cannot set xattr {k}: {err}"));
                        }
                    }
                    if label
                        && let Some(l) = &e.label
                        && let Err(err) = dir.lsetxattr(&tmp, LABEL_XATTR, l.as_bytes())
                    {
                        warns.push(format!("cannot set the label xattr {LABEL_XATTR}: {err}"));
                    }
                    dir.set_mtime(&tmp, e.mtime)
                })()
                .map_err(|x| io_err("cannot set metadata of", x));
                let r = r.and_then(|()| {
                    Self::place(dir, &tmp, name).map_err(|x| io_err("cannot rename into place", x))
                });
                if r.is_err() {
                    let _ = dir.unlink(&tmp, false);
                }
                for w in warns {
                    self.warn(w);
                }
                self.after_replace(r)
            }
        }
    }

    /// A directory may have been replaced: forget the cached handle.
    fn after_replace(&mut self, r: Result<bool>) -> Result<()> {
        if matches!(r, Ok(true)) {
            self.cache = None;
        }
        r.map(|_| ())
    }

    fn finish_dirs(&mut self, errors: &mut Vec<Error>) {
        let mut deferred = std::mem::take(&mut self.deferred);
        // Deepest first; for equal depth, later entries first.
        deferred.reverse();
        deferred.sort_by_key(|(k, _)| {
            std::cmp::Reverse(k.iter().filter(|&&b| b == b'/').count() + usize::from(!k.is_empty()))
        });
        self.cache = None;
        for (key, e) in deferred {
            let comps: Vec<&[u8]> = key
                .split(|&b| b == b'/')
                .filter(|c| !c.is_empty())
                .collect();
            let shown = if key.is_empty() {
                self.dest.display().to_string()
            } else {
                String::from_utf8_lossy(&key).into_owned()
            };
            let label = comps.is_empty() || self.wants_label(&comps, &e);
            let d = if comps.is_empty() {
                Dir::open(&self.dest)
            } else {
                walk_dirs(&self.root, &comps, false)
            };
            let r = d.and_then(|d| self.apply_fd(&d.fd(), &e, label));
            if let Err(x) = r {
                errors.push(Error::io("cannot set directory metadata of", shown, x));
            }
        }
    }
}

/// Open `comps` under `root` one component at a time without following
/// symlinks, creating missing directories (mode 0755) when `create`.
fn walk_dirs(root: &Dir, comps: &[&[u8]], create: bool) -> io::Result<Dir> {
    let mut cur: Option<Dir> = None;
    for c in comps {
        let base = cur.as_ref().unwrap_or(root);
        let next = match base.open_dir(c) {
            Ok(d) => d,
            Err(e)
                if create && e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) =>
            {
                match base.mkdir(c, 0o755) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) => {
                    }
                    Err(e) => return Err(e),
                }
                base.open_dir(c)?
            }
            Err(e) => return Err(e),
        };
        cur = Some(next);
    }
    match cur {
        Some(d) => Ok(d),
        None => root.open_dir(b"."),
    }
}

/// Extract an archive. `on_entry` is called with each member name (for `-v`).
///
/// # Errors
/// A missing destination, an unreadable or malformed archive (entries
/// before the damage are complete), or an unknown context. Per-entry
/// problems (a refused name, an unmapped ID, a failed syscall) are in the
/// report and the run goes on.
///
/// # Security
/// Nothing is written outside `dest`; see the module documentation.
pub fn extract(
    opts: &ExtractOptions,
    reg: &Registry,
    on_entry: &mut dyn FnMut(&[u8]),
) -> Result<Report> {
    let mut report = Report::default();
    let root = Dir::open(&opts.dest)
        .map_err(|e| Error::io("cannot open destination directory", &opts.dest, e))?;
    let privileged = sys::privileged();
    let chown = match opts.sink {
        Owners::Chown => true,
        Owners::None => false,
        Owners::Auto => privileged,
    };
    let mut x = Extractor {
        dest: opts.dest.clone(),
        root,
        chown,
        cache: None,
        tmp_counter: 0,
        deferred: Vec::new(),
        dir_labels: HashMap::new(),
        warnings: BTreeMap::new(),
    };
    let (_, r) = crate::input::open(&opts.archive)?;
    let mut rd = Reader::new(r);
    let mut pats = Patterns::new(opts.patterns.iter().cloned());
    let mut chooser = MapChooser::new(reg, &opts.owners)?;
    let me = (
        u64::from(rustix::process::getuid().as_raw()),
        u64::from(rustix::process::getgid().as_raw()),
    );
    let archive = opts.archive.display().to_string();
    let mut fatal = None;
    loop {
        let mut e = match rd.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(err) => {
                fatal = Some(err.with_context(format!("reading {archive}")));
                break;
            }
        };
        if !pats.matches(&e.path) {
            continue;
        }
        let (comps, stripped) = match safe_components(&e.path) {
            Ok((c, s)) => (c.into_iter().map(<[u8]>::to_vec).collect::<Vec<_>>(), s),
            Err(m) => {
                report
                    .errors
                    .push(Error::unsafe_path(m).with_path(e.display_path()));
                continue;
            }
        };
        if stripped {
            x.warn("Removing leading '/' from member names".to_string());
        }
        match chooser.for_entry(&e) {
            Ok(Some((maps, what))) => {
                if let Err(err) = translate(
                    &mut e,
                    &maps,
                    Direction::ToHost,
                    opts.owners.unmapped,
                    &what,
                ) {
                    report.errors.push(err);
                    continue;
                }
            }
            Ok(None) => {}
            Err(err) => {
                fatal = Some(err);
                break;
            }
        }
        if e.uid >= u64::from(u32::MAX) || e.gid >= u64::from(u32::MAX) {
            report.errors.push(
                Error::unmapped(format!(
                    "owner {}:{} is not a valid pair of IDs",
                    e.uid, e.gid
                ))
                .with_path(e.display_path()),
            );
            continue;
        }
        if !chown && opts.sink == Owners::Auto && (e.uid, e.gid) != me {
            x.warn("owners not restored: not running as root (owners dropped as with `tar --no-same-owner`)".to_string());
        }
        let comps: Vec<&[u8]> = comps.iter().map(Vec::as_slice).collect();
        match x.extract_one(&mut rd, &comps, &e) {
            Ok(()) => {
                on_entry(&e.path);
                report.entries += 1;
            }
            Err(err) if matches!(err.kind(), crate::error::ErrorKind::Format(_)) => {
                fatal = Some(err.with_context(format!("reading {archive}")));
                break;
            }
            Err(err) => report.errors.push(err),
        }
    }
    let mut dir_errors = Vec::new();
    x.finish_dirs(&mut dir_errors);
    report.errors.extend(dir_errors);
    for (w, n) in std::mem::take(&mut x.warnings) {
        report.warnings.push(if n > 1 {
            format!("{w} ({n} entries)")
        } else {
            w
        });
    }
    if let Some(f) = fatal {
        for e in report.errors.drain(..) {
            eprintln!("alientar: {e}");
        }
        return Err(f);
    }
    for p in pats.unmatched() {
        report
            .errors
            .push(Error::usage(format!("{p}: not found in archive")));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_table() {
        let cases: &[(&str, Result<(Vec<&str>, bool), ()>)] = &[
            ("etc/shadow", Ok((vec!["etc", "shadow"], false))),
            ("/etc//shadow", Ok((vec!["etc", "shadow"], true))),
            ("./etc/./x/", Ok((vec!["etc", "x"], false))),
            (".", Ok((vec![], false))),
            ("", Ok((vec![], false))),
            ("../x", Err(())),
            ("a/../../x", Err(())),
            ("a/..", Err(())),
            ("..foo/x", Ok((vec!["..foo", "x"], false))),
        ];
        for (p, want) in cases {
            let got = safe_components(p.as_bytes())
                .map(|(c, s)| {
                    (
                        c.iter()
                            .map(|c| std::str::from_utf8(c).unwrap())
                            .collect::<Vec<_>>(),
                        s,
                    )
                })
                .map_err(|_| ());
            assert_eq!(&got, want, "{p}");
        }
    }
}
