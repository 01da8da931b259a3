//! Translated entries → archive members, in order: hard links recognized,
//! times rounded, names transformed, each member laid out in frames.

use std::collections::HashMap;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::build::{Notes, Source};
use super::layout::Planner;
use super::{Env, Watch};
use crate::entry::{Entry, Kind, Time};
use crate::error::{Error, Result};
use crate::frame::chain::Change;
use crate::frame::layout::DeferredHeader;
use crate::output::Output;
use crate::progress::Progress;
use crate::report::Report;
use crate::tar::format::TarFormat;
use crate::tar::write as tw;
use crate::walk::{Prefetched, WalkedFile};

/// A member as it is to be written.
pub(super) struct Member {
    pub(super) entry: Entry,
    /// Its name before `--transform` (what `-v` shows), when there is one.
    pub(super) shown: Option<Vec<u8>>,
    pub(super) fs_path: PathBuf,
    /// The file's own modification time when stat'ed.
    pub(super) seen: Time,
    /// Its status change time, if it is on disk.
    pub(super) ctime: Option<Time>,
    /// A directory whose contents the walk left out ([`WalkedFile::pruned`]).
    pub(super) pruned: bool,
    /// Its data, if the walk read it ([`WalkedFile::data`]).
    pub(super) data: Option<Arc<Prefetched>>,
}

/// The records of a global header: key, value.
pub(super) type Records = Vec<(String, String)>;

/// Makes the global header's records once what they name is known.
pub(super) type RecordsMaker<'a> = Box<dyn FnOnce() -> io::Result<Records> + 'a>;

/// What the members written tell about the archive, for an image's config.
#[derive(Default)]
pub(super) struct Written {
    /// The global header's records, where the stream has no global header
    /// to hold them ([`TarFormat::Pax`]).
    pub(super) records: Option<Records>,
    /// The newest modification time stored, if any member was written.
    pub(super) newest: Option<Time>,
    /// The base image of an image layer, handed back for the image's
    /// manifest and config.
    pub(super) base: Option<crate::image::Image>,
}

/// Members written in order: hard links recognized, each laid out in frames.
pub(super) struct Members<'a> {
    planner: Planner<'a>,
    /// The member name of the first link seen of each file with several.
    links: HashMap<(u64, u64), Vec<u8>>,
    target: PathBuf,
    /// [`super::CreateOptions::nanoseconds`].
    nanoseconds: bool,
    /// What the frame builders met (files that shrank, changed, vanished).
    notes: Arc<Notes>,
    /// [`super::CreateOptions::transform`].
    transform: Option<crate::transform::Transform>,
    /// `--mtime`, `--clamp-mtime`.
    set_mtime: Option<super::SetMtime>,
    /// `--format`: what the members keep, and whether the stream declares
    /// labels in a global header (see [`TarFormat`]).
    format: TarFormat,
    /// Members whose xattrs the format left out.
    xattrs_left_out: u64,
    /// The archive's label.
    label: Option<String>,
    /// Without a global header: what makes its records, handed back by
    /// [`Members::finish`].
    records: Option<RecordsMaker<'a>>,
    /// Members without labels in the stream whose label was not the
    /// archive's, by label.
    unlike: std::collections::BTreeMap<Option<String>, u64>,
    newest: Option<Time>,
    /// The directory of the last file looked for.
    parent: Parent,
}

