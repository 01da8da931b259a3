//! `diff`: compare an archive with a tree on disk, like `tar --compare`.
//!
//! For every member (or those matching the patterns) the file of the same
//! name under the directory is compared: existence, type, mode, owner,
//! mtime, size and content, symlink target, hard-link identity, device
//! numbers and xattrs. Owners are compared in the **host view**: each
//! entry's IDs go through the map `extract` would use ([`MapChooser`]), so
//! a tree restored with `extract --map M` compares equal with `diff --map M`.
//!
//! Contents are compared while the archive streams past, chunk by chunk
//! against the file on disk; nothing is buffered whole and the archive is
//! read once. Nothing on disk is followed: a member's parent directories
//! must be real directories (a symlink among them makes the member
//! "missing"), files are `lstat`ed and opened with `O_NOFOLLOW`.
//!
//! Rules, as GNU tar's `--compare` has them where it has one:
//! - a type difference hides the others for that path;
//! - a hard link is compared by identity only ("Not linked to ...");
//! - a symlink's mode is not compared (Linux has none);
//! - an mtime with no sub-second part in the archive (ustar, GNU and most
//!   peers' archives) is compared to the second;
//! - xattrs: every xattr in the archive must be on disk with the same
//!   value; an xattr only on disk counts in the `user.`, `trusted.`,
//!   `system.posix_acl_*` and `security.capability` names (not, say,
//!   `security.selinux`, which the system adds);
//! - the context label `user.alientar.context` is not an xattr here: a
//!   file without one inherits its directory's (as `create` reads it), and
//!   a difference is reported only when the disk has a label that is not
//!   the entry's;
//! - without patterns, a file on disk inside a directory the archive holds
//!   but which the archive lacks is reported ("Not in archive").

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::context::Registry;
use crate::entry::{Entry, Kind, LABEL_XATTR, Time};
use crate::error::{Error, Result};
use crate::member::safe_components;
use crate::ownership::MapChooser;
use crate::ownership::OwnerOptions;
use crate::pattern::Patterns;
use crate::progress::Progress;
use crate::sys::{Meta, errno, lstat_path};
use crate::tar::Reader;
use crate::translate::{Direction, translate};

/// What to compare.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// The archive (`-` for stdin).
    pub archive: PathBuf,
    /// The tree to compare with (`-C`).
    pub dir: PathBuf,
    /// Member patterns; empty compares everything (and looks for files
    /// the archive lacks).
    pub patterns: Vec<Vec<u8>>,
    /// Ownership: the map that turns the archive's owners into host IDs.
    pub owners: OwnerOptions,
}

/// One way a path differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// The archive has it, the disk does not (with the reason when it is
    /// not simply absent).
    Missing(Option<String>),
    /// The disk has it inside a directory the archive holds; the archive does not.
    NotInArchive,
    /// Different file types (`file`, `dir`, `symlink`, `char`, `block`, `fifo`, `socket`).
    Type {
        /// In the archive.
        archive: &'static str,
        /// On disk.
        disk: &'static str,
    },
    /// Permission bits (including setuid, setgid, sticky).
    Mode {
        /// In the archive.
        archive: u32,
        /// On disk.
        disk: u32,
    },
    /// Owner (host view).
    Uid {
        /// In the archive, translated to the host view.
        archive: u64,
        /// On disk.
        disk: u64,
    },
    /// Group (host view).
    Gid {
        /// In the archive, translated to the host view.
        archive: u64,
        /// On disk.
        disk: u64,
    },
    /// Modification time.
    Mtime {
        /// In the archive.
        archive: Time,
        /// On disk.
        disk: Time,
    },
    /// Size of a regular file.
    Size {
        /// In the archive.
        archive: u64,
        /// On disk.
        disk: u64,
    },
    /// Same size, different bytes.
    Contents,
    /// Symlink target.
    Symlink {
        /// In the archive.
        archive: Vec<u8>,
        /// On disk.
        disk: Vec<u8>,
    },
    /// A hard link whose disk file is not the same inode as its target's.
    NotLinked {
        /// The member it should be linked to.
        target: Vec<u8>,
    },
    /// Device numbers (major, minor).
    Device {
        /// In the archive.
        archive: (u32, u32),
        /// On disk.
        disk: (u32, u32),
    },
    /// An xattr differs, or is on one side only.
    Xattr {
        /// Its name.
        name: String,
        /// In the archive (translated to the host view).
        archive: Option<Vec<u8>>,
        /// On disk.
        disk: Option<Vec<u8>>,
    },
    /// The context label on disk (own or inherited) is not the entry's.
    Label {
        /// In the archive.
        archive: Option<String>,
        /// On disk.
        disk: String,
    },
}

