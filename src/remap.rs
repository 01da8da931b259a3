//! `remap`: archive → archive with owners (and ACL/capability IDs)
//! translated through a map, contents copied bit for bit.
//!
//! Inside → outside by default (what `extract` would give the owners);
//! `--inverse` goes outside → inside (what `create` would store).

use std::io;
use std::path::{Path, PathBuf};

use crate::context::Maps;
use crate::entry::{Entry, Kind};
use crate::error::{Error, Result};
use crate::frame::layout::{CopiedBytes, Cuts, FrameLayout};
use crate::output::OutFormat;
use crate::output::Output;
use crate::progress::Progress;
use crate::report::Report;
use crate::tar::Reader;
use crate::tar::read::Chunk;
use crate::tar::write as tw;
use crate::translate::{Direction, Unmapped, translate};

type Input = Reader<Box<dyn io::Read + Send>>;

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
pub fn remap(opts: &RemapOptions, progress: &Progress) -> Result<Report> {
    let mut report = Report::default();
    if let Some(l) = &opts.context {
        crate::context::validate_label(l).map_err(Error::usage)?;
    }
    if crate::image::ImageRef::parse(&opts.input).is_some() {
        return Err(Error::usage(format!(
            "{}: remap rewrites archives, not images (extract the image, or name a file \
             that starts like one as ./{})",
            opts.input.display(),
            opts.input.display()
        )));
    }
    let (_, r) = crate::input::open(&opts.input)?;
    let mut rd = Reader::new(r);
    let mut out = Output::open(&opts.output, opts.format)?;
    let mut w = Rewriter::new(opts, &mut out, progress);
    w.global_header()?;
    let input = opts.input.display().to_string();
    while let Some(e) = rd
        .next_entry()
        .map_err(|e| e.with_context(format!("reading {input}")))?
    {
        w.entry(&mut rd, e)?;
        report.entries += 1;
    }
    let squashed = w.finish()?;
    out.commit()?;
    if squashed > 0 {
        report.warnings.push(format!(
            "{squashed} entries had owners outside the map and were stored as 65534"
        ));
    }
    Ok(report)
}

/// The output archive, written entry by entry as the input is read.
struct Rewriter<'o> {
    opts: &'o RemapOptions,
    frames: FrameLayout<'static, CopiedBytes>,
    /// The output's name in messages.
    target: PathBuf,
    dir: Direction,
    /// Headers and padding, encoded before they are laid out.
    buf: Vec<u8>,
    /// Member data read from the input.
    data: Vec<u8>,
    /// Entries whose owners were outside the map.
    squashed: u64,
    progress: &'o Progress,
}

