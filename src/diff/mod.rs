//! `diff`: compare an archive with a tree on disk, like `tar --compare`.
//!
//! For every member (or those matching the patterns) the file of the same
//! name under the directory is compared: existence, type, mode, owner,
//! mtime, size and content, symlink target, hard-link identity, device
//! numbers and xattrs. Owners are compared in the **host view**: each
//! entry's IDs go through the map `extract` would use ([`MapChooser`]), so
//! a tree restored with `extract --map M` compares equal with `diff --map M`.
//!
//! A tree restored with `--owners xattr` keeps its owners, modes and types
//! in override records (`user.containers.override_stat`, and the other
//! records [`crate::ondisk::read_records`] reads): such a file is compared
//! as `create --from-xattrs` reads it, its owners in the context view, the
//! records themselves not as xattrs; in such a tree, a file without a
//! record (a symlink owned by the context's root) is read through the
//! invoking user's own layout, or the `--map`/`--context` given
//! ([`crate::ownership::unrecorded_maps`]). [`DiffOptions::from_xattrs`]
//! says whether the tree is one, or lets its first file found tell.
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
//!   file without one inherits its directory's, above the directory
//!   compared with too (as `create` reads it; an empty one marks a file
//!   unlabelled), and a difference is reported only when the disk has a
//!   label that is not the entry's;
//! - without patterns, a file on disk inside a directory the archive holds
//!   but which the archive lacks is reported ("Not in archive").

use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::archive::Members;
use crate::context::{Maps, Registry};
use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::member::safe_components;
use crate::ondisk::{OVERRIDE_XATTR, ROOTLESS_XATTR};
use crate::ownership::{MapChooser, OwnerOptions};
use crate::progress::Progress;
use crate::select::MemberFilter;
use crate::translate::{Direction, translate};

mod absent;
mod disk;
mod what;

use disk::{Comparer, Disk};
use what::shown;
pub use what::{DiffReport, Difference, What};

/// What to compare.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// The archive (`-` for stdin), or an image: `oci:DIR[:TAG]`,
    /// `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]` (its final
    /// view, every blob verified first).
    pub archive: PathBuf,
    /// The tree to compare with (`-C`).
    pub dir: PathBuf,
    /// Member patterns; empty compares everything (and looks for files
    /// the archive lacks).
    pub patterns: Vec<Vec<u8>>,
    /// How the patterns match.
    pub matching: crate::pattern::Matching,
    /// Members left out, by their names as stored.
    pub exclude: crate::select::Exclude,
    /// `--strip-components`: members are compared with the files named
    /// without this many leading components; a member with no more is
    /// skipped.
    pub strip_components: u32,
    /// Ownership: the map that turns the archive's owners into host IDs.
    pub owners: OwnerOptions,
    /// Read the tree's override records as `create --from-xattrs` does:
    /// `Some(true)`, the tree is one `extract --owners xattr` made;
    /// `Some(false)`, never (records are ordinary xattrs); `None`, a file
    /// with a record is read through it, and the tree is taken for such a
    /// tree when the first member found on disk has one (a symlink: when
    /// its directory has one). A record is not read for a member that
    /// carries that xattr itself.
    pub from_xattrs: Option<bool>,
}

