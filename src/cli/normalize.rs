//! `create`'s options for reproducible archives: times, owners, modes and
//! xattrs set the same way in every member, and `SOURCE_DATE_EPOCH`.

use std::path::Path;

use clap::Args;

use alientar::{Error, ForceOwner, ModeChanges, Normalize, SetMtime, Time, XattrFilter};

/// What `create --help` and alientar-create(1) say after the options.
pub(super) const AFTER_LONG_HELP: &str = "\
SOURCE_DATE_EPOCH: when it is set (to seconds since 1970, as `date +%s` prints)
and no --mtime is given, create acts as with --clamp-mtime --mtime
@$SOURCE_DATE_EPOCH: members newer than that time are stored with it, older
ones keep theirs. An explicit --mtime DATE wins (every member gets DATE, or
only newer ones with --clamp-mtime); --no-clamp-mtime turns the clamping off,
so members keep their own times; so does unsetting the variable. An empty
value counts as unset; any other value that is not an integer is an error.

Reproducible archives: members are always stored sorted by name (GNU tar's
--sort=name) and hard links point to the first name in that order; the archive
holds no access, change or creation time, and the same tree gives the same
bytes from any directory, at any time, on any number of cores. See
docs/guide.md, \"Reproducible archives\". (An archive of an incremental chain,
made with --incremental or --incremental-from, records when it was made, and a
different one each time.)";

#[derive(Args, Debug)]
#[command(next_help_heading = "Reproducible archives")]
pub(super) struct NormalizeArgs {
    /// Store every member with this modification time (with
    /// --clamp-mtime: only members newer than it).
    ///
    /// DATE is @SECONDS[.FRACTION] (since 1970, UTC); YYYY-MM-DD or
    /// "YYYY-MM-DD HH:MM[:SS[.FRACTION]]" (or with a T), in local time as
    /// GNU tar reads them (the TZ variable, else /etc/localtime: give an
    /// offset or @SECONDS for a date that means the same everywhere); RFC
    /// 3339 with an offset (2024-01-02T03:04:05Z, ...+01:00); or, when it
    /// starts with / or ., a file whose modification time is used.
    /// Fractions of a second are kept with --nanoseconds.
    #[arg(long, value_name = "DATE")]
    mtime: Option<String>,
    /// Only members newer than the --mtime DATE get it; without --mtime,
    /// the time of SOURCE_DATE_EPOCH (which must then be set).
    #[arg(long, overrides_with = "no_clamp_mtime")]
    clamp_mtime: bool,
    /// Never clamp: with SOURCE_DATE_EPOCH set and no --mtime, members keep
    /// their own times.
    #[arg(long, overrides_with = "clamp_mtime")]
    no_clamp_mtime: bool,
    /// Store every member as owned by this user, in the context view (what
    /// the archive stores; never unmapped).
    ///
    /// ID[:NAME], NAME:ID or :ID (GNU tar's forms: a number after the colon
    /// is the ID), or NAME, whose ID comes from the context's user database
    /// (the host's for unlabelled and host members). Without a NAME, the
    /// ID's name in that database, if any. --numeric-owner stores no name.
    #[arg(long, value_name = "ID[:NAME]")]
    owner: Option<String>,
    /// Store every member with this group, in the context view; forms as
    /// for --owner.
    #[arg(long, value_name = "ID[:NAME]")]
    group: Option<String>,
    /// Store every member as owned by UID:GID (context view) and drop
    /// setuid and setgid bits (unless --keep-setid).
    #[arg(long, value_name = "UID:GID", conflicts_with_all = ["owner", "group"])]
    squash: Option<String>,
    /// With --squash: keep setuid and setgid bits.
    #[arg(long, requires = "squash")]
    keep_setid: bool,
    /// Change every member's mode as stored, as chmod does: octal (0644) or
    /// symbolic (u+rwX,go-w).
    ///
    /// A change that names no one (+x, =r) applies to all, as if the umask
    /// were 0 (GNU tar masks it with the umask: an archive should not
    /// depend on the shell that made it).
    #[arg(long, value_name = "CHANGES", allow_hyphen_values = true)]
    mode: Option<String>,
    /// Store no extended attributes (ACLs and file capabilities included;
    /// the context label is kept).
    #[arg(long, overrides_with = "xattrs", conflicts_with_all = ["xattrs_include", "xattrs_exclude"])]
    no_xattrs: bool,
    /// Store extended attributes (the default; cancels --no-xattrs).
    #[arg(long, overrides_with = "no_xattrs")]
    xattrs: bool,
    /// Store only the xattrs whose names match one of these patterns.
    ///
    /// Shell patterns as GNU tar's (`*` matches dots too): user.*,
    /// security.capability. ACLs are the xattrs system.posix_acl_access and
    /// system.posix_acl_default. The context label (user.alientar.context)
    /// is not filtered; --from-xattrs reads its records before any filter.
    #[arg(long, value_name = "PATTERN")]
    xattrs_include: Vec<String>,
    /// Do not store the xattrs whose names match this pattern (after
    /// --xattrs-include), e.g. security.selinux.
    #[arg(long, value_name = "PATTERN")]
    xattrs_exclude: Vec<String>,
    /// Accepted for GNU tar's --sort=name: alientar always stores members
    /// sorted by name (bytewise, each directory before its contents).
    #[arg(long, value_name = "ORDER", value_parser = ["name"])]
    sort: Option<String>,
}

