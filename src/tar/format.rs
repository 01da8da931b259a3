//! The tar dialects `create` writes (`--format`): alientar's own, and
//! three without its records for consumers that refuse them (umoci: the
//! global header), complain of them (sqfstar: one line per global key) or
//! would keep them (a label record becomes an xattr in a squashfs or ext4
//! image). [`TarFormat::declares_labels`] is the one switch that leaves
//! out the global header and the label records.

use super::header::{BLOCK, format_numeric};
use super::write::{
    Layout, MAX_OCTAL_ID, MAX_OCTAL_SIZE, encode_member, member_name, push_ustar_header, put,
    typeflag,
};
use crate::entry::{Entry, Kind};
use tar::Header;

/// A tar dialect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TarFormat {
    /// alientar's format (docs/format.md): pax, with the global header that
    /// declares the format version, the archive's label and the maps, and
    /// a label record on a member of another context.
    #[default]
    Alientar,
    /// POSIX pax without alientar's records (as GNU tar's `--format=pax`):
    /// an extended header only where a member needs one (a long name, a
    /// large ID or size, xattrs, `--nanoseconds`); no global header, no
    /// labels.
    Pax,
    /// GNU tar's format (`--format=gnu`): long names and link targets as
    /// `././@LongLink` members, numbers too large for octal in base-256; no
    /// xattrs, no labels, whole seconds.
    Gnu,
    /// POSIX ustar (`--format=ustar`): no extension at all; a member whose
    /// name, link target, IDs, size, time or device numbers do not fit is
    /// not archived (an error), as GNU tar does.
    Ustar,
}

impl TarFormat {
    /// Does the archive begin with alientar's global header, and do members
    /// carry label records? Only in alientar's own format.
    pub fn declares_labels(self) -> bool {
        self == TarFormat::Alientar
    }

    /// Can members carry pax records (xattrs, sub-second times)?
    pub fn pax_records(self) -> bool {
        matches!(self, TarFormat::Alientar | TarFormat::Pax)
    }

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            TarFormat::Alientar => "alientar",
            TarFormat::Pax => "pax",
            TarFormat::Gnu => "gnu",
            TarFormat::Ustar => "ustar",
        }
    }

    /// Leave out of `e` what the format does not store: its label without
    /// alientar's records, its xattrs without pax records. True when xattrs
    /// were left out.
    pub fn fit(self, e: &mut Entry) -> bool {
        if !self.declares_labels() {
            e.label = None;
        }
        if self.pax_records() || e.xattrs.is_empty() {
            return false;
        }
        e.xattrs.clear();
        // A hard link's xattrs are its target's, counted there.
        e.kind != Kind::HardLink
    }

    /// Why `e` cannot be stored in this format, if it cannot (ustar only:
    /// the others store everything [`TarFormat::fit`] leaves).
    pub fn refuses(self, e: &Entry) -> Option<String> {
        if self != TarFormat::Ustar {
            return None;
        }
        let name = member_name(e);
        let l = Layout::of(e, &name);
        let too_big = |what: &str, v: i128, max: u64| {
            (v < 0 || v > i128::from(max))
                .then(|| format!("{what} {v} is out of ustar's range 0..{max}"))
        };
        let device = e.kind.is_device();
        [
            l.split
                .is_none()
                .then(|| "its name is too long for ustar (at most 256 bytes, split at a '/' into 155 and 100)".to_string()),
            (l.link.len() > 100)
                .then(|| "its link target is too long for ustar (at most 100 bytes)".to_string()),
            too_big("uid", i128::from(e.uid), MAX_OCTAL_ID),
            too_big("gid", i128::from(e.gid), MAX_OCTAL_ID),
            too_big("size", i128::from(l.size), MAX_OCTAL_SIZE),
            too_big("mtime", i128::from(e.mtime.sec), MAX_OCTAL_SIZE),
            device.then(|| too_big("device major", i128::from(e.dev_major), MAX_OCTAL_ID)).flatten(),
            device.then(|| too_big("device minor", i128::from(e.dev_minor), MAX_OCTAL_ID)).flatten(),
        ]
        .into_iter()
        .flatten()
        .next()
    }

    /// Append `e`'s header blocks ([`TarFormat::fit`] and
    /// [`TarFormat::refuses`] first); `archive` is the label the global
    /// header declares (alientar's format only).
    pub fn encode(self, e: &Entry, archive: Option<&str>, out: &mut Vec<u8>) {
        match self {
            TarFormat::Alientar => encode_member(e, archive, out),
            TarFormat::Pax => encode_member(e, None, out),
            TarFormat::Gnu => encode_gnu(e, out),
            TarFormat::Ustar => {
                let name = member_name(e);
                push_ustar_header(e, &Layout::of(e, &name), out);
                let at = out.len() - BLOCK;
                gnu_checksum(&mut out[at..]);
            }
        }
    }
}

