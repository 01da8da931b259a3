//! Translated entries → archive members, in order: hard links recognized,
//! times rounded, names transformed, each member laid out in frames.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::build::Notes;
use super::layout::Planner;
use super::{Env, Watch};
use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::frame::layout::HeaderMaker;
use crate::output::Output;
use crate::progress::Progress;
use crate::report::Report;
use crate::tar::write as tw;
use crate::walk::WalkedFile;

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
}

impl<'a> Members<'a> {
    /// Members written to `out` (just opened), compressed as `env` says.
    pub(super) fn new(env: &Env, out: &mut Output, progress: &Progress) -> Members<'a> {
        let writer = out.writer.take().expect("fresh output");
        let notes = Arc::new(Notes::default());
        Members {
            planner: Planner::new(
                writer,
                env.level(),
                notes.clone(),
                progress.clone(),
                env.labels.archive.clone(),
            ),
            links: HashMap::new(),
            target: out.display.clone(),
            nanoseconds: env.opts.nanoseconds,
            transform: env.opts.transform.clone(),
            set_mtime: env.opts.normalize.mtime,
            notes,
        }
    }

    fn werr(&self, e: io::Error) -> Error {
        Error::io("cannot write the archive", &self.target, e)
    }

    /// The global header, before any member. It gets the first frame, kept
    /// for it, as a header made after the walk does ([`Members::defer_header`]):
    /// the same tree then makes the same archive whether it is written while
    /// walked or after.
    pub(super) fn header(&mut self, header: &[u8]) -> Result<()> {
        let header = header.to_vec();
        self.planner.defer_header(Box::new(move || Ok(header)));
        Ok(())
    }

    /// The global header, made by `make` once what it names is known: it
    /// gets the first frame, kept for it.
    pub(super) fn defer_header(&mut self, make: HeaderMaker<'a>) {
        self.planner.defer_header(make);
    }

    /// Write the member of `s`; `watch` is told of it.
    pub(super) fn write(
        &mut self,
        s: WalkedFile,
        watch: &mut Watch,
        report: &mut Report,
    ) -> Result<()> {
        let WalkedFile {
            fs_path,
            mut entry,
            dev,
            ino,
            nlink,
            fixed: _,
        } = s;
        if entry.kind == Kind::File && gone(&fs_path) {
            report
                .errors
                .push(Error::changed(fs_path, crate::walk::REMOVED));
            return Ok(());
        }
        if entry.kind != Kind::Dir && nlink > 1 {
            if let Some(first) = self.links.get(&(dev, ino)) {
                entry.kind = Kind::HardLink;
                entry.link = Some(first.clone());
                entry.size = 0;
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
        (watch.on_entry)(&entry.path);
        transform_member(self.transform.as_ref(), &mut entry);
        if let Err(e) = self.planner.entry(entry, fs_path, seen) {
            return Err(self.werr(e));
        }
        watch.progress.add_entry();
        report.entries += 1;
        Ok(())
    }

    /// The end-of-archive marker, the index and the seek table; then the
    /// archive goes into place and what the frame builders met into
    /// `report`.
    pub(super) fn finish(self, out: Output, report: &mut Report) -> Result<()> {
        let Members {
            mut planner,
            target,
            notes,
            ..
        } = self;
        let werr = |e: io::Error| Error::io("cannot write the archive", &target, e);
        let mut buf = Vec::new();
        tw::end_of_archive(&mut buf);
        planner.drain().map_err(werr)?;
        let end = planner.position();
        planner.bytes(&buf).map_err(werr)?;
        report.bytes = planner.finish(end).map_err(werr)?;
        out.commit()?;
        report.errors.extend(notes.take());
        Ok(())
    }
}

/// The file the walk found at `path` is no longer there. Its data is read
/// once its member is laid out, which may be long after the walk saw it
/// (the walk runs ahead): a file removed meanwhile is left out, as GNU tar
/// leaves out a file it cannot open. (One removed after this look is
/// archived as zeros, and reported.)
fn gone(path: &std::path::Path) -> bool {
    crate::sys::lstat_path(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
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