/// A difference at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The member name (relative to the directory; `.` for the directory itself).
    pub path: String,
    /// What differs.
    pub what: What,
}

/// A name as diff prints it: escaped as `list` and GNU tar's `--compare`
/// print names, so a newline or a byte that is not UTF-8 stays visible.
fn shown(b: &[u8]) -> String {
    crate::quote::escaped(b)
}

/// `YYYY-MM-DD HH:MM:SS[.nnnnnnnnn]` UTC.
fn time(t: Time) -> String {
    let base = crate::quote::format_time(t.sec);
    let s = t.sec.rem_euclid(60);
    if t.nsec == 0 {
        format!("{base}:{s:02}")
    } else {
        format!("{base}:{s:02}.{:09}", t.nsec)
    }
}

impl fmt::Display for What {
    /// GNU tar's wording ("Mode differs"), with both values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            What::Missing(None) => write!(f, "Missing on disk"),
            What::Missing(Some(why)) => write!(f, "Missing on disk ({why})"),
            What::NotInArchive => write!(f, "Not in archive"),
            What::Type { archive, disk } => {
                write!(f, "File type differs (archive {archive}, disk {disk})")
            }
            What::Mode { archive, disk } => {
                write!(f, "Mode differs (archive {archive:04o}, disk {disk:04o})")
            }
            What::Uid { archive, disk } => {
                write!(f, "Uid differs (archive {archive}, disk {disk})")
            }
            What::Gid { archive, disk } => {
                write!(f, "Gid differs (archive {archive}, disk {disk})")
            }
            What::Mtime { archive, disk } => write!(
                f,
                "Mod time differs (archive {}, disk {})",
                time(*archive),
                time(*disk)
            ),
            What::Size { archive, disk } => {
                write!(f, "Size differs (archive {archive}, disk {disk})")
            }
            What::Contents => write!(f, "Contents differ"),
            What::Symlink { archive, disk } => write!(
                f,
                "Symlink differs (archive -> {}, disk -> {})",
                shown(archive),
                shown(disk)
            ),
            What::NotLinked { target } => write!(f, "Not linked to {}", shown(target)),
            What::Device { archive, disk } => write!(
                f,
                "Device number differs (archive {},{}, disk {},{})",
                archive.0, archive.1, disk.0, disk.1
            ),
            What::Xattr {
                name,
                archive: Some(_),
                disk: Some(_),
            } => write!(f, "Xattr {name} differs"),
            What::Xattr {
                name,
                archive: Some(_),
                disk: None,
            } => write!(f, "Xattr {name} missing on disk"),
            What::Xattr { name, .. } => write!(f, "Xattr {name} not in archive"),
            What::Label { archive, disk } => write!(
                f,
                "Context label differs (archive {}, disk {disk})",
                archive.as_deref().unwrap_or("none")
            ),
        }
    }
}