/// Write a header block's checksum as GNU tar does (six octal digits, a
/// NUL and a space), so that `--format gnu` and `ustar` headers are GNU
/// tar's byte for byte.
fn gnu_checksum(block: &mut [u8]) {
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..154].copy_from_slice(format!("{sum:06o}").as_bytes());
    block[154] = 0;
}

/// GNU tar's header of `e`, after a `././@LongLink` member for a name or
/// link target over 100 bytes (the header then holds their first 100).
fn encode_gnu(e: &Entry, out: &mut Vec<u8>) {
    let name = member_name(e);
    let link = e.link.as_deref().unwrap_or(b"");
    if name.len() > 100 {
        long_link(b'L', &name, out);
    }
    if link.len() > 100 {
        long_link(b'K', link, out);
    }
    let mut h = Header::new_gnu();
    let g = h.as_gnu_mut().expect("GNU header");
    put(&mut g.name, &name[..name.len().min(100)]);
    // format_numeric switches to base-256 where octal does not fit.
    format_numeric(&mut g.mode, u64::from(e.mode & 0o7777));
    format_numeric(&mut g.uid, e.uid);
    format_numeric(&mut g.gid, e.gid);
    format_numeric(&mut g.size, if e.kind == Kind::File { e.size } else { 0 });
    signed_numeric(&mut g.mtime, e.mtime.sec);
    g.typeflag[0] = typeflag(e.kind);
    put(&mut g.linkname, &link[..link.len().min(100)]);
    if let Some(n) = &e.uname {
        put(&mut g.uname, &n[..n.len().min(32)]);
    }
    if let Some(n) = &e.gname {
        put(&mut g.gname, &n[..n.len().min(32)]);
    }
    if e.kind.is_device() {
        format_numeric(&mut g.dev_major, u64::from(e.dev_major));
        format_numeric(&mut g.dev_minor, u64::from(e.dev_minor));
    }
    out.extend_from_slice(h.as_bytes());
    let at = out.len() - BLOCK;
    gnu_checksum(&mut out[at..]);
}

/// A `././@LongLink` member of type `flag` (`L` a name, `K` a link
/// target) holding `value` and a NUL, as GNU tar writes it (with
/// `--numeric-owner`: no user and group names).
fn long_link(flag: u8, value: &[u8], out: &mut Vec<u8>) {
    let mut h = Header::new_gnu();
    let g = h.as_gnu_mut().expect("GNU header");
    put(&mut g.name, b"././@LongLink");
    format_numeric(&mut g.mode, 0o644);
    format_numeric(&mut g.uid, 0);
    format_numeric(&mut g.gid, 0);
    format_numeric(&mut g.size, value.len() as u64 + 1);
    format_numeric(&mut g.mtime, 0);
    g.typeflag[0] = flag;
    out.extend_from_slice(h.as_bytes());
    let at = out.len() - BLOCK;
    gnu_checksum(&mut out[at..]);
    out.extend_from_slice(value);
    out.push(0);
    super::write::pad(out, value.len() as u64 + 1);
}

