//! The format-neutral archive entry.
//!
//! Both the tar reader and the tree walker produce an [`Entry`]; the writer,
//! the listing printer and the owner sinks consume one. Owners in an entry are
//! in one view at a time: the *context view* as stored in the archive, or the
//! *host view* after [`crate::translate`] has mapped them.

use std::fmt;

/// The xattr that carries an entry's context label on disk, and (as
/// `SCHILY.xattr.user.alientar.context`) in the archive.
pub const LABEL_XATTR: &str = "user.alientar.context";

/// What kind of file an entry is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A regular file with `size` bytes of data.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to [`Entry::link`].
    Symlink,
    /// A hard link to the earlier member named [`Entry::link`].
    HardLink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A named pipe.
    Fifo,
}

impl Kind {
    /// The name used in listings and JSON: `file`, `dir`, `symlink`,
    /// `hardlink`, `char`, `block`, `fifo`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::HardLink => "hardlink",
            Kind::Char => "char",
            Kind::Block => "block",
            Kind::Fifo => "fifo",
        }
    }

    /// The `ls -l` type character.
    pub fn mode_char(self) -> char {
        match self {
            Kind::File => '-',
            Kind::Dir => 'd',
            Kind::Symlink => 'l',
            Kind::HardLink => 'h',
            Kind::Char => 'c',
            Kind::Block => 'b',
            Kind::Fifo => 'p',
        }
    }

    /// True for character and block devices.
    pub fn is_device(self) -> bool {
        matches!(self, Kind::Char | Kind::Block)
    }
}

/// A modification time with nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    /// Seconds since the epoch (may be negative).
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

impl fmt::Display for Time {
    /// `SECONDS[.NNNNNNNNN]`, the pax form (trailing zeros kept to 9 digits).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nsec == 0 {
            write!(f, "{}", self.sec)
        } else if self.sec < 0 {
            // -1.25 means 1.25 seconds before the epoch: sec = -2, nsec = 0.75e9.
            let total_ns = i128::from(self.sec) * 1_000_000_000 + i128::from(self.nsec);
            let a = -total_ns;
            write!(f, "-{}.{:09}", a / 1_000_000_000, a % 1_000_000_000)
        } else {
            write!(f, "{}.{:09}", self.sec, self.nsec)
        }
    }
}

/// One archive member, independent of how it is encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The member name: relative, `/`-separated, no trailing slash (the
    /// reader normalizes nothing else: safety checks happen at extraction).
    pub path: Vec<u8>,
    /// The file type.
    pub kind: Kind,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    /// Owner. Archives may hold any number; only values below 2^32-1 are
    /// valid IDs.
    pub uid: u64,
    /// Group, as for `uid`.
    pub gid: u64,
    /// User name, if the archive or the context's databases give one.
    pub uname: Option<Vec<u8>>,
    /// Group name, as for `uname`.
    pub gname: Option<Vec<u8>>,
    /// Size of the data that follows (regular files; the expanded size for
    /// sparse files).
    pub size: u64,
    /// Modification time.
    pub mtime: Time,
    /// Symlink target, or the earlier member a hard link points to.
    pub link: Option<Vec<u8>>,
    /// Device major number (devices only).
    pub dev_major: u32,
    /// Device minor number (devices only).
    pub dev_minor: u32,
    /// Extended attributes other than the label, sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// The context label, if any.
    pub label: Option<String>,
}

