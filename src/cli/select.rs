//! GNU tar's selection options: exclusions, name lists (`-T`), how
//! patterns match, and on create filesystems and caches.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use clap::Args;

use alientar::{Error, Exclude, ExcludeCaches, Matching, Select, read_names, read_patterns};

#[derive(Args, Debug)]
#[command(next_help_heading = "Selection")]
pub(super) struct SelectArgs {
    /// Leave out names matching PATTERN (create: a directory with all
    /// below it); may be repeated.
    ///
    /// A glob (* ? [...], \ quotes the next character), matched as GNU tar
    /// matches exclusions: against the whole name and against what follows
    /// each / in it (b and *.o match ./a/b and ./a/b/f.o), * and ? matching
    /// / too, a pattern that matches a directory matching what is below it.
    /// A trailing / matches nothing. create matches each path as given
    /// (a leading / kept) joined with the names below it; list, extract and
    /// diff match the names as stored. Both before --transform and
    /// --strip-components. See --anchored, --no-wildcards,
    /// --no-wildcards-match-slash and --ignore-case (unlike GNU tar's,
    /// these apply to every pattern wherever they stand).
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<OsString>,
    /// Leave out names matching the patterns in FILE: one a line, trailing
    /// white space removed, blank lines skipped.
    #[arg(short = 'X', long, value_name = "FILE")]
    exclude_from: Vec<PathBuf>,
    /// Leave out version-control files and directories, as GNU tar does:
    /// CVS, RCS, SCCS, .svn, .git, .gitignore, .gitattributes, .gitmodules,
    /// .bzr, .hg, _darcs and their kin, in any directory.
    #[arg(long)]
    exclude_vcs: bool,
    /// Read names from FILE (- for standard input), one a line: create
    /// archives them after the PATHs; list, extract and diff take them as
    /// member patterns.
    ///
    /// Empty lines are skipped and trailing slashes removed; names are
    /// taken as they are (no quoting, no options: a line starting with -
    /// is refused unless --null is given). FILE is read relative to where
    /// alientar runs, not to -C.
    #[arg(short = 'T', long, value_name = "FILE")]
    files_from: Vec<PathBuf>,
    /// -T lists end each name with a NUL byte (find -print0), not a
    /// newline.
    #[arg(long, overrides_with = "no_null")]
    null: bool,
    /// -T lists have one name a line (the default).
    #[arg(long, overrides_with = "null")]
    no_null: bool,
    /// Exclusions match from the start of the name only.
    #[arg(long, overrides_with = "no_anchored")]
    anchored: bool,
    /// Member patterns match after any / in the name too, as exclusions
    /// do by default.
    #[arg(long, overrides_with = "anchored")]
    no_anchored: bool,
    /// Patterns match letters of either case (ASCII).
    #[arg(long, overrides_with = "no_ignore_case")]
    ignore_case: bool,
    /// Patterns match letters' case exactly (the default).
    #[arg(long, overrides_with = "ignore_case")]
    no_ignore_case: bool,
    /// * ? and [...] in patterns are wildcards (the default).
    #[arg(long, overrides_with = "no_wildcards")]
    wildcards: bool,
    /// Every character in a pattern stands for itself.
    #[arg(long, overrides_with = "wildcards")]
    no_wildcards: bool,
    /// Wildcards match / too (the default).
    #[arg(long, overrides_with = "no_wildcards_match_slash")]
    wildcards_match_slash: bool,
    /// Wildcards do not match /.
    #[arg(long, overrides_with = "wildcards_match_slash")]
    no_wildcards_match_slash: bool,
}

impl SelectArgs {
    /// How patterns match: (member patterns, exclusions).
    fn matching(&self) -> (Matching, Matching) {
        let base = Matching {
            wildcards: !self.no_wildcards,
            match_slash: !self.no_wildcards_match_slash,
            ignore_case: self.ignore_case,
            ..Matching::EXCLUDE
        };
        let member = Matching {
            anchored: !self.no_anchored,
            ..base
        };
        let exclude = Matching {
            anchored: self.anchored,
            ..base
        };
        (member, exclude)
    }

    /// How member patterns match.
    pub(super) fn member_matching(&self) -> Matching {
        self.matching().0
    }

    /// The exclusions: --exclude, the --exclude-from files, --exclude-vcs.
    pub(super) fn exclude(&self) -> Result<Exclude, Error> {
        let how = self.matching().1;
        let mut x = Exclude::default();
        for p in &self.exclude {
            x.add(p.clone().into_vec(), how);
        }
        for f in &self.exclude_from {
            let pats = read_list(f, |r| read_patterns(r))?;
            for p in pats {
                x.add(p, how);
            }
        }
        if self.exclude_vcs {
            x.add_vcs();
        }
        Ok(x)
    }

    /// The names of the -T files, in order.
    pub(super) fn names(&self) -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::new();
        for f in &self.files_from {
            out.extend(read_list(f, |r| read_names(r, self.null))?);
        }
        Ok(out)
    }

    /// Does a -T list come from standard input?
    pub(super) fn reads_stdin(&self) -> bool {
        self.files_from.iter().any(|f| f.as_os_str() == "-")
    }
}

/// Read the list `f` (`-`: standard input) with `read`.
fn read_list(
    f: &Path,
    read: impl Fn(&mut dyn std::io::Read) -> std::io::Result<Vec<Vec<u8>>>,
) -> Result<Vec<Vec<u8>>, Error> {
    let r = if f.as_os_str() == "-" {
        read(&mut std::io::stdin().lock())
    } else {
        std::fs::File::open(f).and_then(|mut file| read(&mut file))
    };
    r.map_err(|e| Error::io("cannot read the list", f, e))
}

/// What only create leaves out.
#[derive(Args, Debug)]
#[command(next_help_heading = "Selection")]
pub(super) struct CreateSelectArgs {
    /// Do not walk below a directory on another filesystem than its
    /// parent's (it is stored, empty); the PATHs given are walked wherever
    /// they are.
    #[arg(long)]
    one_file_system: bool,
    /// Of a directory holding a valid CACHEDIR.TAG (bford.info/cachedir),
    /// store only the directory and the tag.
    #[arg(long, overrides_with_all = ["exclude_caches_under", "exclude_caches_all"])]
    exclude_caches: bool,
    /// Of a directory holding a valid CACHEDIR.TAG, store only the
    /// directory.
    #[arg(long, overrides_with_all = ["exclude_caches", "exclude_caches_all"])]
    exclude_caches_under: bool,
    /// Leave out a directory holding a valid CACHEDIR.TAG altogether.
    #[arg(long, overrides_with_all = ["exclude_caches", "exclude_caches_under"])]
    exclude_caches_all: bool,
}

impl CreateSelectArgs {
    /// What the walk leaves out, with the exclusions `names` gives.
    pub(super) fn select(&self, names: &SelectArgs) -> Result<Select, Error> {
        let caches = if self.exclude_caches {
            Some(ExcludeCaches::Contents)
        } else if self.exclude_caches_under {
            Some(ExcludeCaches::Under)
        } else if self.exclude_caches_all {
            Some(ExcludeCaches::All)
        } else {
            None
        };
        Ok(Select {
            exclude: names.exclude()?,
            one_file_system: self.one_file_system,
            caches,
        })
    }
}

/// The one reader of standard input: an archive read from `-` leaves none
/// for a -T list.
pub(super) fn check_stdin(archive: &Path, s: &SelectArgs) -> Result<(), Error> {
    if archive.as_os_str() == "-" && s.reads_stdin() {
        return Err(Error::usage("-f - and -T - both want standard input"));
    }
    Ok(())
}