/// A signed number in a GNU field: octal when it fits, else base-256 in
/// two's complement (a time before 1970).
fn signed_numeric(field: &mut [u8], v: i64) {
    if let Ok(v) = u64::try_from(v) {
        format_numeric(field, v);
        return;
    }
    field.fill(0xff);
    let n = field.len();
    field[n - 8..].copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Time;
    use crate::tar::read::Reader;

    fn read_back(format: TarFormat, e: &Entry) -> (Entry, Vec<u8>) {
        let mut out = Vec::new();
        format.encode(e, None, &mut out);
        let data = vec![b'x'; e.size as usize];
        out.extend_from_slice(&data);
        crate::tar::write::pad(&mut out, e.size);
        crate::tar::write::end_of_archive(&mut out);
        let mut r = Reader::new(&out[..]);
        let got = r.next_entry().unwrap().unwrap();
        let mut buf = Vec::new();
        r.copy_data(&mut buf).unwrap();
        assert_eq!(buf, data);
        (got, out)
    }

    #[test]
    fn gnu_round_trips_long_names_big_ids_and_old_times() {
        let long = "d/".repeat(80) + "file";
        let mut e = Entry::new(long.clone(), Kind::File);
        e.mode = 0o4755;
        e.uid = 4294967294;
        e.gid = 3_000_000;
        e.size = 3;
        e.mtime = Time {
            sec: -315619200,
            nsec: 0,
        };
        e.uname = Some(b"someone".to_vec());
        let (got, bytes) = read_back(TarFormat::Gnu, &e);
        assert_eq!(got, e);
        // An L member first, no pax header anywhere.
        assert_eq!(bytes[156], b'L');
        assert_eq!(&bytes[257..265], b"ustar  \0");
        assert!(!bytes.windows(9).any(|w| w == b"PaxHeader"));
        let mut l = Entry::new("lnk", Kind::Symlink);
        l.link = Some(long.into_bytes());
        l.mode = 0o777;
        assert_eq!(read_back(TarFormat::Gnu, &l).0, l);
        let mut c = Entry::new("dev/null", Kind::Char);
        c.mode = 0o666;
        (c.dev_major, c.dev_minor) = (1, 3);
        assert_eq!(read_back(TarFormat::Gnu, &c).0, c);
        // A name of exactly 100 bytes fits the header, as in GNU tar.
        let e = Entry::new("n".repeat(100), Kind::File);
        let (got, bytes) = read_back(TarFormat::Gnu, &e);
        assert_eq!((got.path, bytes[156]), (e.path, b'0'));
    }

    #[test]
    fn ustar_refuses_what_does_not_fit_and_stores_the_rest() {
        let ok = Entry::new(
            format!("{}/{}", "p".repeat(150), "n".repeat(90)),
            Kind::File,
        );
        assert_eq!(TarFormat::Ustar.refuses(&ok), None);
        let (got, bytes) = read_back(TarFormat::Ustar, &ok);
        assert_eq!(got, ok);
        assert_eq!(&bytes[257..263], b"ustar\0");
        let mut e = Entry::new("f", Kind::File);
        e.uid = 2_097_152;
        assert!(
            TarFormat::Ustar
                .refuses(&e)
                .unwrap()
                .contains("uid 2097152")
        );
        let mut e = Entry::new("f", Kind::File);
        e.mtime = Time { sec: -1, nsec: 0 };
        assert!(TarFormat::Ustar.refuses(&e).unwrap().contains("mtime -1"));
        let e = Entry::new("n".repeat(101), Kind::File);
        assert!(
            TarFormat::Ustar
                .refuses(&e)
                .unwrap()
                .contains("name is too long")
        );
        let mut l = Entry::new("l", Kind::Symlink);
        l.link = Some(vec![b't'; 101]);
        assert!(
            TarFormat::Ustar
                .refuses(&l)
                .unwrap()
                .contains("link target")
        );
        assert_eq!(TarFormat::Gnu.refuses(&l), None);
    }

    #[test]
    fn fit_leaves_out_labels_and_xattrs_as_the_format_says() {
        let mut e = Entry::new("f", Kind::File);
        e.label = Some("rootless".into());
        e.xattrs = vec![("security.capability".into(), vec![1])];
        let mut a = e.clone();
        assert!(!TarFormat::Alientar.fit(&mut a));
        assert_eq!(a, e);
        let mut p = e.clone();
        assert!(!TarFormat::Pax.fit(&mut p));
        assert_eq!((&p.label, p.xattrs.len()), (&None, 1));
        let mut g = e.clone();
        assert!(TarFormat::Gnu.fit(&mut g));
        assert_eq!((g.label, g.xattrs.len()), (None, 0));
        // pax: the xattr is a record, the label none.
        let mut out = Vec::new();
        TarFormat::Pax.encode(&p, None, &mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("SCHILY.xattr.security.capability"), "{text}");
        assert!(!text.contains("alientar"), "{text}");
    }
}