impl fmt::Display for Difference {
    /// `PATH: WHAT`, the form of GNU tar's `--compare`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

/// What a comparison found.
#[derive(Debug, Default)]
pub struct DiffReport {
    /// Members compared.
    pub entries: u64,
    /// Paths with at least one difference.
    pub differing: u64,
    /// Differences in all (one path may have several).
    pub differences: u64,
    /// Per-file errors (unreadable files, refused names, unmapped IDs); the
    /// comparison went on without them.
    pub errors: Vec<Error>,
}

impl DiffReport {
    /// True when nothing differs and nothing failed.
    pub fn identical(&self) -> bool {
        self.differences == 0 && self.errors.is_empty()
    }
}

/// Compare an archive with a tree. `on_difference` is called for each
/// difference as it is found (in archive order; files not in the archive
/// come last); `progress` is told of the member data and each member
/// compared.
///
/// # Errors
/// The directory cannot be opened, the archive is unreadable or malformed
/// (differences found before the damage have been reported), or an entry's
/// label names no known context.
pub fn diff(
    opts: &DiffOptions,
    reg: &Registry,
    on_difference: &mut dyn FnMut(&Difference),
    progress: &Progress,
) -> Result<DiffReport> {
    let inside;
    let opts = match enter_live(opts)? {
        Some(o) => {
            inside = o;
            &inside
        }
        None => opts,
    };
    check_dir(&opts.dir)?;
    let (_, r) = crate::input::open(&opts.archive)?;
    let mut run = Run {
        opts,
        rd: Reader::new(r),
        pats: Patterns::new(opts.patterns.iter().cloned()),
        chooser: MapChooser::new(reg, &opts.owners)?,
        cmp: Comparer::new(&opts.dir),
        members: HashSet::new(),
        dirs: Vec::new(),
        report: DiffReport::default(),
        on_difference,
        archive: opts.archive.display().to_string(),
    };
    while let Some(e) = run
        .rd
        .next_entry()
        .map_err(|e| e.with_context(format!("reading {}", run.archive)))?
    {
        run.member(&e, progress)?;
    }
    for p in run.pats.unmatched() {
        run.report
            .errors
            .push(Error::usage(format!("{p}: not found in archive")));
    }
    if opts.patterns.is_empty() {
        run.not_in_archive();
    }
    Ok(run.report)
}

/// With a running user namespace (`pid:PID`, `ns:PATH`) and no privilege:
/// enter it, from the directory (opened first: the namespace may not reach
/// its path), and return the options as seen there: the tree is read as the
/// namespace shows it, owners in its own IDs, so the archive's are compared
/// untranslated (an owner it does not map reads as the overflow ID).
fn enter_live(opts: &DiffOptions) -> Result<Option<DiffOptions>> {
    let Some(live) = opts
        .owners
        .live
        .as_ref()
        .filter(|_| !crate::sys::privileged())
    else {
        return Ok(None);
    };
    // (A directory only the namespace's IDs may open is opened after.)
    let dir = crate::sys::Dir::open(&opts.dir).ok();
    let mut here = opts.clone();
    if opts.archive != Path::new("-") {
        here.archive = std::path::absolute(&opts.archive)
            .map_err(|e| Error::io("cannot open archive", &opts.archive, e))?;
    }
    live.enter()?;
    if let Some(d) = dir {
        d.chdir()
            .map_err(|e| Error::io("cannot compare with directory", &opts.dir, e))?;
        here.dir = PathBuf::from(".");
    }
    here.owners.maps = Some(crate::live::inside_view(&live.maps));
    here.owners.map_option = Some(format!("inside the user namespace of {}", live.spec));
    Ok(Some(here))
}

/// The directory compared with must be one (followed if a symlink, as
/// `tar -C` follows it).
fn check_dir(dir: &Path) -> Result<()> {
    let md = crate::sys::path::stat(dir)
        .map_err(|e| Error::io("cannot compare with directory", dir, e))?;
    if md.kind() != FileType::Directory {
        return Err(Error::io(
            "cannot compare with directory",
            dir,
            io::Error::from(io::ErrorKind::NotADirectory),
        ));
    }
    Ok(())
}

/// One comparison under way.
struct Run<'a> {
    opts: &'a DiffOptions,
    rd: Reader<Box<dyn Read + Send>>,
    pats: Patterns,
    chooser: MapChooser<'a>,
    cmp: Comparer,
    /// Every member compared, by its name relative to the directory.
    members: HashSet<Vec<u8>>,
    /// The member directories, in archive order.
    dirs: Vec<Vec<u8>>,
    report: DiffReport,
    on_difference: &'a mut dyn FnMut(&Difference),
    /// The archive's name, for messages.
    archive: String,
}

