//! The tree side of `diff`: members found on disk without following
//! anything, each file read as it is compared ([`Disk`]: what `lstat`
//! says, or what its override records say), and the comparisons.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use super::what::{What, shown};
use crate::archive::Members;
use crate::entry::{Entry, Kind, LABEL_XATTR};
use crate::error::{Error, Result};
use crate::member::safe_components;
use crate::ondisk::{OVERRIDE_XATTR, SYMLINK_OWNERS_XATTR};
use crate::sys::{Meta, errno, lstat_path};

/// A file on disk as it is compared with its member.
pub(super) struct Disk {
    pub(super) path: PathBuf,
    /// Its `lstat`.
    pub(super) md: Meta,
    /// Its type: `lstat`'s, or its record's (a placeholder's device).
    kind: &'static str,
    /// Permission bits.
    mode: u32,
    /// Owner and group: host view, or context view when `recorded`.
    owner: (u64, u64),
    /// Device numbers.
    dev: (u32, u32),
    /// Its xattrs without the label (and without the records read).
    xattrs: io::Result<Vec<(String, Vec<u8>)>>,
    /// Owner, mode and type came from an override record.
    pub(super) recorded: bool,
}

impl Disk {
    /// The file at `path`, as `md` (its `lstat`) and its xattrs show it.
    fn of(path: PathBuf, md: Meta) -> Disk {
        let xattrs = read_xattrs(&path, &md).map(|mut x| {
            x.retain(|(n, _)| n != LABEL_XATTR);
            x
        });
        Disk {
            kind: kind_name(&md),
            mode: md.mode & 0o7777,
            owner: (u64::from(md.uid), u64::from(md.gid)),
            dev: crate::sys::path::major_minor(md.rdev),
            xattrs,
            recorded: false,
            path,
            md,
        }
    }

    /// Take owner, mode, type and xattrs from the file's override records,
    /// as `create --from-xattrs` reads them; a symlink's owner from its
    /// directory's record (`link_owner`).
    ///
    /// # Errors
    /// A malformed record (the file is then compared as `lstat` shows it).
    fn read_records(&mut self, link_owner: Option<(u32, u32)>) -> Result<()> {
        let Ok(xattrs) = &self.xattrs else {
            return Ok(());
        };
        let Some(kind) = kind_of(&self.md) else {
            return Ok(());
        };
        let mut e = Entry::new(Vec::new(), kind);
        e.mode = self.mode;
        (e.uid, e.gid) = self.owner;
        e.size = self.md.size;
        (e.dev_major, e.dev_minor) = self.dev;
        e.xattrs = xattrs.clone();
        e.xattrs.retain(|(n, _)| n != SYMLINK_OWNERS_XATTR);
        let mut recorded = crate::ondisk::read_records(&mut e)
            .map_err(|m| Error::format(m).with_path(&self.path))?;
        if let Some((u, g)) = link_owner.filter(|_| kind == Kind::Symlink && !recorded) {
            (e.uid, e.gid) = (u64::from(u), u64::from(g));
            recorded = true;
        }
        self.kind = e.kind.name();
        self.mode = e.mode;
        self.owner = (e.uid, e.gid);
        self.dev = (e.dev_major, e.dev_minor);
        self.xattrs = Ok(e.xattrs);
        self.recorded = recorded;
        Ok(())
    }
}

impl Disk {
    /// Does the tree this file is in keep its owners in override records
    /// (the file has one, or, for a symlink, its directory has)?
    pub(super) fn in_override_tree(&self) -> bool {
        if self.recorded {
            return true;
        }
        self.md.kind() == FileType::Symlink
            && self.path.parent().is_some_and(|p| {
                crate::sys::path::lgetxattr(p, OVERRIDE_XATTR).is_ok_and(|v| v.is_some())
            })
    }
}

/// The xattrs of the file at `path` (`md`: its `lstat`); a device
/// placeholder of ours with mode 0 is read as `create` reads it.
fn read_xattrs(path: &Path, md: &Meta) -> io::Result<Vec<(String, Vec<u8>)>> {
    match crate::walk::read_xattrs(path) {
        Err(x) if x.kind() == io::ErrorKind::PermissionDenied && md.mode & 0o7777 == 0 => {
            crate::walk::read_xattrs_of_unreadable(path, md)
        }
        r => r,
    }
}

