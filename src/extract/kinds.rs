//! A worker applies one entry: one function per kind of entry.

use std::io::{self, Write};

use rustix::fs::FileType;

use crate::entry::{Entry, Kind, LABEL_XATTR};
use crate::error::{Error, Result};
use crate::member::{join, split};
use crate::ondisk::OVERRIDE_XATTR;
use crate::sink::{Applied, Devices};
use crate::sys;
use crate::sys::errno::{self, Errno};

use super::batch::Task;
use super::dirs::{DeferredDir, slim};
use super::meta::{Has, label_of};
use super::place::{Born, Placing, Written, create_unnamed};
use super::worker::Worker;

/// Bytes of directory names held for their deferred metadata, per worker.
const MAX_DEFERRED: usize = 32 << 20;

/// Why the kernel refused a device node.
const NEEDS_MKNOD: &str = "creating them needs CAP_MKNOD in the initial namespace";
/// Why the xattr sink records device nodes.
const RECORDED_FOR_XATTRS: &str =
    "--owners xattr keeps owners in xattrs, which device nodes cannot carry";

impl Worker {
    /// Apply the entry `t` whose file data is `data`: with `--overwrite`, a
    /// regular file whose name is an existing regular file is written into
    /// it; else it is made anew.
    pub(super) fn apply(&mut self, t: &Task, data: &[u8]) -> Result<()> {
        self.seq = t.seq;
        let comps = split(&t.key);
        let a = Applied {
            ctx: &t.ctx,
            host: t.host.as_ref().unwrap_or(&t.ctx),
        };
        if self.overwrite
            && t.ctx.kind == Kind::File
            && let Some(r) = self.overwrite_in_place(t, &comps, &a, data)
        {
            return r;
        }
        self.make(t, &comps, &a, data)
    }

    /// Write a regular file into the existing regular file of its name
    /// (GNU tar's `--overwrite`). `None` when there is none, or its
    /// directory cannot be opened: the entry is extracted as usual (which
    /// reports that).
    fn overwrite_in_place(
        &mut self,
        t: &Task,
        comps: &[&[u8]],
        a: &Applied,
        data: &[u8],
    ) -> Option<Result<()>> {
        let path = String::from_utf8_lossy(&t.key);
        let io_err = |op: &str, err: io::Error| Error::io(op, &*path, err);
        let dir = self.parent(comps).ok()?;
        let mut f = match dir.open_regular_truncated(comps[comps.len() - 1]) {
            Ok(f) => f?,
            Err(x) => return Some(Err(io_err("cannot open {} to overwrite it", x))),
        };
        let xattrs = self.sink.xattrs(a);
        Some(
            f.write_all(data)
                .map_err(|x| io_err("cannot write", x))
                .and_then(|()| {
                    self.apply_fd_with(&f, a, &xattrs, t.label, Has::Nothing)
                        .map_err(|x| io_err("cannot set the metadata of", x))
                }),
        )
    }

    /// Make the entry `t` anew in its parent directory.
    fn make(&mut self, t: &Task, comps: &[&[u8]], a: &Applied, data: &[u8]) -> Result<()> {
        let path = String::from_utf8_lossy(&t.key);
        let dir = self.parent(comps).map_err(|x| parent_error(&path, x))?;
        let tmp = self.tmp_name();
        let p = Placing {
            dir: &dir,
            name: comps[comps.len() - 1],
            tmp: &tmp,
            a,
            label: t.label,
            path: &path,
        };
        match a.ctx.kind {
            Kind::Dir => self.make_dir(&p, comps),
            Kind::File => self.make_file(&p, data),
            Kind::Symlink => self.make_symlink(&p, comps),
            Kind::HardLink => unreachable!("hard links are made after the workers finish"),
            Kind::Char | Kind::Block | Kind::Fifo => self.make_node(&p),
        }
    }

    /// A directory: made now (the top of a new subtree under a temporary
    /// name), its xattrs set now so that the deferred metadata is small;
    /// owner, mode and times at the end ([`super::dirs`]).
    fn make_dir(&mut self, p: &Placing, comps: &[&[u8]]) -> Result<()> {
        let staged = self.dir_in_place(p, comps)?;
        let at: &[u8] = staged.as_deref().unwrap_or(p.name);
        let xattrs = self.sink.xattrs(p.a);
        if !xattrs.is_empty() || p.label {
            let d = p
                .dir
                .open_dir(at)
                .map_err(|x| p.err("cannot open directory", x))?;
            self.set_xattrs(&xattrs, label_of(p.a, p.label), |k, v| {
                sys::fsetxattr(d.fd(), k, v)
            });
        }
        self.defer_dir(p, comps, at)
    }

