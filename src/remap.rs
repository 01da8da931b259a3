//! `remap`: archive → archive with owners (and ACL/capability IDs)
//! translated through a map, contents copied bit for bit.
//!
//! Inside → outside by default (what `extract` would give the owners);
//! `--inverse` goes outside → inside (what `create` would store).

use std::io;
use std::path::PathBuf;

use crate::context::Maps;
use crate::entry::Kind;
use crate::error::{Error, Result};
use crate::frame::{PlainSink, TarSink, ZstdSink};
use crate::output::OutFormat;
use crate::output::Output;
use crate::report::Report;
use crate::tar::Reader;
use crate::tar::read::Chunk;
use crate::tar::write as tw;
use crate::translate::{Direction, Unmapped, translate};

/// Zeros written for the holes of one sparse member at most.
const MAX_HOLES: u64 = 1 << 30;

/// What to remap.
#[derive(Clone, Debug)]
pub struct RemapOptions {
    /// Input archive (`-` for stdin).
    pub input: PathBuf,
    /// Output archive (`-` for stdout).
    pub output: PathBuf,
    /// The map.
    pub maps: Maps,
    /// Outside → inside instead of inside → outside.
    pub inverse: bool,
    /// New label for every entry. `None` removes the labels: the entries'
    /// old context no longer describes the translated owners.
    pub context: Option<String>,
    /// What an unmapped ID becomes.
    pub unmapped: Unmapped,
    /// Output format.
    pub format: OutFormat,
}

/// Rewrite an archive. `progress` is told of the member data and of each
/// entry as they are written.
///
/// # Errors
/// An unreadable or malformed input, an unmapped ID under
/// [`Unmapped::Error`] (no output is left behind), or a write error.
pub fn remap(opts: &RemapOptions, progress: &crate::progress::Progress) -> Result<Report> {
    let mut report = Report::default();
    if let Some(l) = &opts.context {
        crate::context::validate_label(l).map_err(Error::usage)?;
    }
    let (_, r) = crate::input::open(&opts.input)?;
    let mut rd = Reader::new(r);
    let mut out = Output::open(&opts.output, opts.format)?;
    let target = out.display.clone();
    let writer = out.writer.take().expect("fresh output");
    let mut sink: Box<dyn TarSink> = match opts.format {
        OutFormat::Zstd(level) => Box::new(ZstdSink::new(writer, level)),
        // gzip, xz, bzip2: the tar stream, compressed by `out`.
        _ => Box::new(PlainSink::new(writer)),
    };
    let werr = |e: io::Error| Error::io("cannot write the archive", &target, e);
    let dir = if opts.inverse {
        Direction::ToContext
    } else {
        Direction::ToHost
    };
    let mut buf = Vec::with_capacity(64 << 10);
    let mut globals = vec![("ALIENTAR.version".to_string(), "1".to_string())];
    if let Some(l) = &opts.context {
        let m = if opts.inverse {
            opts.maps.clone()
        } else {
            opts.maps.inverse()
        };
        globals.push((format!("ALIENTAR.context.{l}.uidmap"), m.uid.to_string()));
        globals.push((format!("ALIENTAR.context.{l}.gidmap"), m.gid.to_string()));
    }
    tw::encode_global(&globals, &mut buf);
    sink.write(&buf).map_err(werr)?;
    let input = opts.input.display().to_string();
    let mut data = vec![0u8; 256 << 10];
    let mut squashed = 0u64;
    while let Some(mut e) = rd
        .next_entry()
        .map_err(|e| e.with_context(format!("reading {input}")))?
    {
        let o = translate(&mut e, &opts.maps, dir, opts.unmapped, &"the given map")?;
        squashed += u64::from(o.uid_squashed || o.gid_squashed);
        // Names belong to the old view; numbers are what was translated.
        e.uname = None;
        e.gname = None;
        e.label = opts.context.clone();
        buf.clear();
        sink.begin_entry(&e).map_err(werr)?;
        tw::encode_entry(&e, &mut buf);
        sink.write(&buf).map_err(werr)?;
        if e.kind == Kind::File {
            let mut left = e.size;
            let mut holes = 0u64;
            while left > 0 {
                let want = left.min(data.len() as u64) as usize;
                match rd.read_chunk(&mut data[..want])? {
                    Chunk::Data(0) => {
                        return Err(Error::format("archive ended inside member data")
                            .with_path(e.display_path()));
                    }
                    Chunk::Data(n) => {
                        sink.write(&data[..n]).map_err(werr)?;
                        progress.add_bytes(n as u64);
                        left -= n as u64;
                    }
                    Chunk::Hole(h) => {
                        // The output holds members whole: holes become zeros,
                        // within reason (no output is left on error).
                        holes += h;
                        if holes > MAX_HOLES {
                            return Err(Error::format(format!(
                                "sparse member with more than {} GiB of holes: remap writes members whole, not sparse",
                                MAX_HOLES >> 30
                            ))
                            .with_path(e.display_path()));
                        }
                        // The read buffer, zeroed, is the source of zeros.
                        data.fill(0);
                        let mut z = h.min(left);
                        while z > 0 {
                            let k = z.min(data.len() as u64) as usize;
                            sink.write(&data[..k]).map_err(werr)?;
                            z -= k as u64;
                        }
                        left -= h.min(left);
                    }
                }
            }
            buf.clear();
            tw::pad(&mut buf, e.size);
            sink.write(&buf).map_err(werr)?;
        }
        sink.boundary().map_err(werr)?;
        progress.add_entry();
        report.entries += 1;
    }
    buf.clear();
    tw::end_of_archive(&mut buf);
    sink.write(&buf).map_err(werr)?;
    sink.finish().map_err(werr)?;
    out.commit()?;
    if squashed > 0 {
        report.warnings.push(format!(
            "{squashed} entries had owners outside the map and were stored as 65534"
        ));
    }
    Ok(report)
}
