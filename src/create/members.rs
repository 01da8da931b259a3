//! Translated entries → archive members, in order: hard links recognized,
//! times rounded, names transformed, each member laid out in frames.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::build::{Note, Notes};
use super::layout::Planner;
use super::{Env, Watch};
use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::frame::layout::HeaderMaker;
use crate::output::Output;
use crate::progress::Progress;
use crate::report::Report;
use crate::tar::format::TarFormat;
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
    /// `--format`: what the members keep, and whether the archive gets
    /// alientar's global header.
    format: TarFormat,
    /// Members whose xattrs the format left out.
    xattrs_left_out: u64,
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
                env.opts.tar_format,
            ),
            links: HashMap::new(),
            target: out.display.clone(),
            nanoseconds: env.opts.nanoseconds,
            transform: env.opts.transform.clone(),
            set_mtime: env.opts.normalize.mtime,
            format: env.opts.tar_format,
            xattrs_left_out: 0,
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
    /// A format without alientar's records has no global header.
    pub(super) fn header(&mut self, header: &[u8]) -> Result<()> {
        let header = header.to_vec();
        self.defer_header(Box::new(move || Ok(header)));
        Ok(())
    }

    /// The global header, made by `make` once what it names is known: it
    /// gets the first frame, kept for it (none without alientar's records).
    pub(super) fn defer_header(&mut self, make: HeaderMaker<'a>) {
        if self.format.alientar_records() {
            self.planner.defer_header(make);
        }
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
        for n in notes.take() {
            match n {
                Note::Warning(w) => report.warnings.push(w),
                Note::Error(e) => report.errors.push(e),
            }
        }
        Ok(())
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
