//! Owner, xattrs, mode and times, as the sink says, on what a worker made.

use std::io;
use std::os::fd::AsFd;

use crate::entry::LABEL_XATTR;
use crate::sink::Applied;
use crate::sys::{self, Dir};

use super::leftovers::Refused;
use super::worker::Worker;

/// xattrs to set on a file, as a sink gives them.
pub(super) type Xattrs = Vec<(String, Vec<u8>)>;

/// What a file being given its metadata already has, so that
/// [`Worker::apply_fd_with`] leaves that alone.
#[derive(Clone, Copy)]
pub(super) enum Has {
    /// Nothing known: owner and mode are both set.
    Nothing,
    /// Just created with its final mode: the owner is set only if the file
    /// was not born with it.
    FinalMode,
    /// What fstat says (a directory at the end of the run: most were made
    /// by this run with the right owner, and a `chown` to the same owner
    /// still costs ext4 a journaled inode update).
    Stat(sys::Meta),
}

/// The label to set on the entry, if it gets one: an unlabelled entry
/// gets an empty one, which stops the inheritance of its directory's.
pub(super) fn label_of<'e>(a: &Applied<'e>, label: bool) -> Option<&'e str> {
    label.then(|| a.ctx.label.as_deref().unwrap_or_default())
}

impl Worker {
    /// The outcome of giving `a` the owner `owner`: a refusal does not fail
    /// the entry (GNU tar keeps the file too) but is counted by cause, and
    /// reported once per cause at the end. True when the owner was set.
    pub(super) fn owner_set(&mut self, a: &Applied, owner: (u32, u32), r: io::Result<()>) -> bool {
        let Err(x) = r else { return true };
        let f = self
            .left
            .owner_failures
            .entry(x.raw_os_error().unwrap_or(0))
            .or_default();
        f.count += 1;
        f.note(Refused {
            seq: self.seq,
            path: crate::quote::escaped(&a.ctx.path),
            owner,
        });
        false
    }

    /// The mode to set: the sink's, without setuid/setgid where the owner
    /// could not be set (as bsdtar does; the file is the invoking user's).
    fn mode_for(&self, a: &Applied, owned: bool) -> u32 {
        let mode = self.sink.mode(a);
        if owned { mode } else { mode & !0o6000 }
    }

    /// Would a file just created in the cached parent already have this
    /// owner (our own IDs, no setgid directory handing down its group)?
    fn born_with(&self, owner: (u32, u32)) -> bool {
        owner == self.creds && self.cache.as_ref().is_some_and(|c| !c.setgid)
    }

    /// The xattrs a new file gets, and the mode to create it with when
    /// nothing can spoil that mode: no setuid/setgid/sticky bit (chown would
    /// clear them), no bit the umask removes, no xattr to set (user xattrs
    /// need write permission). `None`: create it 0600, chmod at the end.
    pub(super) fn new_file(&self, a: &Applied, label: bool) -> (Xattrs, Option<u32>) {
        let xattrs = self.sink.xattrs(a);
        let mode = self.sink.mode(a);
        let final_mode =
            mode & 0o7000 == 0 && mode & self.umask == 0 && !label && xattrs.is_empty();
        (xattrs, final_mode.then_some(mode))
    }

    /// Set `xattrs` and the label with `set`; a refusal is a warning.
    pub(super) fn set_xattrs(
        &mut self,
        xattrs: &[(String, Vec<u8>)],
        label: Option<&str>,
        set: impl Fn(&str, &[u8]) -> io::Result<()>,
    ) {
        for (k, v) in xattrs {
            if let Err(err) = set(k, v) {
                self.warn(format!("cannot set xattr {k}: {err}"));
            }
        }
        if let Some(l) = label
            && let Err(err) = set(LABEL_XATTR, l.as_bytes())
        {
            self.warn(format!("cannot set the label xattr {LABEL_XATTR}: {err}"));
        }
    }

    /// Owner, xattrs, mode and mtime on an open file or directory, in that
    /// order (chown clears setuid bits and capabilities; user xattrs need
    /// write permission, so they come before the final mode). Owner and mode
    /// are set where `has` does not show them already.
    pub(super) fn apply_fd_with(
        &mut self,
        fd: &impl AsFd,
        a: &Applied,
        xattrs: &[(String, Vec<u8>)],
        label: bool,
        has: Has,
    ) -> io::Result<()> {
        let mut owned = true;
        if let Some((u, g)) = self.sink.owner(a) {
            let set = match has {
                Has::Nothing => true,
                Has::FinalMode => !self.born_with((u, g)),
                Has::Stat(m) => (m.uid, m.gid) != (u, g),
            };
            if set {
                owned = self.owner_set(a, (u, g), sys::fchown(fd, u, g));
            }
        }
        self.set_xattrs(xattrs, label_of(a, label), |k, v| sys::fsetxattr(fd, k, v));
        let mode = self.mode_for(a, owned);
        let set = match has {
            Has::Nothing => true,
            Has::FinalMode => false,
            Has::Stat(m) => m.mode & 0o7777 != mode,
        };
        if set {
            sys::fchmod(fd, mode)?;
        }
        sys::futimens(fd, a.ctx.mtime)
    }

    /// Owner, xattrs, mode and mtime of a FIFO or device we just made as `name`.
    pub(super) fn apply_at(
        &mut self,
        dir: &Dir,
        name: &[u8],
        a: &Applied,
        label: bool,
    ) -> io::Result<()> {
        let owned = match self.sink.owner(a) {
            Some((u, g)) => self.owner_set(a, (u, g), dir.lchown(name, u, g)),
            None => true,
        };
        let xattrs = self.sink.xattrs(a);
        self.set_xattrs(&xattrs, label_of(a, label), |k, v| {
            dir.lsetxattr(name, k, v)
        });
        dir.chmod(name, self.mode_for(a, owned))?;
        dir.set_mtime(name, a.ctx.mtime)
    }
}