    /// Make the directory, or keep the one there; `Some`: the temporary
    /// name it was made under, as the top of a new subtree.
    fn dir_in_place(&mut self, p: &Placing, comps: &[&[u8]]) -> Result<Option<Vec<u8>>> {
        if !self.in_new_subtree() {
            let staged = self
                .staging
                .stage(p.dir, comps, 0o700)
                .map_err(|x| p.err("cannot create directory", x))?;
            if staged.is_some() {
                self.made_dir(comps);
                return Ok(staged);
            }
        }
        match p.dir.lstat(p.name) {
            Ok(st) if st.kind() == FileType::Directory => {}
            Ok(_) => {
                p.dir
                    .unlink(p.name, false)
                    .map_err(|x| p.err("cannot replace {} with a directory", x))?;
                p.dir
                    .mkdir(p.name, 0o700)
                    .map_err(|x| p.err("cannot create directory", x))?;
                self.made_dir(comps);
            }
            Err(_) => match p.dir.mkdir(p.name, 0o700) {
                Ok(()) => self.made_dir(comps),
                // Made meanwhile by another worker for a child entry.
                Err(x) if errno::exists(&x) => {}
                Err(x) => return Err(p.err("cannot create directory", x)),
            },
        }
        Ok(None)
    }

    /// Keep a directory's owner, mode and times for the end, or, past
    /// [`MAX_DEFERRED`] (pathological numbers of long-named directories),
    /// apply them now rather than hold them all.
    fn defer_dir(&mut self, p: &Placing, comps: &[&[u8]], at: &[u8]) -> Result<()> {
        let key = join(comps);
        self.left.deferred_bytes += key.len() + 256;
        if self.left.deferred_bytes <= MAX_DEFERRED {
            self.left.deferred.push(DeferredDir {
                seq: self.seq,
                key,
                ctx: slim(p.a.ctx),
                host: slim(p.a.host),
                label: false,
            });
            return Ok(());
        }
        self.warn("too many directories to defer their metadata; some directory times may be those of the extraction".to_string());
        let d = p
            .dir
            .open_dir(at)
            .map_err(|x| p.err("cannot open directory", x))?;
        let (ctx, host) = (slim(p.a.ctx), slim(p.a.host));
        let a = Applied {
            ctx: &ctx,
            host: &host,
        };
        self.apply_fd_with(&d.fd(), &a, &[], false, Has::Nothing)
            .map_err(|x| p.err("cannot set the metadata of directory", x))
    }

    /// A regular file: in a new subtree, under its own name; elsewhere an
    /// unnamed file (`O_TMPFILE`) linked in when complete, or a named
    /// temporary renamed into place. Created with its final mode when
    /// nothing can spoil it ([`Worker::new_file`]), else 0600 now and the
    /// mode after the rest.
    fn make_file(&mut self, p: &Placing, data: &[u8]) -> Result<()> {
        let (xattrs, final_mode) = self.new_file(p.a, p.label);
        let mode = final_mode.unwrap_or(0o600);
        let (mut f, born) = match self.create_in_new_subtree(p, mode)? {
            Some(f) => (f, Born::InPlace),
            None => create_unnamed(p.dir, p.tmp, mode).map_err(|x| p.err("cannot create", x))?,
        };
        let r = f.write_all(data).map_err(|x| p.err("cannot write", x));
        let has = if final_mode.is_some() {
            Has::FinalMode
        } else {
            Has::Nothing
        };
        let w = Written {
            file: &f,
            born,
            xattrs: &xattrs,
            has,
        };
        self.seal(p, w, r)
    }

    /// In a new subtree, the file under its own name (`None` when the name
    /// is taken: only when the archive holds the name twice).
    fn create_in_new_subtree(&self, p: &Placing, mode: u32) -> Result<Option<std::fs::File>> {
        if !self.in_new_subtree() {
            return Ok(None);
        }
        match p.dir.create_file(p.name, mode) {
            Ok(f) => Ok(Some(f)),
            Err(x) if errno::exists(&x) => Ok(None),
            Err(x) => Err(p.err("cannot create", x)),
        }
    }

