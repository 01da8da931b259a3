//! Owner sinks: how an extracted entry's ownership lands on disk.
//!
//! Mapping happens before a sink sees an entry: it gets both the context
//! view (as stored in the archive) and the host view (after translation)
//! and decides what to apply. The extractor does the filesystem work.
//!
//! | sink | owner on disk | mode on disk | records |
//! |---|---|---|---|
//! | [`Chown`] | host IDs | as stored | override xattr on device placeholders (no `CAP_MKNOD`) |
//! | [`Userns`] | context IDs, inside a user namespace | as stored | override xattr on device placeholders |
//! | [`Xattr`] | the invoking user | readable/writable by the user | `user.containers.override_stat` + label; FIFOs and devices as placeholders |
//! | [`Manifest`] | the invoking user | readable/writable by the user | one mtree line per entry |
//! | [`NoOwners`] | the invoking user | as stored, without setuid/setgid | — |

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::ondisk::{OVERRIDE_XATTR, Override, OverrideKind};

/// An entry as a sink sees it.
pub struct Applied<'a> {
    /// Context view, as stored in the archive (setuid/setgid already dropped
    /// where an owner was squashed).
    pub ctx: &'a Entry,
    /// Host view: owners and ID-bearing xattrs translated.
    pub host: &'a Entry,
}

/// What to do with a device node.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Devices {
    /// Create it; failing with EPERM, record an empty placeholder file with
    /// mode 0 and the override xattr.
    CreateOrPlaceholder,
    /// Create it; failing with EPERM, skip it with a warning.
    CreateOrSkip,
    /// Never create it (the manifest records it).
    RecordOnly,
}

/// How ownership lands on disk.
pub trait Sink: Send + Sync {
    /// The owner to set, or `None` to leave the invoking user's.
    fn owner(&self, a: &Applied) -> Option<(u32, u32)>;
    /// The mode to set.
    fn mode(&self, a: &Applied) -> u32;
    /// The xattrs to set: the entry's own (in the view this sink applies)
    /// and any records of the sink's.
    fn xattrs(&self, a: &Applied) -> Vec<(String, Vec<u8>)>;
    /// Device-node policy.
    fn devices(&self) -> Devices;
    /// Note an extracted (or record-only) entry.
    ///
    /// # Errors
    /// A write error of the sink's own record.
    fn record(&self, _a: &Applied) -> Result<()> {
        Ok(())
    }
    /// Finish (write records).
    ///
    /// # Errors
    /// A write error.
    fn finish(&self) -> Result<()> {
        Ok(())
    }
    /// True when owners should be written as the label xattr too.
    fn writes_label(&self) -> bool {
        true
    }
    /// True when the true owners live in xattrs on disk: FIFOs (which
    /// cannot carry user xattrs) become placeholders, and symlinks' owners
    /// are recorded on their directory ([`crate::ondisk::SYMLINK_OWNERS_XATTR`]).
    fn records_in_xattrs(&self) -> bool {
        false
    }
}

/// Mode that keeps the invoking user able to read and write what it owns.
fn user_mode(e: &Entry) -> u32 {
    let base = e.mode & 0o777;
    match e.kind {
        Kind::Dir => base | 0o700,
        _ => base | 0o600,
    }
}

/// The override record of an entry (context view).
pub fn override_of(e: &Entry) -> Override {
    Override {
        uid: e.uid as u32,
        gid: e.gid as u32,
        mode: e.mode,
        kind: Some(OverrideKind::of(e.kind, e.dev_major, e.dev_minor)),
    }
}

/// Real owners (root or CAP_CHOWN).
pub struct Chown;

impl Sink for Chown {
    fn owner(&self, a: &Applied) -> Option<(u32, u32)> {
        Some((a.host.uid as u32, a.host.gid as u32))
    }
    fn mode(&self, a: &Applied) -> u32 {
        a.host.mode
    }
    fn xattrs(&self, a: &Applied) -> Vec<(String, Vec<u8>)> {
        a.host.xattrs.clone()
    }
    fn devices(&self) -> Devices {
        // Root in a user namespace (podman unshare, a rootless container)
        // may not make device nodes: recorded, as the userns sink does.
        Devices::CreateOrPlaceholder
    }
}