impl<'a> Members<'a> {
    /// Members written to `out` (just opened), compressed as `env` says.
    pub(super) fn new(env: &Env, out: &mut Output, progress: &Progress) -> Members<'a> {
        let writer = out.writer.take().expect("fresh output");
        let notes = Arc::new(Notes::default());
        let format = env.opts.tar_format;
        let label = env.labels.archive.clone();
        let mut planner = Planner::new(
            writer,
            env.level(),
            notes.clone(),
            progress.clone(),
            label.clone().filter(|_| format.declares_labels()),
            format,
            (out.tap.take(), out.scratch_dir()),
        );
        if let (Some(info), Some(index)) = (env.chain, planner.index()) {
            index.start_chain(info);
        }
        Members {
            planner,
            links: HashMap::new(),
            target: out.display.clone(),
            nanoseconds: env.opts.nanoseconds,
            transform: env.opts.transform.clone(),
            set_mtime: env.opts.normalize.mtime,
            xattrs_left_out: 0,
            notes,
            format,
            label,
            records: None,
            unlike: Default::default(),
            newest: None,
            parent: Parent::default(),
        }
    }

    fn werr(&self, e: io::Error) -> Error {
        Error::io("cannot write the archive", &self.target, e)
    }

    /// The global header's records, before any member. The header gets the
    /// first frame, kept for it, as a header made after the walk does
    /// ([`Members::defer_header`]): the same tree then makes the same
    /// archive whether it is written while walked or after.
    pub(super) fn header(&mut self, records: Records) {
        self.defer_header(Box::new(|| true), Box::new(move || Ok(records)));
    }

    /// The global header's records, made by `make` once what they name is
    /// known (`ready` tells whether it is, so that `make` would not wait):
    /// the header gets the first frame, kept for it. A stream without a
    /// global header keeps them for [`Members::finish`].
    pub(super) fn defer_header(
        &mut self,
        ready: Box<dyn Fn() -> bool + 'a>,
        make: RecordsMaker<'a>,
    ) {
        if !self.format.declares_labels() {
            self.records = Some(make);
            return;
        }
        self.planner.defer_header(DeferredHeader {
            ready,
            make: Box::new(move || {
                let mut buf = Vec::with_capacity(1024);
                tw::encode_global(&make()?, &mut buf);
                Ok(buf)
            }),
        });
    }

    /// Lay out `b` after the global header, before any member.
    pub(super) fn lead(&mut self, b: &[u8]) -> Result<()> {
        self.planner.bytes(b).map_err(|e| self.werr(e))
    }

    /// The index being built, for a zstd archive.
    pub(super) fn index(&mut self) -> Option<&mut crate::frame::index::IndexBuilder> {
        self.planner.index()
    }

    /// Write the member of `s`, which the walk saw at the time `seen`
    /// (`None`: long ago); `watch` is told of it.
    pub(super) fn write(
        &mut self,
        s: WalkedFile,
        seen: Option<Instant>,
        watch: &mut Watch,
        report: &mut Report,
    ) -> Result<()> {
        // A file the walk saw a moment ago is not looked for again: it is
        // read about as soon as it would be looked for (and if it is gone
        // by then, archived as zeros and reported). One the walk read is
        // not looked for either.
        let look = s.data.is_none() && seen.is_none_or(|t| t.elapsed() >= FRESH);
        if let Some(e) = look
            .then(|| self.parent.gone_error(&s.entry, &s.fs_path))
            .flatten()
        {
            report.errors.push(e);
            return Ok(());
        }
        let m = self.form(s);
        self.lay(m, Change::Plain, watch, report)
    }

    /// The member `s` makes, as it would be written: hard links recognized,
    /// the time set and rounded, the name transformed.
    pub(super) fn form(&mut self, s: WalkedFile) -> Member {
        let WalkedFile {
            fs_path,
            mut entry,
            dev,
            ino,
            nlink,
            ctime,
            pruned,
            fixed: _,
            mut data,
        } = s;
        if entry.kind != Kind::Dir && nlink > 1 {
            if let Some(first) = self.links.get(&(dev, ino)) {
                entry.kind = Kind::HardLink;
                entry.link = Some(first.clone());
                entry.size = 0;
                data = None;
            } else {
                self.links.insert((dev, ino), entry.path.clone());
            }
        }
        // The file's own time, to tell whether it changed while read.
        let seen = entry.mtime;
        if let Some(m) = &self.set_mtime {
            entry.mtime = m.apply(entry.mtime);
        }
        if !self.nanoseconds {
            entry.mtime.nsec = 0;
        }
        let shown = self.transform.as_ref().map(|_| entry.path.clone());
        transform_member(self.transform.as_ref(), &mut entry);
        Member {
            entry,
            shown,
            fs_path,
            seen,
            ctime,
            pruned,
            data,
        }
    }

    /// Write the member `m` (formed by [`Members::form`]), which is `change`
    /// to the increment it belongs to; `watch` is told of it.
    pub(super) fn put(
        &mut self,
        m: Member,
        change: Change,
        watch: &mut Watch,
        report: &mut Report,
    ) -> Result<()> {
        if let Some(e) = self.parent.gone_error(&m.entry, &m.fs_path) {
            report.errors.push(e);
            return Ok(());
        }
        self.lay(m, change, watch, report)
    }

    /// Write `e`, a member that is no file of the tree (an image layer's
    /// whiteout: empty, no data to read); `watch` is told of it.
    pub(super) fn marker(
        &mut self,
        e: Entry,
        watch: &mut Watch,
        report: &mut Report,
    ) -> Result<()> {
        let m = Member {
            seen: e.mtime,
            entry: e,
            shown: None,
            fs_path: PathBuf::new(),
            ctime: None,
            pruned: false,
            data: None,
        };
        self.lay(m, Change::Plain, watch, report)
    }

    fn lay(
        &mut self,
        m: Member,
        change: Change,
        watch: &mut Watch,
        report: &mut Report,
    ) -> Result<()> {
        let Member {
            mut entry,
            shown,
            fs_path,
            seen,
            data,
            ..
        } = m;
        self.newest = self.newest.max(Some(entry.mtime));
        if !self.format.declares_labels() {
            // The stream holds no label: the archive's is said elsewhere.
            if entry.label != self.label {
                *self.unlike.entry(entry.label.clone()).or_default() += 1;
            }
            entry.label = None;
        }
        (watch.on_entry)(shown.as_deref().unwrap_or(&entry.path));
        if self.format.fit(&mut entry) {
            self.xattrs_left_out += 1;
        }
        if let Some(why) = self.format.refuses(&entry) {
            let shown = crate::quote::escaped(&entry.path);
            report.errors.push(Error::usage(format!(
                "{shown}: not archived: {why} (--format gnu or pax stores it)"
            )));
            return Ok(());
        }
        // Queued as the member is, so that a member left out (gone, or
        // refused by the format) leaves no change behind for the next
        // one's index entry.
        if let (Change::Added | Change::Changed, Some(index)) = (change, self.planner.index()) {
            index.changes([change]);
        }
        if let Err(e) = self.planner.entry(
            entry,
            Source {
                path: fs_path,
                data,
            },
            seen,
        ) {
            return Err(self.werr(e));
        }
        watch.progress.add_entry();
        report.entries += 1;
        Ok(())
    }

    /// The end-of-archive marker, the index and the seek table; then the
    /// archive goes into place and what the frame builders met into
    /// `report`.
    pub(super) fn finish(self, out: Output, report: &mut Report) -> Result<Written> {
        if self.xattrs_left_out > 0 {
            let n = self.xattrs_left_out;
            report.warnings.push(format!(
                "--format {}: the xattrs of {n} member{} were not stored (--format pax or alientar stores them)",
                self.format.name(),
                if n == 1 { "" } else { "s" }
            ));
        }
        let Members {
            mut planner,
            target,
            notes,
            records,
            newest,
            unlike,
            label,
            ..
        } = self;
        let werr = |e: io::Error| Error::io("cannot write the archive", &target, e);
        let mut buf = Vec::new();
        tw::end_of_archive(&mut buf);
        planner.drain().map_err(werr)?;
        let end = planner.position();
        planner.bytes(&buf).map_err(werr)?;
        report.bytes = planner.finish(end).map_err(werr)?;
        let records = records.map(|make| make()).transpose().map_err(werr)?;
        out.commit()?;
        report.errors.extend(notes.take());
        for (other, n) in unlike {
            report
                .warnings
                .push(unlike_label(label.as_deref(), other.as_deref(), n));
        }
        Ok(Written {
            records,
            newest,
            base: None,
        })
    }
}

