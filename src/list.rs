//! `list`: archive → one line (or JSON object) per entry.
//!
//! By default entries are shown in the context view, as stored. With
//! `--map` or `--context` they are shown in the host view they would get on
//! extract.

use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::json;

use crate::archive::{Entries, LayerOf};
use crate::context::Registry;
use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::frame::chain::Change;
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
    let r = list_all(
        &mut rd,
        opts,
        &mut pats,
        &mut host_view,
        &mut printer,
        &mut report,
        out,
    );
    // What was listed before an error is shown too.
    let flushed = printer.flush(out).and_then(|()| out.flush());
    r?;
    flushed.map_err(|e| Error::io_nopath("cannot write listing", e))?;
    report
        .errors
        .extend(crate::pattern::not_found(pats.unmatched()));
    Ok(report)
}

/// Print every entry `rd` gives that is shown, then the names the
/// archive deletes.
fn list_all(
    rd: &mut Entries,
    opts: &ListOptions,
    pats: &mut MemberFilter,
    host_view: &mut Option<HostView>,
    printer: &mut Printer,
    report: &mut Report,
    out: &mut dyn Write,
) -> Result<()> {
    let archive = opts.archive.display().to_string();
    let werr = |err| Error::io_nopath("cannot write listing", err);
    while rd
        .advance()
        .map_err(|e| e.with_context(format!("reading {archive}")))?
    {
        let deleted = rd.take_deleted();
        print_deleted(deleted, opts, pats, printer, out).map_err(werr)?;
        let change = rd.change();
        let (e, layer) = rd.current();
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
        printer.print(e, host, layer, change, out).map_err(werr)?;
        report.entries += 1;
    }
    // An increment that stores nothing still lists what it deletes.
    let deleted = rd.take_deleted();
    print_deleted(deleted, opts, pats, printer, out).map_err(werr)
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

/// Writes the listing's lines into one buffer, handed to the output when
/// it holds [`Printer::FLUSH_AT`] bytes: one write per many lines, none
/// of them formatted through `fmt` (listing a large index is mostly this).
struct Printer {
    format: ListFormat,
    widths: Widths,
    buf: Vec<u8>,
    /// The layer whose header line was printed last.
    layer: usize,
}

impl Printer {
    const FLUSH_AT: usize = 32 << 10;

    fn new(format: ListFormat) -> Printer {
        Printer {
            format,
            widths: Widths::default(),
            buf: Vec::with_capacity(Self::FLUSH_AT + 4096),
            layer: 0,
        }
    }

    /// The entry's line (or JSON object); an increment's member is marked
    /// with what it is to the state the increment follows.
    fn print(
        &mut self,
        e: &Entry,
        host: Option<HostIds>,
        layer: Option<Layer>,
        change: Change,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let b = &mut self.buf;
        if let Some(l) = layer.as_ref().filter(|l| l.header)
            && l.of.number != self.layer
            && self.format != ListFormat::Json
        {
            self.layer = l.of.number;
            writeln!(b, "# layer {}/{} {}", l.of.number, l.of.count, l.of.name)?;
        }
        match self.format {
            ListFormat::Names => {
                b.extend_from_slice(change_mark(change).as_bytes());
                push_display_name(e, b);
                b.push(b'\n');
            }
            ListFormat::Long => {
                b.extend_from_slice(change_mark(change).as_bytes());
                long_line(e, host, &mut self.widths, b);
                if let Some(w) = layer.and_then(|l| l.whiteout) {
                    b.pop();
                    push_whiteout(&w, b);
                    b.push(b'\n');
                }
            }
            ListFormat::Json => {
                let mut v = json_line(e, host, layer);
                if let Some(word) = change_word(change) {
                    v["change"] = json!(word);
                }
                writeln!(b, "{v}")?;
            }
        }
        self.written(out)
    }

    /// A name an increment deletes: `D NAME`, or a JSON object with its
    /// path and `"change": "deleted"`.
    fn deleted(&mut self, name: &[u8], out: &mut dyn Write) -> io::Result<()> {
        let b = &mut self.buf;
        if self.format == ListFormat::Json {
            let mut v = json!({"path": lossy(name), "change": "deleted"});
            if std::str::from_utf8(name).is_err() {
                v["path_base64"] = json!(crate::quote::base64(name));
            }
            writeln!(b, "{v}")?;
        } else {
            b.extend_from_slice(b"D ");
            push_escaped(name, b);
            b.push(b'\n');
        }
        self.written(out)
    }

    /// Hand the lines to `out` when there are enough.
    fn written(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.buf.len() >= Self::FLUSH_AT {
            self.flush(out)?;
        }
        Ok(())
    }

    /// Hand every line to `out`.
    fn flush(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// The mark of a long line: what its member is to the increment's state.
fn change_mark(change: Change) -> &'static str {
    match change {
        Change::Plain => "",
        Change::Added => "A ",
        Change::Changed => "M ",
    }
}

/// The `change` of a JSON object.
fn change_word(change: Change) -> Option<&'static str> {
    match change {
        Change::Plain => None,
        Change::Added => Some("added"),
        Change::Changed => Some("changed"),
    }
}

/// Print the names an increment deletes that the patterns select and no
/// exclusion leaves out, renamed as member names are with
/// `--show-transformed-names` (and `--strip-components`: a name with no
/// more components is not shown).
fn print_deleted(
    names: Vec<Vec<u8>>,
    opts: &ListOptions,
    pats: &mut MemberFilter,
    printer: &mut Printer,
    out: &mut dyn Write,
) -> io::Result<()> {
    for n in names {
        if !pats.admits(&n) {
            continue;
        }
        let mut e = Entry::new(n, Kind::File);
        if opts.show_transformed {
            if let Some(x) = &opts.transform {
                x.apply_entry(&mut e);
            }
            if !crate::member::strip_entry(&mut e, opts.strip_components) {
                continue;
            }
        }
        printer.deleted(&e.path, out)?;
    }
    Ok(())
}

/// ` [whiteout of PATH]` or ` [opaque: empties DIR]`.
fn push_whiteout(w: &Whiteout, b: &mut Vec<u8>) {
    match w {
        Whiteout::Name(p) => {
            b.extend_from_slice(b" [whiteout of ");
            push_escaped(p, b);
        }
        Whiteout::Opaque(d) => {
            b.extend_from_slice(b" [opaque: empties ");
            push_escaped(if d.is_empty() { b"." } else { d }, b);
        }
        Whiteout::Other => b.extend_from_slice(b" [whiteout bookkeeping"),
    }
    b.push(b']');
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

/// `name` escaped as [`crate::quote`] escapes it, appended to `b`; plain
/// ASCII (almost every name) as it is, without a detour through `str`.
fn push_escaped(name: &[u8], b: &mut Vec<u8>) {
    if name
        .iter()
        .all(|&c| (0x20..0x7f).contains(&c) && c != b'\\')
    {
        b.extend_from_slice(name);
    } else {
        b.extend_from_slice(crate::quote::escaped(name).as_bytes());
    }
}

/// `v` in decimal, appended to `b`.
fn push_num(v: u64, b: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = v;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&digits[i..]);
}

/// The member name as `tar -t` prints it, appended to `b`: escaped
/// ([`crate::quote`]), directories with a trailing `/`.
fn push_display_name(e: &Entry, b: &mut Vec<u8>) {
    push_escaped(&e.path, b);
    if e.kind == Kind::Dir && b.last() != Some(&b'/') {
        b.push(b'/');
    }
}

#[derive(Default)]
struct Widths {
    ugs: usize,
    /// The last minute formatted, and its text (entries come in runs of
    /// the same minute).
    minute: Option<(i64, String)>,
    /// The mode string.
    mode: String,
}

/// `tar -tv`-style line appended to `b` (with its newline): mode,
/// owner/group, size (or major,minor), mtime (UTC), name, link target,
/// then the label in brackets.
fn long_line(e: &Entry, host: Option<HostIds>, w: &mut Widths, b: &mut Vec<u8>) {
    w.mode.clear();
    e.push_mode_string(&mut w.mode);
    b.extend_from_slice(w.mode.as_bytes());
    b.push(b' ');
    let ug_start = b.len();
    push_owners(e, host, b);
    let ug_len = b.len() - ug_start;
    // The size (or the device numbers) goes right-aligned after the
    // owners, in a column that only widens: written first, then moved.
    let size_start = b.len();
    if e.kind.is_device() {
        push_num(u64::from(e.dev_major), b);
        b.push(b',');
        push_num(u64::from(e.dev_minor), b);
    } else {
        push_num(e.size, b);
    }
    let size_len = b.len() - size_start;
    let need = ug_len + 1 + size_len;
    w.ugs = w.ugs.max(need).max(19);
    let pad = w.ugs - need + 1;
    b.resize(b.len() + pad, b' ');
    b[size_start..].rotate_right(pad);
    b.push(b' ');
    let minute = e.mtime.sec.div_euclid(60);
    match &w.minute {
        Some((m, text)) if *m == minute => b.extend_from_slice(text.as_bytes()),
        _ => {
            let text = format_time(e.mtime.sec);
            b.extend_from_slice(text.as_bytes());
            w.minute = Some((minute, text));
        }
    }
    b.push(b' ');
    push_display_name(e, b);
    push_link_and_label(e, b);
    b.push(b'\n');
}

/// `uid/gid` in the host view, else `uname/gname` (the numbers where
/// there are no names).
fn push_owners(e: &Entry, host: Option<HostIds>, b: &mut Vec<u8>) {
    if let Some(h) = host {
        push_num(h.uid, b);
        b.push(b'/');
        push_num(h.gid, b);
        return;
    }
    match e.uname.as_deref() {
        Some(n) => push_escaped(n, b),
        None => push_num(e.uid, b),
    }
    b.push(b'/');
    match e.gname.as_deref() {
        Some(n) => push_escaped(n, b),
        None => push_num(e.gid, b),
    }
}

/// ` -> TARGET` or ` link to TARGET`, then ` [LABEL]`.
fn push_link_and_label(e: &Entry, b: &mut Vec<u8>) {
    match e.kind {
        Kind::Symlink => {
            b.extend_from_slice(b" -> ");
            push_escaped(e.link.as_deref().unwrap_or(b""), b);
        }
        Kind::HardLink => {
            b.extend_from_slice(b" link to ");
            push_escaped(e.link.as_deref().unwrap_or(b""), b);
        }
        _ => {}
    }
    if let Some(l) = &e.label {
        b.extend_from_slice(b" [");
        b.extend_from_slice(l.as_bytes());
        b.push(b']');
    }
}

fn json_line(e: &Entry, host: Option<HostIds>, layer: Option<Layer>) -> serde_json::Value {
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
    v
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