/// Real owners inside a user namespace built from the map: the process
/// already runs inside it, so the context view is what it applies.
pub struct Userns;

impl Sink for Userns {
    fn owner(&self, a: &Applied) -> Option<(u32, u32)> {
        Some((a.ctx.uid as u32, a.ctx.gid as u32))
    }
    fn mode(&self, a: &Applied) -> u32 {
        a.ctx.mode
    }
    fn xattrs(&self, a: &Applied) -> Vec<(String, Vec<u8>)> {
        a.ctx.xattrs.clone()
    }
    fn devices(&self) -> Devices {
        Devices::CreateOrPlaceholder
    }
}

/// Owners dropped, like `tar --no-same-owner`.
pub struct NoOwners;

impl Sink for NoOwners {
    fn owner(&self, _: &Applied) -> Option<(u32, u32)> {
        None
    }
    fn mode(&self, a: &Applied) -> u32 {
        a.host.mode & !0o6000
    }
    fn xattrs(&self, a: &Applied) -> Vec<(String, Vec<u8>)> {
        a.host.xattrs.clone()
    }
    fn devices(&self) -> Devices {
        Devices::CreateOrSkip
    }
}

/// Files owned by the invoking user; the true owner, mode and type in
/// `user.containers.override_stat`, the label in `user.alientar.context`;
/// what an ordinary user may not set kept where it may
/// ([`crate::ondisk::stored_xattr`]), so that `create --from-xattrs` gives
/// back every entry.
pub struct Xattr;

impl Sink for Xattr {
    fn owner(&self, _: &Applied) -> Option<(u32, u32)> {
        None
    }
    fn mode(&self, a: &Applied) -> u32 {
        user_mode(a.ctx)
    }
    fn xattrs(&self, a: &Applied) -> Vec<(String, Vec<u8>)> {
        let mut v = Vec::with_capacity(a.host.xattrs.len() + 1);
        // First: user xattrs need write permission, which nothing after
        // takes away (the ACL's permission entries say the mode set).
        if a.ctx.kind != Kind::Symlink {
            v.push((
                OVERRIDE_XATTR.to_string(),
                override_of(a.ctx).encode().into_bytes(),
            ));
        }
        let mode = user_mode(a.ctx);
        v.extend(
            a.host
                .xattrs
                .iter()
                .map(|(n, x)| crate::ondisk::stored_xattr(n, x, mode)),
        );
        v
    }
    fn devices(&self) -> Devices {
        Devices::CreateOrPlaceholder
    }
    fn records_in_xattrs(&self) -> bool {
        true
    }
}

/// Files owned by the invoking user; an mtree spec with the true owners,
/// modes, types and device numbers.
pub struct Manifest {
    path: PathBuf,
    lines: std::sync::Mutex<Vec<String>>,
}

impl Manifest {
    /// A manifest to be written to `path` when extraction finishes.
    pub fn new(path: &Path) -> Manifest {
        Manifest {
            path: path.to_path_buf(),
            lines: std::sync::Mutex::new(vec!["#mtree".to_string()]),
        }
    }
}

impl Sink for Manifest {
    fn owner(&self, _: &Applied) -> Option<(u32, u32)> {
        None
    }
    fn mode(&self, a: &Applied) -> u32 {
        user_mode(a.ctx)
    }
    fn xattrs(&self, a: &Applied) -> Vec<(String, Vec<u8>)> {
        a.host.xattrs.clone()
    }
    fn devices(&self) -> Devices {
        Devices::RecordOnly
    }
    fn record(&self, a: &Applied) -> Result<()> {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(crate::mtree::line(a.ctx));
        Ok(())
    }
    fn finish(&self) -> Result<()> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let tmp = self.path.with_extension("alientar-tmp");
        let write = || -> io::Result<()> {
            let mut f = io::BufWriter::new(std::fs::File::create(&tmp)?);
            for l in lines.iter() {
                writeln!(f, "{l}")?;
            }
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io("cannot write the manifest", &self.path, e)
        })
    }
    fn writes_label(&self) -> bool {
        false
    }
}
