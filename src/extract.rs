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
use std::rc::Rc;

use rustix::fs::FileType;

use crate::context::Registry;
use crate::create::{OwnerOptions, Report};
use crate::entry::{Entry, Kind, LABEL_XATTR};
use crate::error::{Error, Result};
use crate::list::MapChooser;
use crate::ondisk::OVERRIDE_XATTR;
use crate::pattern::Patterns;
use crate::sink::{Applied, Devices, Sink};
use crate::sys::{self, Dir};
use crate::tar::Reader;
use crate::translate::{Direction, translate};

/// How owners land on disk (see [`crate::sink`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owners {
    /// `chown` when privileged; else `userns` when `newuidmap` exists and
    /// the user's subordinate ranges cover the map; else an error at the
    /// first entry that needs a foreign owner, naming the sinks that work.
    Auto,
    /// Real owners with `fchownat` (root or `CAP_CHOWN`).
    Chown,
    /// Real owners inside a user namespace built with `newuidmap`.
    Userns,
    /// Owned by the user; true owners in `user.containers.override_stat`.
    Xattr,
    /// Owned by the user; true owners in an mtree spec written to this file.
    Manifest(PathBuf),
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
    sink: Box<dyn Sink>,
    cache: Option<(Vec<u8>, Rc<Dir>)>,
    tmp_counter: u64,
    deferred: Vec<(Vec<u8>, Entry, Entry)>,
    dir_labels: HashMap<Vec<u8>, Option<String>>,
    warnings: BTreeMap<String, u64>,
    /// Symlink owners to record on their directories (xattr sink).
    symlink_owners: BTreeMap<Vec<u8>, Vec<(Vec<u8>, u32, u32)>>,
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
    fn parent(&mut self, comps: &[&[u8]]) -> io::Result<Rc<Dir>> {
        let parent = &comps[..comps.len() - 1];
        let key = join(parent);
        if let Some((k, d)) = &self.cache
            && *k == key
        {
            return Ok(d.clone());
        }
        let d = Rc::new(walk_dirs(&self.root, parent, true)?);
        self.cache = Some((key, d.clone()));
        Ok(d)
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
    fn apply_fd(
        &mut self,
        fd: &impl std::os::fd::AsFd,
        a: &Applied,
        label: bool,
    ) -> io::Result<()> {
        if let Some((u, g)) = self.sink.owner(a) {
            sys::fchown(fd, u, g)?;
        }
        // xattrs before the mode: user xattrs need write permission, and a
        // capability must come after chown (which clears it).
        for (k, v) in self.sink.xattrs(a) {
            if let Err(err) = sys::fsetxattr(fd, &k, &v) {
                self.warn(format!("cannot set xattr {k}: {err}"));
            }
        }
        if label
            && let Some(l) = &a.ctx.label
            && let Err(err) = sys::fsetxattr(fd, LABEL_XATTR, l.as_bytes())
        {
            self.warn(format!("cannot set the label xattr {LABEL_XATTR}: {err}"));
        }
        sys::fchmod(fd, self.sink.mode(a))?;
        sys::futimens(fd, a.ctx.mtime)
    }

    /// Owner, mode, xattrs and mtime of a FIFO or device we just made as `name`.
    fn apply_at(
        &mut self,
        dir_owner: &Dir,
        name: &[u8],
        a: &Applied,
        label: bool,
    ) -> io::Result<()> {
        if let Some((u, g)) = self.sink.owner(a) {
            dir_owner.lchown(name, u, g)?;
        }
        for (k, v) in self.sink.xattrs(a) {
            if let Err(err) = dir_owner.lsetxattr(name, &k, &v) {
                self.warn(format!("cannot set xattr {k}: {err}"));
            }
        }
        if label
            && let Some(l) = &a.ctx.label
            && let Err(err) = dir_owner.lsetxattr(name, LABEL_XATTR, l.as_bytes())
        {
            self.warn(format!("cannot set the label xattr {LABEL_XATTR}: {err}"));
        }
        dir_owner.chmod(name, self.sink.mode(a))?;
        dir_owner.set_mtime(name, a.ctx.mtime)
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
        a: &Applied,
    ) -> Result<()> {
        let e = a.ctx;
        let path = String::from_utf8_lossy(&join(comps)).into_owned();
        if comps.is_empty() {
            if e.kind == Kind::Dir {
                self.dir_labels.insert(Vec::new(), e.label.clone());
                self.deferred
                    .push((Vec::new(), a.ctx.clone(), a.host.clone()));
                return Ok(());
            }
            return Err(Error::unsafe_path("member has an empty name").with_path(e.display_path()));
        }
        let label = self.sink.writes_label() && self.wants_label(comps, e);
        let name = comps[comps.len() - 1];
        let io_err = |op: &str, err: io::Error| Error::io(op, &path, err);
        if e.kind.is_device() && self.sink.devices() == Devices::RecordOnly {
            return Ok(());
        }
        let dir = match self.parent(comps) {
            Ok(d) => d,
            Err(err) => {
                let msg = if err.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
                    || err.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error())
                {
                    "cannot create: a parent directory is a symlink or not a directory (not followed)"
                } else {
                    "cannot create parent directory"
                };
                return Err(io_err(msg, err));
            }
        };
        let tmp = self.tmp_name();
        match e.kind {
            Kind::Dir => {
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
                self.deferred.push((key, a.ctx.clone(), a.host.clone()));
                Ok(())
            }
            Kind::File => {
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
                    self.apply_fd(&f, a, label)
                        .map_err(|x| io_err("cannot set metadata of", x))
                });
                drop(f);
                self.finish_tmp(&dir, &tmp, name, r, &path)
            }
            Kind::Symlink => {
                if self.sink.records_in_xattrs() && (e.uid, e.gid) != (0, 0) {
                    self.symlink_owners.entry(join(&comps[..comps.len() - 1])).or_default().push((
                        name.to_vec(),
                        e.uid as u32,
                        e.gid as u32,
                    ));
                }
                let target = e.link.clone().unwrap_or_default();
                dir.symlink(&target, &tmp)
                    .map_err(|x| io_err("cannot create symlink", x))?;
                let r = (|| -> io::Result<()> {
                    if let Some((u, g)) = self.sink.owner(a) {
                        dir.lchown(&tmp, u, g)?;
                    }
                    dir.set_mtime(&tmp, e.mtime)
                })()
                .map_err(|x| io_err("cannot set metadata of", x));
                self.finish_tmp(&dir, &tmp, name, r, &path)
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
                dir.hardlink(&tdir, tcomps[tcomps.len() - 1], &tmp)
                    .map_err(|x| {
                        io_err(
                            &format!("cannot hard-link to {}", String::from_utf8_lossy(&target)),
                            x,
                        )
                    })?;
                let r = Self::place(&dir, &tmp, name)
                    .map_err(|x| io_err("cannot rename into place", x));
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
                if e.kind == Kind::Fifo && self.sink.records_in_xattrs() {
                    // A FIFO cannot carry user xattrs: record it like a device.
                    return self.placeholder(&dir, &tmp, name, a, label, &path);
                }
                if let Err(x) = dir.mknod(&tmp, ft, 0o600, e.dev_major, e.dev_minor) {
                    let eperm = x.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error());
                    match self.sink.devices() {
                        Devices::CreateOrSkip if e.kind.is_device() && eperm => {
                            self.warn(
                                "device nodes not created: creating them needs root (CAP_MKNOD)"
                                    .to_string(),
                            );
                            return Ok(());
                        }
                        Devices::CreateOrPlaceholder if e.kind.is_device() && eperm => {
                            return self.placeholder(&dir, &tmp, name, a, label, &path);
                        }
                        _ => return Err(io_err("cannot create", x)),
                    }
                }
                let r = self
                    .apply_at(&dir, &tmp, a, label)
                    .map_err(|x| io_err("cannot set metadata of", x));
                self.finish_tmp(&dir, &tmp, name, r, &path)
            }
        }
    }

    /// A device node the sink cannot create: an empty file with mode 0 whose
    /// override xattr holds the true owner, mode and type.
    fn placeholder(
        &mut self,
        dir: &Dir,
        tmp: &[u8],
        name: &[u8],
        a: &Applied,
        label: bool,
        path: &str,
    ) -> Result<()> {
        self.warn(
            "device nodes recorded as empty placeholder files with user.containers.override_stat (creating them needs CAP_MKNOD in the initial namespace)"
                .to_string(),
        );
        let io_err = |op: &str, err: io::Error| Error::io(op, path, err);
        let f = dir
            .create_file(tmp, 0o600)
            .map_err(|x| io_err("cannot create placeholder", x))?;
        let r = (|| -> io::Result<()> {
            if let Some((u, g)) = self.sink.owner(a) {
                sys::fchown(&f, u, g)?;
            }
            sys::fsetxattr(
                &f,
                OVERRIDE_XATTR,
                crate::sink::override_of(a.ctx).encode().as_bytes(),
            )?;
            if label && let Some(l) = &a.ctx.label {
                sys::fsetxattr(&f, LABEL_XATTR, l.as_bytes())?;
            }
            sys::fchmod(&f, 0)?;
            sys::futimens(&f, a.ctx.mtime)
        })()
        .map_err(|x| io_err("cannot record device placeholder", x));
        drop(f);
        self.finish_tmp(dir, tmp, name, r, path)
    }

    /// Rename a finished temporary into place, or remove it on error.
    fn finish_tmp(
        &mut self,
        dir: &Dir,
        tmp: &[u8],
        name: &[u8],
        r: Result<()>,
        path: &str,
    ) -> Result<()> {
        let r = r.and_then(|()| {
            Self::place(dir, tmp, name).map_err(|x| Error::io("cannot rename into place", path, x))
        });
        if r.is_err() {
            let _ = dir.unlink(tmp, false);
        }
        self.after_replace(r)
    }

    /// A directory may have been replaced: forget the cached handle.
    fn after_replace(&mut self, r: Result<bool>) -> Result<()> {
        if matches!(r, Ok(true)) {
            self.cache = None;
        }
        r.map(|_| ())
    }

    fn finish_dirs(&mut self, errors: &mut Vec<Error>) {
        for (key, recs) in std::mem::take(&mut self.symlink_owners) {
            let comps: Vec<&[u8]> = key.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
            let r = walk_dirs(&self.root, &comps, false).and_then(|d| {
                sys::fsetxattr(d.fd(), crate::ondisk::SYMLINK_OWNERS_XATTR, &crate::ondisk::encode_symlink_owners(&recs))
            });
            if let Err(x) = r {
                self.warn(format!("cannot record symlink owners: {x}"));
            }
        }
        let deferred = std::mem::take(&mut self.deferred);
        // The last entry for a directory wins; deepest first.
        let mut last: HashMap<Vec<u8>, usize> = HashMap::new();
        for (i, (k, _, _)) in deferred.iter().enumerate() {
            last.insert(k.clone(), i);
        }
        let mut order: Vec<usize> = last.into_values().collect();
        order.sort_by_key(|&i| {
            let k = &deferred[i].0;
            (
                std::cmp::Reverse(
                    k.iter().filter(|&&b| b == b'/').count() + usize::from(!k.is_empty()),
                ),
                i,
            )
        });
        self.cache = None;
        for i in order {
            let (key, ctx, host) = &deferred[i];
            let comps: Vec<&[u8]> = key
                .split(|&b| b == b'/')
                .filter(|c| !c.is_empty())
                .collect();
            let shown = if key.is_empty() {
                self.dest.display().to_string()
            } else {
                String::from_utf8_lossy(key).into_owned()
            };
            let label = self.sink.writes_label() && self.wants_label(&comps, ctx);
            let d = if comps.is_empty() {
                Dir::open(&self.dest)
            } else {
                walk_dirs(&self.root, &comps, false)
            };
            let a = Applied { ctx, host };
            let r = d.and_then(|d| self.apply_fd(&d.fd(), &a, label));
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
    let (sink, ns, strict) = choose_sink(opts, reg)?;
    let mut owners = opts.owners.clone();
    if let Some(maps) = &ns {
        // Before anything else: no thread may exist yet.
        sys::userns::enter(maps)?;
        owners.maps = Some(maps.clone());
    }
    let root = Dir::open(&opts.dest)
        .map_err(|e| Error::io("cannot open destination directory", &opts.dest, e))?;
    let mut x = Extractor {
        dest: opts.dest.clone(),
        root,
        sink,
        cache: None,
        tmp_counter: 0,
        deferred: Vec::new(),
        dir_labels: HashMap::new(),
        warnings: BTreeMap::new(),
        symlink_owners: BTreeMap::new(),
    };
    let (_, r) = crate::input::open(&opts.archive)?;
    let mut rd = Reader::new(r);
    let mut pats = Patterns::new(opts.patterns.iter().cloned());
    let mut chooser = MapChooser::new(reg, &owners)?;
    let me = (
        u64::from(rustix::process::getuid().as_raw()),
        u64::from(rustix::process::getgid().as_raw()),
    );
    let archive = opts.archive.display().to_string();
    let mut fatal = None;
    loop {
        let mut ctx = match rd.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(err) => {
                fatal = Some(err.with_context(format!("reading {archive}")));
                break;
            }
        };
        if !pats.matches(&ctx.path) {
            continue;
        }
        let (comps, stripped) = match safe_components(&ctx.path) {
            Ok((c, s)) => (c.into_iter().map(<[u8]>::to_vec).collect::<Vec<_>>(), s),
            Err(m) => {
                report
                    .errors
                    .push(Error::unsafe_path(m).with_path(ctx.display_path()));
                continue;
            }
        };
        if stripped {
            x.warn("Removing leading '/' from member names".to_string());
        }
        let mut host = ctx.clone();
        match chooser.for_entry(&ctx) {
            Ok(Some((maps, what))) => {
                match translate(&mut host, &maps, Direction::ToHost, owners.unmapped, &what) {
                    Ok(o) => {
                        // What was squashed is squashed in both views.
                        ctx.mode = host.mode;
                        if o.uid_squashed {
                            ctx.uid = u64::from(crate::idmap::OVERFLOW_ID);
                        }
                        if o.gid_squashed {
                            ctx.gid = u64::from(crate::idmap::OVERFLOW_ID);
                        }
                    }
                    Err(err) => {
                        report.errors.push(err);
                        continue;
                    }
                }
            }
            Ok(None) => {}
            Err(err) => {
                fatal = Some(err);
                break;
            }
        }
        if host.uid >= u64::from(u32::MAX) || host.gid >= u64::from(u32::MAX) {
            report.errors.push(
                Error::unmapped(format!(
                    "owner {}:{} is not a valid pair of IDs",
                    host.uid, host.gid
                ))
                .with_path(ctx.display_path()),
            );
            continue;
        }
        if let Some(why) = &strict
            && (host.uid, host.gid) != me
        {
            fatal = Some(
                Error::unmapped(format!(
                    "needs owner {}:{} (host view), which uid {} cannot give without a user namespace ({why}); \
                     use --owners xattr (owners in user.containers.override_stat), --owners manifest=FILE (an mtree spec) \
                     or --owners none (owners dropped)",
                    host.uid, host.gid, me.0
                ))
                .with_path(ctx.display_path()),
            );
            break;
        }
        let comps: Vec<&[u8]> = comps.iter().map(Vec::as_slice).collect();
        let a = Applied {
            ctx: &ctx,
            host: &host,
        };
        match x.extract_one(&mut rd, &comps, &a) {
            Ok(()) => {
                if let Err(err) = x.sink.record(&a) {
                    fatal = Some(err);
                    break;
                }
                on_entry(&ctx.path);
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
    if let Err(e) = x.sink.finish() {
        report.errors.push(e);
    }
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
        for w in report.warnings.drain(..) {
            eprintln!("alientar: warning: {w}");
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

/// The map a user namespace is built from: the explicit map, else the
/// `--context`'s, else the built-in `rootless`.
pub fn namespace_maps(
    o: &crate::create::OwnerOptions,
    reg: &Registry,
) -> Result<crate::context::Maps> {
    match (&o.maps, &o.context) {
        (Some(m), _) => Ok(m.clone()),
        (None, Some(c)) => reg.maps(c),
        (None, None) => reg.maps("rootless"),
    }
}

/// Resolve `--owners` into a sink, the namespace maps (for `userns`), and,
/// for `auto` without a namespace, the reason foreign owners are impossible.
fn choose_sink(
    opts: &ExtractOptions,
    reg: &Registry,
) -> Result<(Box<dyn Sink>, Option<crate::context::Maps>, Option<String>)> {
    use crate::sink::{Chown, Manifest, NoOwners, Userns, Xattr};
    Ok(match &opts.sink {
        Owners::Chown => (Box::new(Chown), None, None),
        Owners::None => (Box::new(NoOwners), None, None),
        Owners::Xattr => (Box::new(Xattr), None, None),
        Owners::Manifest(p) => (Box::new(Manifest::new(p)), None, None),
        Owners::Userns => (
            Box::new(Userns),
            Some(namespace_maps(&opts.owners, reg)?),
            None,
        ),
        Owners::Auto => {
            if sys::privileged() {
                (Box::new(Chown), None, None)
            } else {
                match namespace_maps(&opts.owners, reg) {
                    Ok(m)
                        if sys::userns::available()
                            && sys::userns::coverable(&m, reg.invoker()) =>
                    {
                        (Box::new(Userns), Some(m), None)
                    }
                    Ok(m) if !sys::userns::available() => (
                        Box::new(NoOwners),
                        None,
                        Some(format!(
                            "newuidmap is not installed; the map would be uid {} gid {}",
                            m.uid, m.gid
                        )),
                    ),
                    Ok(m) => (
                        Box::new(NoOwners),
                        None,
                        Some(format!(
                            "your uid and /etc/subuid, /etc/subgid ranges do not cover the map uid {} gid {}",
                            m.uid, m.gid
                        )),
                    ),
                    Err(e) => (Box::new(NoOwners), None, Some(e.kind().to_string())),
                }
            }
        }
    })
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
