//! `extract --to-stdout` (`-O`): file contents to standard output.

use std::io::{self, Write};

use crate::entry::Kind;
use crate::error::{Error, Result};
use crate::report::Report;
use crate::select::MemberFilter;

use super::ExtractOptions;

/// `extract --to-stdout`: the contents of the regular files among the
/// selected members, in archive order, to `out`; nothing is written to
/// disk and owners are not looked at. `on_entry` gets each selected name.
///
/// # Errors
/// The archive cannot be opened, or `out` cannot be written. A damaged
/// archive is [`Report::fatal`], after what came before it was written.
pub fn to_stdout(
    opts: &ExtractOptions,
    out: &mut dyn Write,
    on_entry: &mut dyn FnMut(&[u8]),
) -> Result<Report> {
    let mut report = Report::default();
    let mut rd = crate::archive::Members::open(&opts.archive)?;
    report.errors.extend(rd.take_errors());
    let mut pats = MemberFilter::new(&opts.patterns, opts.matching, &opts.exclude);
    let werr = |e: io::Error| Error::io_nopath("cannot write to standard output", e);
    let mut buf = vec![0u8; 128 << 10];
    let archive = opts.archive.display().to_string();
    loop {
        let e = match rd.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(err) => {
                report.fatal = Some(err.with_context(format!("reading {archive}")));
                break;
            }
        };
        if !pats.admits(&e.path)
            || crate::member::strip_components(&e.path, opts.strip_components).is_none()
        {
            continue;
        }
        on_entry(&e.path);
        report.entries += 1;
        if e.kind == Kind::File
            && let Err(err) = copy_member(&mut rd, &mut buf, out).map_err(werr)?
        {
            report.fatal = Some(err.with_context(format!("reading {archive}")));
            break;
        }
    }
    out.flush().map_err(werr)?;
    report.bytes = rd.position();
    report
        .errors
        .extend(crate::pattern::not_found(pats.unmatched()));
    Ok(report)
}

/// Copy the current member's data to `out`. `Err`: `out` failed;
/// `Ok(Err)`: the archive did.
fn copy_member(
    rd: &mut crate::archive::Members,
    buf: &mut [u8],
    out: &mut dyn Write,
) -> io::Result<Result<()>> {
    loop {
        match rd.read_data(buf) {
            Ok(0) => return Ok(Ok(())),
            Ok(n) => out.write_all(&buf[..n])?,
            Err(e) => return Ok(Err(e)),
        }
    }
}
