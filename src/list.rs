//! `list`: archive → one line (or JSON object) per entry.
//!
//! By default entries are shown in the context view, as stored. With
//! `--map` or `--context` they are shown in the host view they would get on
//! extract.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::json;

use crate::archive::{Entries, LayerOf};
use crate::context::Registry;
use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::image::{Whiteout, whiteout};
use crate::ownership::{MapChooser, OwnerOptions};
use crate::quote::format_time;
use crate::report::Report;
use crate::select::MemberFilter;
use crate::translate::{Direction, translate};

/// Output style.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// Names only, like `tar -t`.
    Names,
    /// `tar -tv`-like long lines, plus the label.
    Long,
    /// One JSON object per line.
    Json,
}

/// What to list.
#[derive(Clone, Debug)]
pub struct ListOptions {
    /// The archive (`-` for stdin), or an image: `oci:DIR[:TAG]`,
    /// `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]` (its final
    /// view, every blob verified first).
    pub archive: PathBuf,
    /// Member patterns; empty lists everything.
    pub patterns: Vec<Vec<u8>>,
    /// How the patterns match.
    pub matching: crate::pattern::Matching,
    /// Members left out, by their names as stored.
    pub exclude: crate::select::Exclude,
    /// Ownership: `context`/`maps` select the host view.
    pub owners: OwnerOptions,
    /// Output style.
    pub format: ListFormat,
    /// `--transform`: link targets are shown transformed, as GNU tar shows
    /// them; member names only with `show_transformed`.
    pub transform: Option<crate::transform::Transform>,
    /// `--show-transformed-names`.
    pub show_transformed: bool,
    /// `--strip-components`: with `show_transformed`, names are shown
    /// without this many leading components (after the transform), and
    /// members with no more are not shown, as GNU tar shows them.
    pub strip_components: u32,
    /// `--layers`: an image's layers, each with its own entries (whiteouts
    /// included, marked), instead of its final view.
    pub layers: bool,
}

/// List an archive to `out`.
///
/// # Errors
/// An unreadable or malformed archive, or an unknown context. Unmapped IDs
/// in the host view are per-entry errors in the report.
pub fn list(opts: &ListOptions, reg: &Registry, out: &mut dyn Write) -> Result<Report> {
    let mut report = Report::default();
    let mut rd = if opts.layers {
        Entries::open_layers(&opts.archive)?
    } else {
        Entries::open(&opts.archive, &mut report.errors)?
    };
    let mut pats = MemberFilter::new(&opts.patterns, opts.matching, &opts.exclude);
    let mut host_view = if opts.owners.maps.is_some() || opts.owners.context.is_some() {
        Some(HostView::new(MapChooser::new(reg, &opts.owners)?, opts))
    } else {
        None
    };
    let mut printer = Printer::new(opts.format);
    let archive = opts.archive.display().to_string();
    while let Some((e, layer)) = rd
        .next_mut()
        .map_err(|e| e.with_context(format!("reading {archive}")))?
    {
        if !pats.admits(&e.path) {
            continue;
        }
        let host = match host_view
            .as_mut()
            .map(|h| h.owners(e))
            .transpose()?
            .flatten()
        {
            Some(Err(err)) => {
                report.errors.push(err);
                continue;
            }
            Some(Ok(ids)) => Some(ids),
            None => None,
        };
        if !shown(opts, e) {
            continue;
        }
        let layer = layer.map(|l| Layer {
            of: l,
            whiteout: if opts.layers { whiteout(&e.path) } else { None },
            header: opts.layers,
        });
        printer
            .print(e, host, layer, out)
            .map_err(|err| Error::io_nopath("cannot write listing", err))?;
        report.entries += 1;
    }
    out.flush()
        .map_err(|e| Error::io_nopath("cannot write listing", e))?;
    for p in pats.unmatched() {
        report
            .errors
            .push(Error::usage(format!("{p}: not found in archive")));
    }
    Ok(report)
}

/// An entry's owners in the host view (as extract would give them).
#[derive(Copy, Clone, Debug)]
struct HostIds {
    uid: u64,
    gid: u64,
}

/// The host view of `--map`/`--context`: each entry's owners translated
/// in a scratch entry reused from one to the next, so that listing
/// allocates nothing per entry for it.
struct HostView<'a> {
    chooser: MapChooser<'a>,
    unmapped: crate::translate::Unmapped,
    scratch: Entry,
}