impl NormalizeArgs {
    /// The library's options; `source_date_epoch` is the variable's value,
    /// if set.
    pub(super) fn normalize(self, source_date_epoch: Option<&str>) -> Result<Normalize, Error> {
        let usage = |option: &str, e: String| Error::usage(format!("--{option}: {e}"));
        let (owner, group) = match &self.squash {
            Some(s) => squash_owners(s).map_err(|e| usage("squash", e))?,
            None => (
                parse_owner(self.owner.as_deref()).map_err(|e| usage("owner", e))?,
                parse_owner(self.group.as_deref()).map_err(|e| usage("group", e))?,
            ),
        };
        let mode = self.mode.as_deref().map(ModeChanges::parse).transpose();
        Ok(Normalize {
            mtime: self.set_mtime(source_date_epoch)?,
            owner,
            group,
            drop_setid: self.squash.is_some() && !self.keep_setid,
            mode: mode.map_err(|e| usage("mode", e))?,
            xattrs: XattrFilter {
                none: self.no_xattrs,
                include: self.xattrs_include,
                exclude: self.xattrs_exclude,
            },
        })
    }

    /// `--mtime`, `--clamp-mtime` and `SOURCE_DATE_EPOCH` together.
    fn set_mtime(&self, source_date_epoch: Option<&str>) -> Result<Option<SetMtime>, Error> {
        if let Some(date) = &self.mtime {
            return Ok(Some(SetMtime {
                time: mtime_arg(date)?,
                clamp: self.clamp_mtime,
            }));
        }
        if self.no_clamp_mtime {
            return Ok(None);
        }
        match source_date_epoch.filter(|v| !v.is_empty()) {
            Some(v) => Ok(Some(SetMtime {
                time: alientar::source_date_epoch(v).map_err(Error::usage)?,
                clamp: true,
            })),
            None if self.clamp_mtime => Err(Error::usage(
                "--clamp-mtime needs a date: give --mtime DATE, or set SOURCE_DATE_EPOCH",
            )),
            None => Ok(None),
        }
    }
}

/// `--mtime`'s argument: a date, or (starting with `/` or `.`, as GNU tar
/// tells them apart) a file whose modification time is used.
fn mtime_arg(arg: &str) -> Result<Time, Error> {
    if arg.starts_with(['/', '.']) {
        let md = std::fs::metadata(arg)
            .map_err(|e| Error::io("--mtime: cannot stat the reference file", Path::new(arg), e))?;
        use std::os::unix::fs::MetadataExt;
        return Ok(Time {
            sec: md.mtime(),
            nsec: u32::try_from(md.mtime_nsec()).unwrap_or_default(),
        });
    }
    alientar::parse_date(arg).map_err(|e| Error::usage(format!("--mtime: {e}")))
}

fn parse_owner(arg: Option<&str>) -> Result<Option<ForceOwner>, String> {
    arg.map(ForceOwner::parse).transpose()
}

/// `--squash UID:GID`: both numbers.
fn squash_owners(arg: &str) -> Result<(Option<ForceOwner>, Option<ForceOwner>), String> {
    let id = |s: &str| {
        s.parse::<u32>()
            .ok()
            .filter(|&id| id != u32::MAX && s.bytes().all(|b| b.is_ascii_digit()))
            .map(|id| ForceOwner {
                id: Some(id),
                name: None,
            })
    };
    match arg.split_once(':').map(|(u, g)| (id(u), id(g))) {
        Some((Some(u), Some(g))) => Ok((Some(u), Some(g))),
        _ => Err(format!(
            "{arg:?}: give UID:GID, two numbers from 0 to 4294967294"
        )),
    }
}