/// Compare an archive with a tree. `on_difference` is called for each
/// difference as it is found (in archive order; files not in the archive
/// come last); `progress` is told of the member data and each member
/// compared.
///
/// # Errors
/// The directory cannot be opened, the archive is unreadable or malformed
/// (differences found before the damage have been reported), an entry's
/// label names no known context, or (reading an override-xattr tree) the
/// subordinate-ID files cannot be read.
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
    let mut rd = Members::open(&opts.archive)?;
    let refused = rd.take_errors();
    let mut run = Run {
        opts,
        reg,
        rd,
        pats: MemberFilter::new(&opts.patterns, opts.matching, &opts.exclude),
        chooser: MapChooser::new(reg, &opts.owners)?,
        cmp: Comparer::new(&opts.dir),
        tree: Tree::Undecided,
        absent: opts.patterns.is_empty().then(absent::Absent::default),
        report: DiffReport::default(),
        on_difference,
        archive: opts.archive.display().to_string(),
    };
    run.report.errors.extend(refused);
    if let Some(t) = opts.from_xattrs {
        run.decide(t)?;
    }
    while let Some(e) = run
        .rd
        .next_entry()
        .map_err(|e| e.with_context(format!("reading {}", run.archive)))?
    {
        run.member(&e, progress)?;
    }
    let unmatched = crate::pattern::not_found(run.pats.unmatched());
    run.report.errors.extend(unmatched);
    run.not_in_archive();
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

/// What kind of tree the run compares with.
enum Tree {
    /// Not known until a member is found on disk.
    Undecided,
    /// Owners are what `lstat` shows (a file's record still gives its own).
    Plain,
    /// Owners are in override records; a file without one is read through
    /// these maps (`None`: as it is), which come from the second field.
    Overrides(Option<Maps>, String),
}

/// One comparison under way.
struct Run<'a> {
    opts: &'a DiffOptions,
    reg: &'a Registry,
    rd: Members,
    pats: MemberFilter,
    chooser: MapChooser<'a>,
    cmp: Comparer,
    tree: Tree,
    /// What the tree holds that the archive lacks (without patterns).
    absent: Option<absent::Absent>,
    report: DiffReport,
    on_difference: &'a mut dyn FnMut(&Difference),
    /// The archive's name, for messages.
    archive: String,
}