impl<'o> Rewriter<'o> {
    fn new(opts: &'o RemapOptions, out: &mut Output, progress: &'o Progress) -> Rewriter<'o> {
        let writer = out.writer.take().expect("fresh output");
        // gzip, xz, bzip2: the tar stream, compressed by `out`.
        let level = match opts.format {
            OutFormat::Zstd(level) => Some(level),
            _ => None,
        };
        Rewriter {
            opts,
            frames: FrameLayout::copying(writer, level, Cuts::EVEN),
            target: out.display.clone(),
            dir: if opts.inverse {
                Direction::ToContext
            } else {
                Direction::ToHost
            },
            buf: Vec::with_capacity(64 << 10),
            data: vec![0u8; 256 << 10],
            squashed: 0,
            progress,
        }
    }

    /// The format version and, with a new label, the archive's label (every
    /// entry's: no entry repeats it) and the map its owners are in.
    fn global_header(&mut self) -> Result<()> {
        let opts = self.opts;
        let label = opts.context.as_deref();
        let globals = crate::tar::keys::global_records(
            label,
            label.map(|l| {
                let m = if opts.inverse {
                    opts.maps.clone()
                } else {
                    opts.maps.inverse()
                };
                (l, m.uid.to_string(), m.gid.to_string())
            }),
        );
        self.buf.clear();
        tw::encode_global(&globals, &mut self.buf);
        self.put_buf()
    }

    /// Lay out the bytes in `buf`.
    fn put_buf(&mut self) -> Result<()> {
        let target = &self.target;
        self.frames.bytes(&self.buf).map_err(|e| werr(target, e))
    }

    /// Translate `e` and write it, with its data read from `rd`.
    fn entry(&mut self, rd: &mut Input, mut e: Entry) -> Result<()> {
        let opts = self.opts;
        let o = translate(
            &mut e,
            &opts.maps,
            self.dir,
            opts.unmapped,
            &"the given map",
        )?;
        self.squashed += u64::from(o.uid_squashed || o.gid_squashed);
        // Names belong to the old view; numbers are what was translated.
        e.uname = None;
        e.gname = None;
        e.label = opts.context.clone();
        self.buf.clear();
        tw::encode_member(&e, opts.context.as_deref(), &mut self.buf);
        let target = &self.target;
        self.frames.begin_entry(&e).map_err(|e| werr(target, e))?;
        self.put_buf()?;
        if e.kind == Kind::File {
            self.copy_data(rd, &e)?;
            self.buf.clear();
            tw::pad(&mut self.buf, e.size);
            self.put_buf()?;
        }
        let target = &self.target;
        self.frames.end_entry(false).map_err(|e| werr(target, e))?;
        self.progress.add_entry();
        Ok(())
    }

    /// Copy `e`'s data from `rd`; holes become zeros.
    fn copy_data(&mut self, rd: &mut Input, e: &Entry) -> Result<()> {
        let mut left = e.size;
        let mut holes = 0u64;
        while left > 0 {
            let want = left.min(self.data.len() as u64) as usize;
            match rd.read_chunk(&mut self.data[..want])? {
                Chunk::Data(0) => {
                    return Err(Error::format("archive ended inside member data")
                        .with_path(e.display_path()));
                }
                Chunk::Data(n) => {
                    let target = &self.target;
                    self.frames
                        .bytes(&self.data[..n])
                        .map_err(|e| werr(target, e))?;
                    self.progress.add_bytes(n as u64);
                    left -= n as u64;
                }
                Chunk::Hole(h) => {
                    holes += h;
                    self.zeros(h.min(left), holes, e)?;
                    left -= h.min(left);
                }
            }
        }
        Ok(())
    }

    /// Write `n` zeros for a hole; `holes` is the member's holes so far.
    fn zeros(&mut self, n: u64, holes: u64, e: &Entry) -> Result<()> {
        // The output holds members whole: holes become zeros, within reason
        // (no output is left on error).
        if holes > MAX_HOLES {
            return Err(Error::format(format!(
                "sparse member with more than {} GiB of holes: remap writes members whole, not sparse",
                MAX_HOLES >> 30
            ))
            .with_path(e.display_path()));
        }
        // The read buffer, zeroed, is the source of zeros.
        self.data.fill(0);
        let mut z = n;
        while z > 0 {
            let k = z.min(self.data.len() as u64) as usize;
            let target = &self.target;
            self.frames
                .bytes(&self.data[..k])
                .map_err(|e| werr(target, e))?;
            z -= k as u64;
        }
        Ok(())
    }

    /// The end-of-archive marker, the index and the seek table. Returns
    /// how many entries had owners outside the map.
    fn finish(mut self) -> Result<u64> {
        self.buf.clear();
        tw::end_of_archive(&mut self.buf);
        let end = self.frames.position();
        self.put_buf()?;
        let Rewriter {
            frames,
            target,
            squashed,
            ..
        } = self;
        frames.finish(end).map_err(|e| werr(&target, e))?;
        Ok(squashed)
    }
}

fn werr(target: &Path, e: io::Error) -> Error {
    Error::io("cannot write the archive", target, e)
}