impl Entry {
    /// A new entry of `kind` at `path` with everything else zero or empty.
    pub fn new(path: impl Into<Vec<u8>>, kind: Kind) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            uname: None,
            gname: None,
            size: 0,
            mtime: Time::default(),
            link: None,
            dev_major: 0,
            dev_minor: 0,
            xattrs: Vec::new(),
            label: None,
        }
    }

    /// The member name as a path, every byte kept: for errors, which
    /// show it escaped as `list` does.
    pub fn display_path(&self) -> &std::path::Path {
        use std::os::unix::ffi::OsStrExt;
        std::path::Path::new(std::ffi::OsStr::from_bytes(&self.path))
    }

    /// Look up an xattr by name.
    pub fn xattr(&self, name: &str) -> Option<&[u8]> {
        self.xattrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Insert or replace an xattr, keeping the list sorted.
    pub fn set_xattr(&mut self, name: String, value: Vec<u8>) {
        match self.xattrs.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) => self.xattrs[i].1 = value,
            Err(i) => self.xattrs.insert(i, (name, value)),
        }
    }

    /// Add an xattr as an archive stores it: the label's xattr
    /// ([`LABEL_XATTR`]) sets [`Entry::label`] (none when empty), any other
    /// joins [`Entry::xattrs`], unless they hold `max` already: then it is
    /// not added, and the answer is false. The label does not count.
    pub(crate) fn add_archived_xattr(&mut self, name: String, value: Vec<u8>, max: usize) -> bool {
        if name == LABEL_XATTR {
            let label = String::from_utf8_lossy(&value).into_owned();
            self.label = (!label.is_empty()).then_some(label);
            return true;
        }
        if self.xattrs.len() >= max {
            return false;
        }
        self.set_xattr(name, value);
        true
    }

    /// The xattrs an archive stores for this entry: [`Entry::xattrs`],
    /// then the label as the xattr [`LABEL_XATTR`] unless it is the
    /// archive's label `archive` (declared once, in the global header): the
    /// entry's own label, or an empty value for an unlabelled entry of an
    /// archive that has a label.
    pub(crate) fn archived_xattrs(
        &self,
        archive: Option<&str>,
    ) -> impl Iterator<Item = (&str, &[u8])> {
        let own = self.label.as_deref();
        let label = (own != archive).then(|| (LABEL_XATTR, own.unwrap_or_default().as_bytes()));
        self.xattrs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .chain(label)
    }

    /// `drwxr-xr-x`-style mode string, as `ls -l` and `tar -tv` print it.
    pub fn mode_string(&self) -> String {
        let mut s = String::with_capacity(10);
        self.push_mode_string(&mut s);
        s
    }

    /// [`Entry::mode_string`], appended to `s`.
    pub fn push_mode_string(&self, s: &mut String) {
        let m = self.mode;
        s.push(self.kind.mode_char());
        let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
        let special = |x: bool, special: bool, lower: char, upper: char| match (x, special) {
            (true, true) => lower,
            (false, true) => upper,
            (true, false) => 'x',
            (false, false) => '-',
        };
        s.push(bit(0o400, 'r'));
        s.push(bit(0o200, 'w'));
        s.push(special(m & 0o100 != 0, m & 0o4000 != 0, 's', 'S'));
        s.push(bit(0o040, 'r'));
        s.push(bit(0o020, 'w'));
        s.push(special(m & 0o010 != 0, m & 0o2000 != 0, 's', 'S'));
        s.push(bit(0o004, 'r'));
        s.push(bit(0o002, 'w'));
        s.push(special(m & 0o001 != 0, m & 0o1000 != 0, 't', 'T'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_strings() {
        let mut e = Entry::new("x", Kind::File);
        for (mode, kind, want) in [
            (0o4755, Kind::File, "-rwsr-xr-x"),
            (0o2644, Kind::File, "-rw-r-Sr--"),
            (0o1777, Kind::Dir, "drwxrwxrwt"),
            (0o640, Kind::File, "-rw-r-----"),
            (0o777, Kind::Symlink, "lrwxrwxrwx"),
        ] {
            e.mode = mode;
            e.kind = kind;
            assert_eq!(e.mode_string(), want);
        }
    }

    #[test]
    fn the_label_is_stored_as_its_xattr() {
        let mut e = Entry::new("x", Kind::File);
        assert!(e.add_archived_xattr("user.b".into(), b"2".to_vec(), 1));
        assert!(e.add_archived_xattr(LABEL_XATTR.into(), b"rootless".to_vec(), 1));
        // The limit counts other xattrs only.
        assert!(!e.add_archived_xattr("user.a".into(), b"1".to_vec(), 1));
        assert_eq!(e.label.as_deref(), Some("rootless"));
        assert_eq!(e.xattrs, vec![("user.b".to_string(), b"2".to_vec())]);
        let stored: Vec<(&str, &[u8])> = e.archived_xattrs(None).collect();
        assert_eq!(
            stored,
            vec![("user.b", &b"2"[..]), (LABEL_XATTR, &b"rootless"[..])]
        );
        // The archive's own label is not repeated; another one is.
        assert_eq!(e.archived_xattrs(Some("rootless")).count(), 1);
        let other: Vec<(&str, &[u8])> = e.archived_xattrs(Some("other")).collect();
        assert_eq!(other[1], (LABEL_XATTR, &b"rootless"[..]));
        // An empty label is none; an archive with a label says so with an
        // empty value.
        assert!(e.add_archived_xattr(LABEL_XATTR.into(), Vec::new(), 1));
        assert_eq!(e.label, None);
        assert_eq!(e.archived_xattrs(None).count(), 1);
        let none: Vec<(&str, &[u8])> = e.archived_xattrs(Some("rootless")).collect();
        assert_eq!(none[1], (LABEL_XATTR, &b""[..]));
    }

    #[test]
    fn time_display() {
        assert_eq!(Time { sec: 5, nsec: 0 }.to_string(), "5");
        assert_eq!(Time { sec: 5, nsec: 120 }.to_string(), "5.000000120");
        assert_eq!(
            Time {
                sec: -2,
                nsec: 750_000_000
            }
            .to_string(),
            "-1.250000000"
        );
    }
}