impl Run<'_> {
    /// Compare one member with the disk and report what differs.
    fn member(&mut self, e: &Entry, progress: &Progress) -> Result<()> {
        if !self.pats.matches(&e.path) {
            return Ok(());
        }
        self.report.entries += 1;
        let comps = match safe_components(&e.path) {
            Ok((c, _)) => c,
            Err(m) => {
                self.report.errors.push(
                    Error::unsafe_path(format!("{m}; not compared")).with_path(e.display_path()),
                );
                return Ok(());
            }
        };
        let rel = comps.join(&b'/');
        let shown = if rel.is_empty() {
            ".".into()
        } else {
            shown(&rel)
        };
        if e.kind == Kind::Dir {
            self.dirs.push(rel.clone());
        }
        self.members.insert(rel);
        let (host, owners_known) = self.host_view(e)?;
        let mut found = Vec::new();
        let on_disk = host.as_ref().unwrap_or(e);
        let r = (self.cmp).compare(&mut self.rd, &comps, on_disk, owners_known, &mut found);
        if e.kind == Kind::File {
            progress.add_bytes(e.size);
        }
        if let Err(err) = r {
            if matches!(err.kind(), crate::error::ErrorKind::Format(_)) {
                self.emit(&shown, found);
                return Err(err.with_context(format!("reading {}", self.archive)));
            }
            self.report.errors.push(err);
        }
        self.emit(&shown, found);
        progress.add_entry();
        Ok(())
    }

    /// The entry in the host view when a map applies (`None`: compared as
    /// stored), and whether its owners are known (not when an ID is
    /// unmapped: that is reported, and the owners are not compared).
    ///
    /// # Errors
    /// The entry's label names no known context.
    fn host_view(&mut self, e: &Entry) -> Result<(Option<Entry>, bool)> {
        let Some((maps, origin)) = self.chooser.for_entry(e)? else {
            return Ok((None, true));
        };
        let mut host = e.clone();
        let unmapped = self.opts.owners.unmapped;
        match translate(&mut host, maps, Direction::ToHost, unmapped, &origin) {
            Ok(_) => Ok((Some(host), true)),
            Err(err) => {
                self.report.errors.push(err);
                Ok((None, false))
            }
        }
    }

    /// Count the differences found at `path` and hand each on.
    fn emit(&mut self, path: &str, found: Vec<What>) {
        if found.is_empty() {
            return;
        }
        self.report.differing += 1;
        for what in found {
            self.report.differences += 1;
            (self.on_difference)(&Difference {
                path: path.to_owned(),
                what,
            });
        }
    }

    /// Report the files on disk, in the member directories, that the
    /// archive lacks (sorted by name within each directory).
    fn not_in_archive(&mut self) {
        let dirs = std::mem::take(&mut self.dirs);
        let mut m = Vec::new();
        for d in &dirs {
            let comps: Vec<&[u8]> = d.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
            let Ok(Ok(p)) = self.cmp.resolve(&comps) else {
                continue;
            };
            let Ok(mut names) = crate::sys::Dir::open(&p).and_then(|d| d.names()) else {
                continue;
            };
            names.sort();
            for n in names {
                m.clone_from(d);
                if !m.is_empty() {
                    m.push(b'/');
                }
                m.extend_from_slice(&n);
                if !self.members.contains(&m) {
                    self.emit(&shown(&m), vec![What::NotInArchive]);
                }
            }
        }
    }
}