    /// A symlink is whole the moment it exists: made under its own name;
    /// only replacing something goes through a temporary.
    fn make_symlink(&mut self, p: &Placing, comps: &[&[u8]]) -> Result<()> {
        let e = p.a.ctx;
        if self.sink.records_in_xattrs() && (e.uid, e.gid) != (0, 0) {
            self.left
                .symlink_owners
                .entry(join(&comps[..comps.len() - 1]))
                .or_default()
                .push((p.name.to_vec(), e.uid as u32, e.gid as u32));
        }
        let target = e.link.as_deref().unwrap_or_default();
        let at = match p.dir.symlink(target, p.name) {
            Ok(()) => p.name,
            Err(x) if errno::exists(&x) => {
                p.dir
                    .symlink(target, p.tmp)
                    .map_err(|x| p.err("cannot create symlink", x))?;
                p.tmp
            }
            Err(x) => return Err(p.err("cannot create symlink", x)),
        };
        if let Some((u, g)) = self.sink.owner(p.a) {
            self.owner_set(p.a, (u, g), p.dir.lchown(at, u, g));
        }
        let r = p
            .dir
            .set_mtime(at, e.mtime)
            .map_err(|x| p.err("cannot set the metadata of", x));
        self.finish_at(p, at, r)
    }

    /// A device or FIFO: like a symlink, whole the moment it exists.
    fn make_node(&mut self, p: &Placing) -> Result<()> {
        let e = p.a.ctx;
        if self.sink.records_in_xattrs() {
            // FIFOs and devices cannot carry user xattrs: placeholders can.
            return self.placeholder(p, RECORDED_FOR_XATTRS);
        }
        let ft = match e.kind {
            Kind::Char => FileType::CharacterDevice,
            Kind::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        let mut at = p.name;
        let mut made = p.dir.mknod(at, ft, 0o600, e.dev_major, e.dev_minor);
        if matches!(&made, Err(x) if errno::exists(x)) {
            at = p.tmp;
            made = p.dir.mknod(at, ft, 0o600, e.dev_major, e.dev_minor);
        }
        if let Err(x) = made {
            return self.node_refused(p, x);
        }
        let r = self
            .apply_at(p.dir, at, p.a, p.label)
            .map_err(|x| p.err("cannot set the metadata of", x));
        self.finish_at(p, at, r)
    }

    /// A device the kernel would not make: skipped, a placeholder, or an
    /// error, as the sink says.
    fn node_refused(&mut self, p: &Placing, x: io::Error) -> Result<()> {
        let device_eperm = p.a.ctx.kind.is_device() && errno::is(&x, Errno::PERM);
        match self.sink.devices() {
            Devices::CreateOrSkip if device_eperm => {
                self.warn(
                    "device nodes not created: creating them needs root (CAP_MKNOD)".to_string(),
                );
                Ok(())
            }
            Devices::CreateOrPlaceholder if device_eperm => self.placeholder(p, NEEDS_MKNOD),
            _ => Err(p.err("cannot create", x)),
        }
    }

    /// Done with what was made as `at`: its own name already, or a
    /// temporary to put in place.
    fn finish_at(&mut self, p: &Placing, at: &[u8], r: Result<()>) -> Result<()> {
        if at == p.name {
            return r;
        }
        self.finish_tmp(p, r)
    }

    /// An entry the sink cannot create for real: an empty file with mode 0
    /// whose override xattr holds the true owner, mode and type. A device
    /// is reported in one warning for all (`why` says why).
    fn placeholder(&mut self, p: &Placing, why: &str) -> Result<()> {
        if p.a.ctx.kind.is_device() {
            self.warn(format!(
                "device nodes recorded as empty placeholder files with user.containers.override_stat ({why})"
            ));
        }
        let f = p
            .dir
            .create_file(p.tmp, 0o600)
            .map_err(|x| p.err("cannot create a placeholder for", x))?;
        if let Some((u, g)) = self.sink.owner(p.a) {
            self.owner_set(p.a, (u, g), sys::fchown(&f, u, g));
        }
        let r = record_placeholder(&f, p.a.ctx, label_of(p.a, p.label))
            .map_err(|x| p.err("cannot record the placeholder for", x));
        drop(f);
        self.finish_tmp(p, r)
    }
}

/// The override xattr, the label, mode 0 and the mtime of a placeholder.
fn record_placeholder(f: &std::fs::File, e: &Entry, label: Option<&str>) -> io::Result<()> {
    sys::fsetxattr(
        f,
        OVERRIDE_XATTR,
        crate::sink::override_of(e).encode().as_bytes(),
    )?;
    if let Some(l) = label {
        sys::fsetxattr(f, LABEL_XATTR, l.as_bytes())?;
    }
    sys::fchmod(f, 0)?;
    sys::futimens(f, e.mtime)
}

/// The error when the parent directories of `path` cannot be made.
fn parent_error(path: &str, x: io::Error) -> Error {
    let msg = if errno::refused_path(&x) {
        "cannot create {} (a parent directory is a symlink or not a directory; not followed)"
    } else {
        "cannot create the parent directories of"
    };
    Error::io(msg, path, x)
}