pub(super) struct Comparer {
    root: PathBuf,
    /// Member directories known to be real directories on disk.
    dirs_ok: HashSet<Vec<u8>>,
    /// Effective label of directories looked up so far.
    labels: HashMap<Vec<u8>, Option<String>>,
    /// The symlink-owner records of the last directory asked about.
    link_owners: Option<(PathBuf, crate::ondisk::SymlinkOwners)>,
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

/// The entry kind of a file `lstat` described; `None` for a socket.
fn kind_of(md: &Meta) -> Option<Kind> {
    Some(match md.kind() {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        FileType::CharacterDevice => Kind::Char,
        FileType::BlockDevice => Kind::Block,
        FileType::Fifo => Kind::Fifo,
        _ => return None,
    })
}

/// xattrs on disk that count even when the archive does not have them.
fn counts_on_disk(name: &str) -> bool {
    name.starts_with("user.")
        || name.starts_with("trusted.")
        || name.starts_with("system.posix_acl_")
        || name == crate::translate::CAPABILITY
}

impl Comparer {
    pub(super) fn new(root: &Path) -> Comparer {
        Comparer {
            root: root.to_path_buf(),
            dirs_ok: HashSet::new(),
            labels: HashMap::new(),
            link_owners: None,
            abuf: vec![0u8; 256 << 10],
            dbuf: vec![0u8; 256 << 10],
        }
    }

    /// The disk path of a member, after checking that each parent is a real
    /// directory. `Ok(Err(why))`: a parent is missing or not a directory.
    pub(super) fn resolve(
        &mut self,
        comps: &[&[u8]],
    ) -> io::Result<std::result::Result<PathBuf, String>> {
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
    /// ancestor's (above the directory compared with too, as `create`
    /// looks for it).
    fn label_of(&mut self, path: &Path, rel: &[&[u8]]) -> Option<String> {
        if let Some(l) = read_label(path) {
            return l;
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
            Some(l) => l,
            None if rel.is_empty() => crate::sys::ancestors::nearest_xattr_above(&p, LABEL_XATTR)
                .map(|f| shown(&f.value))
                .filter(|l| !l.is_empty()),
            None => self.dir_label(&rel[..rel.len() - 1]),
        };
        self.labels.insert(key, l.clone());
        l
    }

    /// The member's file on disk, as `lstat` shows it; `None` when it is
    /// missing (why, in `found`).
    pub(super) fn locate(
        &mut self,
        comps: &[&[u8]],
        found: &mut Vec<What>,
    ) -> Result<Option<Disk>> {
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
            Ok(md) => Ok(Some(Disk::of(path, md))),
            Err(x) if errno::missing(&x) => {
                found.push(What::Missing(None));
                Ok(None)
            }
            Err(x) => Err(Error::io("cannot stat", &path, x)),
        }
    }

    /// Read `d` through its override records ([`Disk::read_records`]).
    ///
    /// # Errors
    /// A malformed record.
    pub(super) fn read_records(&mut self, d: &mut Disk) -> Result<()> {
        let link_owner = if d.md.kind() == FileType::Symlink {
            self.link_owner(&d.path)
        } else {
            None
        };
        d.read_records(link_owner)
    }

    /// The owner of the symlink `path` its directory's record holds.
    fn link_owner(&mut self, path: &Path) -> Option<(u32, u32)> {
        let (dir, name) = (path.parent()?, path.file_name()?.as_bytes());
        if self.link_owners.as_ref().is_none_or(|(d, _)| d != dir) {
            let recs = crate::sys::path::lgetxattr(dir, SYMLINK_OWNERS_XATTR)
                .ok()
                .flatten()
                .map(|v| crate::ondisk::decode_symlink_owners(&v))
                .unwrap_or_default();
            self.link_owners = Some((dir.to_path_buf(), recs));
        }
        let (_, recs) = self.link_owners.as_ref()?;
        recs.iter()
            .find(|(n, _, _)| n == name)
            .map(|&(_, u, g)| (u, g))
    }

