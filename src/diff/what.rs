//! What `diff` reports: one way a path differs, in GNU tar's `--compare`
//! wording, and the totals of a run.

use std::fmt;

use crate::entry::Time;
use crate::error::Error;

/// One way a path differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// The archive has it, the disk does not (with the reason when it is
    /// not simply absent).
    Missing(Option<String>),
    /// The disk has it inside a directory the archive holds; the archive does not.
    NotInArchive,
    /// Different file types (`file`, `dir`, `symlink`, `char`, `block`, `fifo`, `socket`).
    Type {
        /// In the archive.
        archive: &'static str,
        /// On disk.
        disk: &'static str,
    },
    /// Permission bits (including setuid, setgid, sticky).
    Mode {
        /// In the archive.
        archive: u32,
        /// On disk.
        disk: u32,
    },
    /// Owner (host view).
    Uid {
        /// In the archive, translated to the host view.
        archive: u64,
        /// On disk.
        disk: u64,
    },
    /// Group (host view).
    Gid {
        /// In the archive, translated to the host view.
        archive: u64,
        /// On disk.
        disk: u64,
    },
    /// Modification time.
    Mtime {
        /// In the archive.
        archive: Time,
        /// On disk.
        disk: Time,
    },
    /// Size of a regular file.
    Size {
        /// In the archive.
        archive: u64,
        /// On disk.
        disk: u64,
    },
    /// Same size, different bytes.
    Contents,
    /// Symlink target.
    Symlink {
        /// In the archive.
        archive: Vec<u8>,
        /// On disk.
        disk: Vec<u8>,
    },
    /// A hard link whose disk file is not the same inode as its target's.
    NotLinked {
        /// The member it should be linked to.
        target: Vec<u8>,
    },
    /// Device numbers (major, minor).
    Device {
        /// In the archive.
        archive: (u32, u32),
        /// On disk.
        disk: (u32, u32),
    },
    /// An xattr differs, or is on one side only.
    Xattr {
        /// Its name.
        name: String,
        /// In the archive (translated to the host view).
        archive: Option<Vec<u8>>,
        /// On disk.
        disk: Option<Vec<u8>>,
    },
    /// The context label on disk (own or inherited) is not the entry's.
    Label {
        /// In the archive.
        archive: Option<String>,
        /// On disk.
        disk: String,
    },
}

/// A difference at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The member name (relative to the directory; `.` for the directory itself).
    pub path: String,
    /// What differs.
    pub what: What,
}

/// A name as diff prints it: escaped as `list` and GNU tar's `--compare`
/// print names, so a newline or a byte that is not UTF-8 stays visible.
pub(super) fn shown(b: &[u8]) -> String {
    crate::quote::escaped(b)
}

/// `YYYY-MM-DD HH:MM:SS[.nnnnnnnnn]` UTC.
fn time(t: Time) -> String {
    let base = crate::quote::format_time(t.sec);
    let s = t.sec.rem_euclid(60);
    if t.nsec == 0 {
        format!("{base}:{s:02}")
    } else {
        format!("{base}:{s:02}.{:09}", t.nsec)
    }
}

impl fmt::Display for What {
    /// GNU tar's wording ("Mode differs"), with both values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            What::Missing(None) => write!(f, "Missing on disk"),
            What::Missing(Some(why)) => write!(f, "Missing on disk ({why})"),
            What::NotInArchive => write!(f, "Not in archive"),
            What::Type { archive, disk } => {
                write!(f, "File type differs (archive {archive}, disk {disk})")
            }
            What::Mode { archive, disk } => {
                write!(f, "Mode differs (archive {archive:04o}, disk {disk:04o})")
            }
            What::Uid { archive, disk } => {
                write!(f, "Uid differs (archive {archive}, disk {disk})")
            }
            What::Gid { archive, disk } => {
                write!(f, "Gid differs (archive {archive}, disk {disk})")
            }
            What::Mtime { archive, disk } => write!(
                f,
                "Mod time differs (archive {}, disk {})",
                time(*archive),
                time(*disk)
            ),
            What::Size { archive, disk } => {
                write!(f, "Size differs (archive {archive}, disk {disk})")
            }
            What::Contents => write!(f, "Contents differ"),
            What::Symlink { archive, disk } => write!(
                f,
                "Symlink differs (archive -> {}, disk -> {})",
                shown(archive),
                shown(disk)
            ),
            What::NotLinked { target } => write!(f, "Not linked to {}", shown(target)),
            What::Device { archive, disk } => write!(
                f,
                "Device number differs (archive {},{}, disk {},{})",
                archive.0, archive.1, disk.0, disk.1
            ),
            What::Xattr {
                name,
                archive: Some(_),
                disk: Some(_),
            } => write!(f, "Xattr {name} differs"),
            What::Xattr {
                name,
                archive: Some(_),
                disk: None,
            } => write!(f, "Xattr {name} missing on disk"),
            What::Xattr { name, .. } => write!(f, "Xattr {name} not in archive"),
            What::Label { archive, disk } => write!(
                f,
                "Context label differs (archive {}, disk {disk})",
                archive.as_deref().unwrap_or("none")
            ),
        }
    }
}

impl fmt::Display for Difference {
    /// `PATH: WHAT`, the form of GNU tar's `--compare`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

/// What a comparison found.
#[derive(Debug, Default)]
pub struct DiffReport {
    /// Members compared.
    pub entries: u64,
    /// Paths with at least one difference.
    pub differing: u64,
    /// Differences in all (one path may have several).
    pub differences: u64,
    /// Per-file errors (unreadable files, refused names, unmapped IDs); the
    /// comparison went on without them.
    pub errors: Vec<Error>,
}

impl DiffReport {
    /// True when nothing differs and nothing failed.
    pub fn identical(&self) -> bool {
        self.differences == 0 && self.errors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_gnu_tar() {
        let d = |what| Difference {
            path: "etc/shadow".into(),
            what,
        };
        assert_eq!(
            d(What::Uid {
                archive: 0,
                disk: 1001
            })
            .to_string(),
            "etc/shadow: Uid differs (archive 0, disk 1001)"
        );
        assert_eq!(
            d(What::Mode {
                archive: 0o640,
                disk: 0o644
            })
            .to_string(),
            "etc/shadow: Mode differs (archive 0640, disk 0644)"
        );
        assert_eq!(d(What::Contents).to_string(), "etc/shadow: Contents differ");
        assert_eq!(
            d(What::Mtime {
                archive: Time {
                    sec: 1_600_000_000,
                    nsec: 5
                },
                disk: Time {
                    sec: 1_600_000_001,
                    nsec: 0
                }
            })
            .to_string(),
            "etc/shadow: Mod time differs (archive 2020-09-13 12:26:40.000000005, disk 2020-09-13 12:26:41)"
        );
    }
}