impl<'a> HostView<'a> {
    fn new(chooser: MapChooser<'a>, opts: &ListOptions) -> HostView<'a> {
        HostView {
            chooser,
            unmapped: opts.owners.unmapped,
            scratch: Entry::new(Vec::new(), Kind::File),
        }
    }

    /// The entry's host owners; `None` when no map applies. The outer
    /// error ends the listing (a label that names no context); the inner
    /// one is the entry's (an unmapped ID).
    fn owners(&mut self, e: &Entry) -> Result<Option<Result<HostIds>>> {
        let Some((maps, origin)) = self.chooser.for_entry(e)? else {
            return Ok(None);
        };
        // What translate reads: the owners, the mode, the ID-bearing
        // xattrs, and the path for its messages.
        let h = &mut self.scratch;
        h.path.clone_from(&e.path);
        (h.uid, h.gid, h.mode) = (e.uid, e.gid, e.mode);
        h.xattrs.clone_from(&e.xattrs);
        let r = translate(h, maps, Direction::ToHost, self.unmapped, &origin);
        Ok(Some(r.map(|_| HostIds {
            uid: h.uid,
            gid: h.gid,
        })))
    }
}

/// The layer of an image an entry is listed from.
struct Layer<'a> {
    of: LayerOf<'a>,
    /// What the entry removes, when it is a whiteout (`--layers`).
    whiteout: Option<Whiteout>,
    /// Lines name each layer before its entries (`--layers`).
    header: bool,
}

/// Writes the listing's lines, with one buffer for every line.
struct Printer {
    format: ListFormat,
    widths: Widths,
    line: String,
    /// The layer whose header line was printed last.
    layer: usize,
}

impl Printer {
    fn new(format: ListFormat) -> Printer {
        Printer {
            format,
            widths: Widths::default(),
            line: String::new(),
            layer: 0,
        }
    }

    /// The entry's line (or JSON object) to `out`.
    fn print(
        &mut self,
        e: &Entry,
        host: Option<HostIds>,
        layer: Option<Layer>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if let Some(l) = layer.as_ref().filter(|l| l.header)
            && l.of.number != self.layer
            && self.format != ListFormat::Json
        {
            self.layer = l.of.number;
            writeln!(out, "# layer {}/{} {}", l.of.number, l.of.count, l.of.name)?;
        }
        match self.format {
            ListFormat::Names => {
                self.line.clear();
                push_display_name(e, &mut self.line);
                self.line.push('\n');
                out.write_all(self.line.as_bytes())
            }
            ListFormat::Long => {
                long_line(e, host, &mut self.widths, &mut self.line);
                if let Some(w) = layer.and_then(|l| l.whiteout) {
                    self.line.pop();
                    push_whiteout(&w, &mut self.line);
                    self.line.push('\n');
                }
                out.write_all(self.line.as_bytes())
            }
            ListFormat::Json => writeln!(out, "{}", json_line(e, host, layer)),
        }
    }
}

/// ` [whiteout of PATH]` or ` [opaque: empties DIR]`.
fn push_whiteout(w: &Whiteout, s: &mut String) {
    match w {
        Whiteout::Name(p) => {
            s.push_str(" [whiteout of ");
            crate::quote::push_escaped(p, s);
        }
        Whiteout::Opaque(d) => {
            s.push_str(" [opaque: empties ");
            crate::quote::push_escaped(if d.is_empty() { b"." } else { d }, s);
        }
        Whiteout::Other => s.push_str(" [whiteout bookkeeping"),
    }
    s.push(']');
}

