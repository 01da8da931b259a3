//! What a run leaves out, as GNU tar's options say: names excluded by
//! pattern (`--exclude`, `--exclude-from`, `--exclude-vcs`), and on create
//! directories on other filesystems (`--one-file-system`) and caches
//! (`--exclude-caches*`); and the name lists `--files-from` and
//! `--exclude-from` read.

use std::io::{self, Read};

use crate::pattern::{Matching, Patterns, matches};

/// Names to leave out: GNU tar's `--exclude`, `--exclude-from` and
/// `--exclude-vcs`. Create leaves an excluded directory out with
/// everything below it (it is not walked); list, extract and diff match
/// the names as stored, before `--transform` and `--strip-components`.
#[derive(Clone, Debug, Default)]
pub struct Exclude {
    pats: Vec<(Vec<u8>, Matching)>,
}

/// The names `--exclude-vcs` leaves out: GNU tar 1.34's list.
pub const VCS_NAMES: &[&str] = &[
    "CVS",
    ".cvsignore",
    "RCS",
    "SCCS",
    ".svn",
    ".git",
    ".gitignore",
    ".gitattributes",
    ".gitmodules",
    ".arch-ids",
    "{arch}",
    "=RELEASE-ID",
    "=meta-update",
    "=update",
    ".bzr",
    ".bzrignore",
    ".bzrtags",
    ".hg",
    ".hgignore",
    ".hgtags",
    "_darcs",
];

impl Exclude {
    /// Leave out the names `pattern` matches, matching as `how` says
    /// ([`Matching::EXCLUDE`]: GNU tar's defaults).
    pub fn add(&mut self, pattern: impl Into<Vec<u8>>, how: Matching) {
        self.pats.push((pattern.into(), how));
    }

    /// Leave out version-control files and directories ([`VCS_NAMES`]):
    /// as GNU tar does, a name matches exactly, in any directory, and not
    /// what is below it (create does not walk below an excluded
    /// directory; list and extract then still take its contents).
    pub fn add_vcs(&mut self) {
        let how = Matching {
            anchored: false,
            wildcards: false,
            match_slash: true,
            ignore_case: false,
            leading_dir: false,
        };
        for n in VCS_NAMES {
            self.add(n.as_bytes(), how);
        }
    }

    /// No name is excluded.
    pub fn is_empty(&self) -> bool {
        self.pats.is_empty()
    }

    /// Is `name` left out?
    pub fn excludes(&self, name: &[u8]) -> bool {
        self.pats.iter().any(|(p, how)| matches(p, name, *how))
    }
}

/// Which members list, extract and diff take: those the patterns select
/// (all without patterns) that no exclusion leaves out. Both see the
/// names as stored; a pattern matched by an excluded name still counts as
/// found, as in GNU tar.
pub(crate) struct MemberFilter {
    pats: Patterns,
    exclude: Exclude,
}

impl MemberFilter {
    pub(crate) fn new(patterns: &[Vec<u8>], how: Matching, exclude: &Exclude) -> MemberFilter {
        MemberFilter {
            pats: Patterns::with(patterns.iter().cloned(), how),
            exclude: exclude.clone(),
        }
    }

    /// Is the member `name` taken?
    pub(crate) fn admits(&mut self, name: &[u8]) -> bool {
        self.pats.matches(name) && !self.exclude.excludes(name)
    }

    /// The patterns no member matched.
    pub(crate) fn unmatched(&self) -> Vec<String> {
        self.pats.unmatched()
    }
}

/// What `--exclude-caches*` leaves out of a directory holding a
/// `CACHEDIR.TAG` file that starts with the Cache Directory Tagging
/// Specification's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcludeCaches {
    /// Everything in it but the tag file (`--exclude-caches`).
    Contents,
    /// Everything in it (`--exclude-caches-under`).
    Under,
    /// The directory itself too (`--exclude-caches-all`).
    All,
}

/// The tag file's name.
pub(crate) const CACHEDIR_TAG: &[u8] = b"CACHEDIR.TAG";

/// What a valid tag file starts with (bford.info/cachedir).
pub(crate) const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// What create leaves out of the walk.
#[derive(Clone, Debug, Default)]
pub struct Select {
    /// Names left out, matched against each name as GNU tar sees it: the
    /// path as given (`/` and all) joined with the names below it, before
    /// `--transform`. An excluded directory is not walked.
    pub exclude: Exclude,
    /// A directory on another filesystem than its parent's is stored but
    /// not walked (the paths given are walked whatever their filesystem).
    pub one_file_system: bool,
    /// Directories tagged as caches.
    pub caches: Option<ExcludeCaches>,
}

/// Read a list of names (`--files-from`): one a line, or with `null` each
/// ended by a NUL byte. Empty names are skipped and trailing slashes
/// removed, as GNU tar does; names are taken as they are (GNU tar's
/// `--verbatim-files-from`).
///
/// # Errors
/// `r` cannot be read; without `null`, a NUL byte in the list (give
/// `null`) or a line that starts with `-` (GNU tar would read it as an
/// option; write `./-NAME` for a name).
pub fn read_names(mut r: impl Read, null: bool) -> io::Result<Vec<Vec<u8>>> {
    let mut all = Vec::new();
    r.read_to_end(&mut all)?;
    let end = if null { 0 } else { b'\n' };
    if !null && all.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the list has NUL bytes: give --null",
        ));
    }
    let mut out = Vec::new();
    for (i, line) in all.split(|&b| b == end).enumerate() {
        let mut n = line;
        while n.len() > 1 && n.ends_with(b"/") {
            n = &n[..n.len() - 1];
        }
        if n.is_empty() {
            continue;
        }
        if !null && n.starts_with(b"-") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {}: a name that starts with '-' (GNU tar reads it as an option, which alientar does not): write ./{} for the name, or give --null",
                    i + 1,
                    String::from_utf8_lossy(n)
                ),
            ));
        }
        out.push(n.to_vec());
    }
    Ok(out)
}

/// Read exclusion patterns (`--exclude-from`): one a line, trailing white
/// space removed, blank lines skipped, as GNU tar reads them.
///
/// # Errors
/// `r` cannot be read.
pub fn read_patterns(mut r: impl Read) -> io::Result<Vec<Vec<u8>>> {
    let mut all = Vec::new();
    r.read_to_end(&mut all)?;
    Ok(all
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii_end())
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcs_names_match_only_themselves() {
        let mut x = Exclude::default();
        x.add_vcs();
        assert!(x.excludes(b"./.git"));
        assert!(x.excludes(b"t/sub/.svn"));
        assert!(x.excludes(b".gitignore"));
        assert!(!x.excludes(b"t/.git/HEAD"), "not below, as GNU tar");
        assert!(!x.excludes(b"t/.github"));
        assert!(!x.excludes(b"t/.GIT"));
    }

    #[test]
    fn name_lists() {
        let got = read_names(&b"a\n\nb//\n/\nc d \n"[..], false).unwrap();
        assert_eq!(
            got,
            vec![
                b"a".to_vec(),
                b"b".to_vec(),
                b"/".to_vec(),
                b"c d ".to_vec()
            ]
        );
        let got = read_names(&b"-x\0a\nb\0\0"[..], true).unwrap();
        assert_eq!(got, vec![b"-x".to_vec(), b"a\nb".to_vec()]);
        assert!(read_names(&b"a\0b"[..], false).is_err());
        let e = read_names(&b"a\n-C\n"[..], false).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let pats = read_patterns(&b"*.o  \n\n  \n\tx\n"[..]).unwrap();
        assert_eq!(pats, vec![b"*.o".to_vec(), b"\tx".to_vec()]);
    }
}