    /// Compare the member `e` (owners in the view of `d`'s) with `d`: what
    /// differs goes into `found`. A type difference hides the others.
    pub(super) fn compare(
        &mut self,
        rd: &mut Members,
        comps: &[&[u8]],
        e: &Entry,
        d: &Disk,
        owners_known: bool,
        found: &mut Vec<What>,
    ) -> Result<()> {
        if d.kind != e.kind.name() {
            found.push(What::Type {
                archive: e.kind.name(),
                disk: d.kind,
            });
            return Ok(());
        }
        compare_meta(e, d, owners_known, found);
        self.compare_data(rd, e, d, found)?;
        compare_xattrs(e, d, found)?;
        if e.kind != Kind::Symlink
            && let Some(disk) = self.label_of(&d.path, comps)
            && e.label.as_deref() != Some(disk.as_str())
        {
            found.push(What::Label {
                archive: e.label.clone(),
                disk,
            });
        }
        Ok(())
    }

    /// A hard link is compared by identity only: the disk file must be the
    /// inode of its target's.
    pub(super) fn compare_link(&mut self, e: &Entry, md: &Meta, found: &mut Vec<What>) {
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
    fn compare_data(
        &mut self,
        rd: &mut Members,
        e: &Entry,
        d: &Disk,
        found: &mut Vec<What>,
    ) -> Result<()> {
        match e.kind {
            Kind::File if d.md.size != e.size => found.push(What::Size {
                archive: e.size,
                disk: d.md.size,
            }),
            Kind::File if !self.same_content(rd, &d.path)? => found.push(What::Contents),
            Kind::Symlink => {
                let disk = crate::sys::path::read_link(&d.path)
                    .map_err(|x| Error::io("cannot read symlink", &d.path, x))?;
                let want = e.link.as_deref().unwrap_or(b"");
                if disk != want {
                    found.push(What::Symlink {
                        archive: want.to_vec(),
                        disk,
                    });
                }
            }
            Kind::Char | Kind::Block if d.dev != (e.dev_major, e.dev_minor) => {
                found.push(What::Device {
                    archive: (e.dev_major, e.dev_minor),
                    disk: d.dev,
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Stream the member's data against the file's; true when equal.
    fn same_content(&mut self, rd: &mut Members, path: &Path) -> Result<bool> {
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

/// Every xattr of the member must be on disk with its value; an xattr
/// only on disk counts in the names of [`counts_on_disk`].
fn compare_xattrs(e: &Entry, d: &Disk, found: &mut Vec<What>) -> Result<()> {
    let disk = match &d.xattrs {
        Ok(x) => x,
        // A file we may not read (as an ordinary user) hides its user xattrs.
        Err(x) if x.kind() == io::ErrorKind::PermissionDenied && e.xattrs.is_empty() => {
            return Ok(());
        }
        Err(x) => {
            let x = x.raw_os_error().map_or_else(
                || io::Error::new(x.kind(), x.to_string()),
                io::Error::from_raw_os_error,
            );
            return Err(Error::io("cannot read xattrs of", &d.path, x));
        }
    };
    let get = |n: &str| disk.iter().find(|(k, _)| k == n).map(|(_, x)| x.clone());
    for (n, v) in &e.xattrs {
        match get(n) {
            Some(x) if x == *v => {}
            x => found.push(What::Xattr {
                name: n.clone(),
                archive: Some(v.clone()),
                disk: x,
            }),
        }
    }
    for (n, v) in disk {
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

/// Permission bits, owners (when known) and mtime (to the second when the
/// archive has no sub-second part).
fn compare_meta(e: &Entry, d: &Disk, owners_known: bool, found: &mut Vec<What>) {
    if e.kind != Kind::Symlink && d.mode != e.mode {
        found.push(What::Mode {
            archive: e.mode,
            disk: d.mode,
        });
    }
    if owners_known {
        let (uid, gid) = d.owner;
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
    let mtime = d.md.mtime;
    let same_time = if e.mtime.nsec == 0 {
        mtime.sec == e.mtime.sec
    } else {
        mtime == e.mtime
    };
    if !same_time {
        found.push(What::Mtime {
            archive: e.mtime,
            disk: mtime,
        });
    }
}

/// A file's own label on disk: `None` when it has none, `Some(None)` when
/// it is empty (the file is marked unlabelled, which stops inheritance).
fn read_label(p: &Path) -> Option<Option<String>> {
    crate::sys::path::lgetxattr(p, LABEL_XATTR)
        .ok()
        .flatten()
        .map(|v| Some(shown(&v)).filter(|l| !l.is_empty()))
}