/// The warning for `n` members of the label `other` (`None`: unlabelled)
/// in a stream that records no member's label, whose label (said
/// elsewhere: an image's config) is `archive`.
fn unlike_label(archive: Option<&str>, other: Option<&str>, n: u64) -> String {
    let label = |l: Option<&str>| match l {
        Some(l) => format!("context '{l}'"),
        None => "no context".to_string(),
    };
    format!(
        "{n} members belong to {}, but the stream records no member's label: they read as the \
         archive's, {}, their owners in their own context's view (--context NAME puts every \
         member in one)",
        label(other),
        label(archive)
    )
}

/// How long after the walk saw a file it is looked for again before its
/// member is laid out (see [`Members::write`]). In a streaming create the
/// walk runs a few tens of milliseconds ahead of the layout; looking again
/// costs a cold lookup of the name, a tenth of create's CPU time on a tree
/// of tiny files.
const FRESH: Duration = Duration::from_millis(100);

/// The directory of the last file [`Parent::gone_error`] looked for, open:
/// the files of a directory come one after another, and a name looked up
/// in it costs one step where the whole path costs one per component.
#[derive(Default)]
struct Parent {
    path: PathBuf,
    /// `None` when it could not be opened (then the whole path is asked).
    dir: Option<crate::sys::Dir>,
}

impl Parent {
    /// The file the walk found at `path` is no longer there. Its data is
    /// read once its member is laid out, which may be some time after the
    /// walk saw it: a file removed meanwhile is left out, as GNU tar leaves
    /// out a file it cannot open. (One removed after this look is archived
    /// as zeros, and reported.)
    fn gone(&mut self, path: &Path) -> bool {
        // (Split as bytes: `Path::parent` parses every component.)
        let p = path.as_os_str().as_bytes();
        let found = match p.iter().rposition(|&b| b == b'/') {
            Some(i) if i > 0 && i + 1 < p.len() => {
                let (parent, name) = (&p[..i], &p[i + 1..]);
                if self.path.as_os_str().as_bytes() != parent {
                    self.path = PathBuf::from(std::ffi::OsStr::from_bytes(parent));
                    self.dir = crate::sys::Dir::open_nofollow(&self.path).ok();
                }
                match &self.dir {
                    Some(d) => d.lstat(name),
                    None => crate::sys::lstat_path(path),
                }
            }
            _ => crate::sys::lstat_path(path),
        };
        found.is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
    }

    /// The error for the file `e` whose data is to be read from `path`,
    /// when it is [`Parent::gone`].
    fn gone_error(&mut self, e: &Entry, path: &Path) -> Option<Error> {
        (e.kind == Kind::File && self.gone(path))
            .then(|| Error::changed(path, crate::walk::REMOVED))
    }
}

/// Rename a member as `--transform` says: its name (a leading `/` the
/// expressions make is removed, an empty name becomes `.`, as in GNU tar)
/// and its link target.
fn transform_member(t: Option<&crate::transform::Transform>, e: &mut Entry) {
    let Some(t) = t else { return };
    t.apply_entry(e);
    let start = e
        .path
        .iter()
        .position(|&b| b != b'/')
        .unwrap_or(e.path.len());
    e.path.drain(..start);
    if e.path.is_empty() {
        e.path.push(b'.');
    }
}
