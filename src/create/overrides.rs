//! Owners, modes and types that override what the walk saw: from the
//! records rootless tools leave in xattrs (`--from-xattrs`) and from an
//! mtree manifest (`--from-manifest`). Owners from either are in the
//! context view already ([`WalkedFile::fixed`]).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::CreateOptions;
use crate::entry::{Entry, Kind, Time};
use crate::error::{Error, Result};
use crate::mtree::Spec;
use crate::report::Report;
use crate::walk::{WalkedFile, member_prefix};

/// Manifest specs applied after translation, by member name without `./`.
pub(super) type PendingSpecs = HashMap<Vec<u8>, Spec>;

/// A member name without leading `./` (`.` itself is empty), as manifests
/// name paths.
pub(super) fn norm_member(p: &[u8]) -> Vec<u8> {
    let mut p = p;
    while let Some(r) = p.strip_prefix(b"./") {
        p = r;
    }
    if p == b"." { Vec::new() } else { p.to_vec() }
}

/// `--from-xattrs`: take owners, modes and types from the override records
/// of every file, and symlink owners from their directories' records. A
/// malformed record is reported in `report` and the file kept as it is.
/// (A file without a record keeps its host owner, to be read through the
/// plan's maps for such files: [`super::owners::Plan`].)
pub(super) fn apply_xattr_overrides(files: &mut [WalkedFile], report: &mut Report) {
    let link_owners = symlink_owner_records(files);
    for s in files {
        if let Err(e) = override_from_xattrs(s) {
            report.errors.push(e);
        }
        if s.entry.kind == Kind::Symlink
            && let Some(&(u, g)) = link_owners.get(&s.entry.path)
        {
            s.entry.uid = u64::from(u);
            s.entry.gid = u64::from(g);
            s.fixed = true;
        }
    }
}

/// Collect (and remove from the archived xattrs) the symlink owner records
/// directories carry: member path of the symlink → (uid, gid).
fn symlink_owner_records(files: &mut [WalkedFile]) -> HashMap<Vec<u8>, (u32, u32)> {
    use crate::ondisk::{SYMLINK_OWNERS_XATTR, decode_symlink_owners};
    let mut out = HashMap::new();
    for s in files.iter_mut().filter(|s| s.entry.kind == Kind::Dir) {
        if let Some(i) = s
            .entry
            .xattrs
            .iter()
            .position(|(n, _)| n == SYMLINK_OWNERS_XATTR)
        {
            let (_, v) = s.entry.xattrs.remove(i);
            for (name, u, g) in decode_symlink_owners(&v) {
                let mut p = s.entry.path.clone();
                p.push(b'/');
                p.extend_from_slice(&name);
                out.insert(p, (u, g));
            }
        }
    }
    out
}

/// Take owner, mode and type from the file's records
/// ([`crate::ondisk::read_records`]).
fn override_from_xattrs(s: &mut WalkedFile) -> Result<()> {
    if crate::ondisk::read_records(&mut s.entry)
        .map_err(|m| Error::format(m).with_path(&s.fs_path))?
    {
        s.fixed = true;
    }
    Ok(())
}

/// Apply a manifest's fields to an entry (owner fields are context view).
pub(super) fn apply_spec(e: &mut Entry, spec: &Spec) {
    if let Some(u) = spec.uid {
        e.uid = u64::from(u);
    }
    if let Some(g) = spec.gid {
        e.gid = u64::from(g);
    }
    if spec.uname.is_some() {
        e.uname = spec.uname.clone();
    }
    if spec.gname.is_some() {
        e.gname = spec.gname.clone();
    }
    if let Some(m) = spec.mode {
        e.mode = m;
    }
    if let Some(t) = spec.time {
        e.mtime = t;
    }
    if let Some(k) = spec.kind {
        match k {
            Kind::Char | Kind::Block | Kind::Fifo if e.kind == Kind::File && e.size == 0 => {
                e.kind = k
            }
            _ => {}
        }
    }
    if let Some((a, b)) = spec.device {
        e.dev_major = a;
        e.dev_minor = b;
    }
}

/// Apply the mtree spec at `path` to the walked `files`. Entries whose spec
/// gives both owners are applied now (their owners are context view); the
/// others are returned to be applied after translation. Spec paths that are
/// not on disk become new entries (directories, symlinks, devices, FIFOs).
pub(super) fn apply_manifest(
    files: &mut Vec<WalkedFile>,
    path: &Path,
    opts: &CreateOptions,
) -> Result<PendingSpecs> {
    let (mut by_path, default_time) = read_manifest(path)?;
    let mut pending = HashMap::new();
    for s in files.iter_mut() {
        let key = norm_member(&s.entry.path);
        if let Some(spec) = by_path.remove(&key) {
            if spec.uid.is_some() && spec.gid.is_some() {
                apply_spec(&mut s.entry, &spec);
                s.fixed = true;
            } else {
                pending.insert(key, spec);
            }
        }
    }
    let dot = opts.paths.iter().any(|p| member_prefix(p).0 == b".");
    let mut added: Vec<(Vec<u8>, Spec)> = by_path.into_iter().collect();
    added.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, spec) in added {
        let mut name = if dot { b"./".to_vec() } else { Vec::new() };
        name.extend_from_slice(&key);
        files.push(added_entry(name, &spec, default_time).map_err(|p| {
            let shown = String::from_utf8_lossy(&key);
            Error::format(format!("manifest entry {shown}: {p}")).with_path(path)
        })?);
    }
    files.sort_by(|a, b| {
        let ka = norm_member(&a.entry.path);
        let kb = norm_member(&b.entry.path);
        ka.split(|&c| c == b'/').cmp(kb.split(|&c| c == b'/'))
    });
    Ok(pending)
}

/// The specs of the manifest at `path` by path, and the time of entries
/// that give none (the manifest's own).
fn read_manifest(path: &Path) -> Result<(PendingSpecs, Time)> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("cannot read manifest", path, e))?;
    let specs = crate::mtree::parse(&text).map_err(|m| Error::format(m).with_path(path))?;
    let default_time = std::fs::metadata(path)
        .ok()
        .map(|m| Time {
            sec: m.mtime(),
            nsec: m.mtime_nsec() as u32,
        })
        .unwrap_or_default();
    let by_path = specs.into_iter().map(|s| (s.path.clone(), s)).collect();
    Ok((by_path, default_time))
}

/// The entry `name` a manifest adds (it is not on disk), or what the spec
/// lacks for one.
fn added_entry(name: Vec<u8>, spec: &Spec, default_time: Time) -> Result<WalkedFile, &'static str> {
    let kind = spec.kind.unwrap_or(Kind::File);
    match kind {
        Kind::File | Kind::HardLink => {
            return Err("type=file names a file that is not in the tree");
        }
        Kind::Symlink if spec.link.is_none() => return Err("type=link needs link="),
        Kind::Char | Kind::Block if spec.device.is_none() => {
            return Err("a device needs device=native,MAJOR,MINOR");
        }
        _ => {}
    }
    let mut e = Entry::new(name, kind);
    e.mode = if kind == Kind::Dir { 0o755 } else { 0o644 };
    e.mtime = default_time;
    e.link = spec.link.clone();
    apply_spec(&mut e, spec);
    Ok(WalkedFile {
        fs_path: PathBuf::new(),
        entry: e,
        dev: 0,
        ino: 0,
        nlink: 1,
        ctime: None,
        pruned: false,
        fixed: true,
        data: None,
    })
}