/// The entry as listed: without names with `--numeric-owner`, renamed as
/// `--transform` and `--strip-components` say. False: not shown (nothing
/// left after stripping).
fn shown(opts: &ListOptions, e: &mut Entry) -> bool {
    if opts.owners.numeric_owner {
        e.uname = None;
        e.gname = None;
    }
    if let Some(x) = &opts.transform {
        if opts.show_transformed {
            x.apply_entry(e);
        } else {
            x.apply_link(e);
        }
    }
    !opts.show_transformed || crate::member::strip_entry(e, opts.strip_components)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The member name as `tar -t` prints it, appended to `s`: escaped
/// ([`crate::quote`]), directories with a trailing `/`.
fn push_display_name(e: &Entry, s: &mut String) {
    crate::quote::push_escaped(&e.path, s);
    if e.kind == Kind::Dir && !s.ends_with('/') {
        s.push('/');
    }
}

#[derive(Default)]
struct Widths {
    ugs: usize,
    /// The last minute formatted, and its text (entries come in runs of
    /// the same minute).
    minute: Option<(i64, String)>,
    scratch: String,
}

/// `tar -tv`-style line into `s` (with its newline): mode, owner/group,
/// size (or major,minor), mtime (UTC), name, link target, then the label in
/// brackets. One buffer for every line: listing is mostly this.
fn long_line(e: &Entry, host: Option<HostIds>, w: &mut Widths, s: &mut String) {
    s.clear();
    e.push_mode_string(s);
    s.push(' ');
    let ug_start = s.len();
    push_owners(e, host, s);
    let ug_len = s.len() - ug_start;
    let size = &mut w.scratch;
    size.clear();
    if e.kind.is_device() {
        let _ = write!(size, "{},{}", e.dev_major, e.dev_minor);
    } else {
        let _ = write!(size, "{}", e.size);
    }
    let need = ug_len + 1 + size.len();
    w.ugs = w.ugs.max(need).max(19);
    for _ in 0..=(w.ugs - need) {
        s.push(' ');
    }
    s.push_str(size);
    s.push(' ');
    let minute = e.mtime.sec.div_euclid(60);
    match &w.minute {
        Some((m, text)) if *m == minute => s.push_str(text),
        _ => {
            let text = format_time(e.mtime.sec);
            s.push_str(&text);
            w.minute = Some((minute, text));
        }
    }
    s.push(' ');
    push_display_name(e, s);
    push_link_and_label(e, s);
    s.push('\n');
}

/// `uid/gid` in the host view, else `uname/gname` (the numbers where
/// there are no names).
fn push_owners(e: &Entry, host: Option<HostIds>, s: &mut String) {
    if let Some(h) = host {
        let _ = write!(s, "{}/{}", h.uid, h.gid);
        return;
    }
    match e.uname.as_deref() {
        Some(n) => crate::quote::push_escaped(n, s),
        None => {
            let _ = write!(s, "{}", e.uid);
        }
    }
    s.push('/');
    match e.gname.as_deref() {
        Some(n) => crate::quote::push_escaped(n, s),
        None => {
            let _ = write!(s, "{}", e.gid);
        }
    }
}

/// ` -> TARGET` or ` link to TARGET`, then ` [LABEL]`.
fn push_link_and_label(e: &Entry, s: &mut String) {
    match e.kind {
        Kind::Symlink => {
            s.push_str(" -> ");
            crate::quote::push_escaped(e.link.as_deref().unwrap_or(b""), s);
        }
        Kind::HardLink => {
            s.push_str(" link to ");
            crate::quote::push_escaped(e.link.as_deref().unwrap_or(b""), s);
        }
        _ => {}
    }
    if let Some(l) = &e.label {
        s.push_str(" [");
        s.push_str(l);
        s.push(']');
    }
}

fn json_line(e: &Entry, host: Option<HostIds>, layer: Option<Layer>) -> String {
    let mut v = json!({
        "path": lossy(&e.path),
        "type": e.kind.name(),
        "mode": format!("{:04o}", e.mode),
        "uid": e.uid,
        "gid": e.gid,
        "uname": e.uname.as_deref().map(lossy),
        "gname": e.gname.as_deref().map(lossy),
        "size": e.size,
        "mtime": e.mtime.to_string(),
        "link": e.link.as_deref().map(lossy),
        "devmajor": e.kind.is_device().then_some(e.dev_major),
        "devminor": e.kind.is_device().then_some(e.dev_minor),
        "context": e.label,
        "xattrs": e.xattrs.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
    });
    if let Some(h) = host {
        v["host_uid"] = json!(h.uid);
        v["host_gid"] = json!(h.gid);
    }
    if let Some(l) = layer {
        v["layer"] = json!(l.of.number);
        v["layer_digest"] = json!(l.of.name);
        match &l.whiteout {
            Some(Whiteout::Name(p)) => v["whiteout"] = json!(lossy(p)),
            Some(Whiteout::Opaque(d)) => v["opaque"] = json!(lossy(d)),
            Some(Whiteout::Other) => v["whiteout"] = json!(null),
            None => {}
        }
    }
    // `path` and `link` are text; a name that is not UTF-8 loses bytes
    // there, so it also comes whole, in base64.
    if std::str::from_utf8(&e.path).is_err() {
        v["path_base64"] = json!(crate::quote::base64(&e.path));
    }
    if let Some(l) = e
        .link
        .as_deref()
        .filter(|l| std::str::from_utf8(l).is_err())
    {
        v["link_base64"] = json!(crate::quote::base64(l));
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1700000000), "2023-11-14 22:13");
        assert_eq!(format_time(-1), "1969-12-31 23:59");
        assert_eq!(format_time(951782400), "2000-02-29 00:00");
    }
}