struct Comparer {
    root: PathBuf,
    /// Member directories known to be real directories on disk.
    dirs_ok: HashSet<Vec<u8>>,
    /// Effective label of directories looked up so far.
    labels: HashMap<Vec<u8>, Option<String>>,
    abuf: Vec<u8>,
    dbuf: Vec<u8>,
}

fn kind_name(md: &Meta) -> &'static str {
    match md.kind() {
        FileType::RegularFile => "file",
        FileType::Directory => "dir",
        FileType::Symlink => "symlink",
        FileType::CharacterDevice => "char",
        FileType::BlockDevice => "block",
        FileType::Fifo => "fifo",
        _ => "socket",
    }
}

/// xattrs on disk that count even when the archive does not have them.
fn counts_on_disk(name: &str) -> bool {
    name.starts_with("user.")
        || name.starts_with("trusted.")
        || name.starts_with("system.posix_acl_")
        || name == crate::translate::CAPABILITY
}

impl Comparer {
    fn new(root: &Path) -> Comparer {
        Comparer {
            root: root.to_path_buf(),
            dirs_ok: HashSet::new(),
            labels: HashMap::new(),
            abuf: vec![0u8; 256 << 10],
            dbuf: vec![0u8; 256 << 10],
        }
    }

    /// The disk path of a member, after checking that each parent is a real
    /// directory. `Ok(Err(why))`: a parent is missing or not a directory.
    fn resolve(&mut self, comps: &[&[u8]]) -> io::Result<std::result::Result<PathBuf, String>> {
        let mut p = self.root.clone();
        let mut key = Vec::new();
        for (i, c) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            p.push(OsStr::from_bytes(c));
            if last {
                break;
            }
            if !key.is_empty() {
                key.push(b'/');
            }
            key.extend_from_slice(c);
            if self.dirs_ok.contains(&key) {
                continue;
            }
            match lstat_path(&p) {
                Ok(md) if md.kind() == FileType::Directory => {
                    self.dirs_ok.insert(key.clone());
                }
                Ok(md) => {
                    return Ok(Err(format!(
                        "{} is a {}, not a directory; not followed",
                        shown(&key),
                        kind_name(&md)
                    )));
                }
                Err(e) if errno::missing(&e) => {
                    return Ok(Err(format!("{} does not exist", shown(&key))));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Ok(p))
    }

    /// The label a file inherits: its own xattr, else its nearest
    /// ancestor's (up to and including the directory compared with).
    fn label_of(&mut self, path: &Path, rel: &[&[u8]]) -> Option<String> {
        if let Some(l) = read_label(path) {
            return Some(l);
        }
        self.dir_label(&rel[..rel.len().saturating_sub(1)])
    }

    fn dir_label(&mut self, rel: &[&[u8]]) -> Option<String> {
        let key = rel.join(&b'/');
        if let Some(l) = self.labels.get(&key) {
            return l.clone();
        }
        let mut p = self.root.clone();
        for c in rel {
            p.push(OsStr::from_bytes(c));
        }
        let l = match read_label(&p) {
            Some(l) => Some(l),
            None if rel.is_empty() => None,
            None => self.dir_label(&rel[..rel.len() - 1]),
        };
        self.labels.insert(key, l.clone());
        l
    }

    /// Compare the member `e` (in the host view) with the disk: what
    /// differs goes into `found`. A type difference hides the others.
    fn compare<R: Read>(
        &mut self,
        rd: &mut Reader<R>,
        comps: &[&[u8]],
        e: &Entry,
        owners_known: bool,
        found: &mut Vec<What>,
    ) -> Result<()> {
        let Some((path, md)) = self.locate(comps, found)? else {
            return Ok(());
        };
        if e.kind == Kind::HardLink {
            self.compare_link(e, &md, found);
            return Ok(());
        }
        let disk_kind = kind_name(&md);
        if disk_kind != e.kind.name() {
            found.push(What::Type {
                archive: e.kind.name(),
                disk: disk_kind,
            });
            return Ok(());
        }
        compare_meta(e, &md, owners_known, found);
        self.compare_data(rd, &path, e, &md, found)?;
        self.compare_xattrs(&path, e, found)?;
        if e.kind != Kind::Symlink
            && let Some(disk) = self.label_of(&path, comps)
            && e.label.as_deref() != Some(disk.as_str())
        {
            found.push(What::Label {
                archive: e.label.clone(),
                disk,
            });
        }
        Ok(())
    }

    /// The member's disk path and `lstat`; `None` when it is missing (why,
    /// in `found`).
    fn locate(
        &mut self,
        comps: &[&[u8]],
        found: &mut Vec<What>,
    ) -> Result<Option<(PathBuf, Meta)>> {
        let path = match self.resolve(comps).map_err(|x| {
            let joined = comps.join(&b'/');
            Error::io(
                "cannot stat a parent directory of",
                Path::new(OsStr::from_bytes(&joined)),
                x,
            )
        })? {
            Ok(p) => p,
            Err(why) => {
                found.push(What::Missing(Some(why)));
                return Ok(None);
            }
        };
        match lstat_path(&path) {
            Ok(md) => Ok(Some((path, md))),
            Err(x) if errno::missing(&x) => {
                found.push(What::Missing(None));
                Ok(None)
            }
            Err(x) => Err(Error::io("cannot stat", &path, x)),
        }
    }

    /// A hard link is compared by identity only: the disk file must be the
    /// inode of its target's.
    fn compare_link(&mut self, e: &Entry, md: &Meta, found: &mut Vec<What>) {
        let target = e.link.as_deref().unwrap_or_default();
        let same = match safe_components(target) {
            Ok((tc, _)) => match self.resolve(&tc) {
                Ok(Ok(tp)) => lstat_path(&tp).is_ok_and(|t| t.dev == md.dev && t.ino == md.ino),
                _ => false,
            },
            Err(_) => false,
        };
        if !same {
            found.push(What::NotLinked {
                target: target.to_vec(),
            });
        }
    }

    /// What each kind has besides its metadata: a file's size and
    /// contents, a symlink's target, a device's numbers.
    fn compare_data<R: Read>(
        &mut self,
        rd: &mut Reader<R>,
        path: &Path,
        e: &Entry,
        md: &Meta,
        found: &mut Vec<What>,
    ) -> Result<()> {
        match e.kind {
            Kind::File if md.size != e.size => found.push(What::Size {
                archive: e.size,
                disk: md.size,
            }),
            Kind::File if !self.same_content(rd, path)? => found.push(What::Contents),
            Kind::Symlink => {
                let disk = crate::sys::path::read_link(path)
                    .map_err(|x| Error::io("cannot read symlink", path, x))?;
                let want = e.link.as_deref().unwrap_or(b"");
                if disk != want {
                    found.push(What::Symlink {
                        archive: want.to_vec(),
                        disk,
                    });
                }
            }
            Kind::Char | Kind::Block => {
                let disk = crate::sys::path::major_minor(md.rdev);
                if disk != (e.dev_major, e.dev_minor) {
                    found.push(What::Device {
                        archive: (e.dev_major, e.dev_minor),
                        disk,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn compare_xattrs(&self, path: &Path, e: &Entry, found: &mut Vec<What>) -> Result<()> {
        let disk = match crate::walk::read_xattrs(path) {
            Ok(x) => x,
            // A file we may not read (as an ordinary user) hides its user xattrs.
            Err(x) if x.kind() == io::ErrorKind::PermissionDenied && e.xattrs.is_empty() => {
                return Ok(());
            }
            Err(x) => return Err(Error::io("cannot read xattrs of", path, x)),
        };
        let disk: Vec<(String, Vec<u8>)> =
            disk.into_iter().filter(|(n, _)| n != LABEL_XATTR).collect();
        let get = |v: &[(String, Vec<u8>)], n: &str| {
            v.iter().find(|(k, _)| k == n).map(|(_, x)| x.clone())
        };
        for (n, v) in &e.xattrs {
            match get(&disk, n) {
                Some(d) if d == *v => {}
                d => found.push(What::Xattr {
                    name: n.clone(),
                    archive: Some(v.clone()),
                    disk: d,
                }),
            }
        }
        for (n, v) in &disk {
            if counts_on_disk(n) && e.xattr(n).is_none() {
                found.push(What::Xattr {
                    name: n.clone(),
                    archive: None,
                    disk: Some(v.clone()),
                });
            }
        }
        Ok(())
    }

    /// Stream the member's data against the file's; true when equal.
    fn same_content<R: Read>(&mut self, rd: &mut Reader<R>, path: &Path) -> Result<bool> {
        let mut f = crate::sys::path::open_nofollow(path)
            .map_err(|x| Error::io("cannot open {} for comparison", path, x))?;
        loop {
            let n = rd.read_data(&mut self.abuf)?;
            if n == 0 {
                // Same size on disk (checked); nothing more to read.
                return Ok(true);
            }
            let mut got = 0;
            while got < n {
                match f.read(&mut self.dbuf[got..n]) {
                    Ok(0) => return Ok(false), // shrank while we read
                    Ok(k) => got += k,
                    Err(x) if x.kind() == io::ErrorKind::Interrupted => {}
                    Err(x) => return Err(Error::io("cannot read", path, x)),
                }
            }
            if self.abuf[..n] != self.dbuf[..n] {
                return Ok(false);
            }
        }
    }
}

/// Permission bits, owners (host view, when known) and mtime (to the
/// second when the archive has no sub-second part).
fn compare_meta(e: &Entry, md: &Meta, owners_known: bool, found: &mut Vec<What>) {
    let mode = md.mode & 0o7777;
    if e.kind != Kind::Symlink && mode != e.mode {
        found.push(What::Mode {
            archive: e.mode,
            disk: mode,
        });
    }
    if owners_known {
        let (uid, gid) = (u64::from(md.uid), u64::from(md.gid));
        if uid != e.uid {
            found.push(What::Uid {
                archive: e.uid,
                disk: uid,
            });
        }
        if gid != e.gid {
            found.push(What::Gid {
                archive: e.gid,
                disk: gid,
            });
        }
    }
    let same_time = if e.mtime.nsec == 0 {
        md.mtime.sec == e.mtime.sec
    } else {
        md.mtime == e.mtime
    };
    if !same_time {
        found.push(What::Mtime {
            archive: e.mtime,
            disk: md.mtime,
        });
    }
}

fn read_label(p: &Path) -> Option<String> {
    crate::sys::path::lgetxattr(p, LABEL_XATTR)
        .ok()
        .flatten()
        .map(|v| shown(&v))
        .filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_gnu_tar() {
        let d = |what| Difference {
            path: "etc/shadow".into(),
            what,
        };
        assert_eq!(
            d(What::Uid {
                archive: 0,
                disk: 1001
            })
            .to_string(),
            "etc/shadow: Uid differs (archive 0, disk 1001)"
        );
        assert_eq!(
            d(What::Mode {
                archive: 0o640,
                disk: 0o644
            })
            .to_string(),
            "etc/shadow: Mode differs (archive 0640, disk 0644)"
        );
        assert_eq!(d(What::Contents).to_string(), "etc/shadow: Contents differ");
        assert_eq!(
            d(What::Mtime {
                archive: Time {
                    sec: 1_600_000_000,
                    nsec: 5
                },
                disk: Time {
                    sec: 1_600_000_001,
                    nsec: 0
                }
            })
            .to_string(),
            "etc/shadow: Mod time differs (archive 2020-09-13 12:26:40.000000005, disk 2020-09-13 12:26:41)"
        );
    }
}