impl Run<'_> {
    /// Compare one member with the disk and report what differs.
    fn member(&mut self, e: &Entry, progress: &Progress) -> Result<()> {
        if !self.pats.admits(&e.path) {
            return Ok(());
        }
        let stripped;
        let stored = &e.path;
        let e = match self.opts.strip_components {
            0 => e,
            n => {
                let mut s = e.clone();
                if !crate::member::strip_entry(&mut s, n) {
                    return Ok(());
                }
                stripped = s;
                &stripped
            }
        };
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
        if let Some(a) = &mut self.absent {
            let cmp = &mut self.cmp;
            a.member(&rel, stored, e.kind == Kind::Dir, &mut |d| list_dir(cmp, d));
        }
        let mut found = Vec::new();
        let r = self.compare(e, &comps, &mut found);
        if e.kind == Kind::File {
            progress.add_bytes(e.size);
        }
        if let Err(err) = r {
            use crate::error::ErrorKind;
            match err.kind() {
                ErrorKind::Format(_) => {
                    self.emit(&shown, found);
                    return Err(err.with_context(format!("reading {}", self.archive)));
                }
                // An unknown label, unreadable subordinate-ID files: no
                // member could be compared.
                ErrorKind::Context(_) | ErrorKind::Map(_) => return Err(err),
                _ => self.report.errors.push(err),
            }
        }
        self.emit(&shown, found);
        progress.add_entry();
        Ok(())
    }

    /// Find the member `e` on disk and compare it; what differs goes into
    /// `found`.
    ///
    /// # Errors
    /// The member cannot be compared (an unreadable file); the run cannot
    /// go on (a damaged archive, an unknown label: see [`Run::member`]).
    fn compare(&mut self, e: &Entry, comps: &[&[u8]], found: &mut Vec<What>) -> Result<()> {
        let Some(mut d) = self.cmp.locate(comps, found)? else {
            return Ok(());
        };
        if e.kind == Kind::HardLink {
            self.cmp.compare_link(e, &d.md, found);
            return Ok(());
        }
        let carries_record = e.xattr(OVERRIDE_XATTR).is_some() || e.xattr(ROOTLESS_XATTR).is_some();
        if self.opts.from_xattrs != Some(false)
            && !carries_record
            && let Err(err) = self.cmp.read_records(&mut d)
        {
            self.report.errors.push(err);
        }
        if matches!(self.tree, Tree::Undecided) {
            self.decide(!carries_record && d.in_override_tree())?;
        }
        let (want, owners_known) = self.archive_view(e, &d)?;
        let want = want.as_ref().unwrap_or(e);
        self.cmp
            .compare(&mut self.rd, comps, want, &d, owners_known, found)
    }

    /// The tree is an override-xattr tree (`overrides`) or a plain one.
    ///
    /// # Errors
    /// The maps of files without a record cannot be made.
    fn decide(&mut self, overrides: bool) -> Result<()> {
        self.tree = if overrides {
            let (maps, origin) = crate::ownership::unrecorded_maps(&self.opts.owners, self.reg)?;
            Tree::Overrides(maps, origin)
        } else {
            Tree::Plain
        };
        Ok(())
    }

    /// The member `e` in the view of `d`'s owners (`None`: as stored), and
    /// whether its owners are known (not when an ID is unmapped: that is
    /// reported, and the owners are not compared). A file read through its
    /// record is in the context view: the member's own owners and mode, its
    /// xattrs as extract wrote them (host view).
    ///
    /// # Errors
    /// The entry's label names no known context.
    fn archive_view(&mut self, e: &Entry, d: &Disk) -> Result<(Option<Entry>, bool)> {
        if d.recorded {
            let (host, _) = self.host_view(e, None)?;
            let Some(mut host) = host else {
                return Ok((None, true));
            };
            (host.uid, host.gid, host.mode) = (e.uid, e.gid, e.mode);
            return Ok((Some(host), true));
        }
        if let Tree::Overrides(maps, origin) = &self.tree {
            let Some(maps) = maps.clone() else {
                return Ok((None, true));
            };
            let origin = origin.clone();
            return self.host_view(e, Some((&maps, &origin)));
        }
        self.host_view(e, None)
    }

    /// The entry in the host view through `through` (else the map extract
    /// would choose; `None`: compared as stored), and whether its owners
    /// are known.
    ///
    /// # Errors
    /// The entry's label names no known context.
    fn host_view(
        &mut self,
        e: &Entry,
        through: Option<(&Maps, &str)>,
    ) -> Result<(Option<Entry>, bool)> {
        let chosen = match through {
            Some((m, o)) => Some((m, crate::ownership::MapOrigin::Given(o))),
            None => self.chooser.for_entry(e)?,
        };
        let Some((maps, origin)) = chosen else {
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
    /// archive lacks and no exclusion leaves out (sorted by name within
    /// each directory).
    fn not_in_archive(&mut self) {
        let Some(a) = self.absent.take() else {
            return;
        };
        let cmp = &mut self.cmp;
        let mut lacking = Vec::new();
        a.finish(&mut |d| list_dir(cmp, d), &mut |d, stored, n| {
            let mut m = d.to_vec();
            if !m.is_empty() {
                m.push(b'/');
            }
            m.extend_from_slice(n);
            let mut stored_name = stored.to_vec();
            stored_name.push(b'/');
            stored_name.extend_from_slice(n);
            lacking.push((m, stored_name));
        });
        for (m, stored) in lacking {
            if self.pats.admits(&stored) {
                self.emit(&shown(&m), vec![What::NotInArchive]);
            }
        }
    }
}

/// The names the directory `d` (relative to the one compared with) holds,
/// sorted; `None` when it cannot be read (nothing on disk is followed).
fn list_dir(cmp: &mut Comparer, d: &[u8]) -> Option<Vec<Vec<u8>>> {
    let comps: Vec<&[u8]> = d.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    let Ok(Ok(p)) = cmp.resolve(&comps) else {
        return None;
    };
    let mut names = crate::sys::Dir::open(&p).and_then(|d| d.names()).ok()?;
    names.sort();
    Some(names)
}
