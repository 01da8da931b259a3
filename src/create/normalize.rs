//! What create sets the same way in every member, for archives that do not
//! depend on who made them, when, or where: the modification time
//! (`--mtime`, `--clamp-mtime`, `SOURCE_DATE_EPOCH`), the owner
//! (`--owner`, `--group`, `--squash`), the mode (`--mode`) and which
//! xattrs are kept (`--no-xattrs`, `--xattrs-include`, `--xattrs-exclude`).
//!
//! Owners given here are in the context view, what the archive stores:
//! they replace the translated owners, so they are never unmapped.

use crate::entry::{Entry, Kind, Time};
use crate::error::{Error, Result};
use crate::modechange::ModeChanges;
use crate::names::{NameDb, Names};

/// What create normalizes in every member (all off by default).
#[derive(Clone, Debug, Default)]
pub struct Normalize {
    /// `--mtime` (and `--clamp-mtime`): the modification time stored.
    pub mtime: Option<SetMtime>,
    /// `--owner` (or `--squash`): every member's owner, context view.
    pub owner: Option<ForceOwner>,
    /// `--group` (or `--squash`): every member's group, context view.
    pub group: Option<ForceOwner>,
    /// Drop the setuid and setgid bits of every member (`--squash`
    /// without `--keep-setid`).
    pub drop_setid: bool,
    /// `--mode`: changes applied to every member's mode as stored.
    pub mode: Option<ModeChanges>,
    /// Which xattrs are stored.
    pub xattrs: XattrFilter,
}

/// `--mtime DATE` and `--clamp-mtime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetMtime {
    /// The time.
    pub time: Time,
    /// Only members newer than `time` get it (`--clamp-mtime`); without,
    /// every member does.
    pub clamp: bool,
}

impl SetMtime {
    /// The time a member whose file has `mtime` is stored with.
    pub fn apply(&self, mtime: Time) -> Time {
        if self.clamp && mtime <= self.time {
            mtime
        } else {
            self.time
        }
    }
}

/// An owner or group given on the command line: an ID, a name, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForceOwner {
    /// The ID; `None`: the name's, looked up in the context's database.
    pub id: Option<u32>,
    /// The name stored; `None`: the ID's in the context's database, if any.
    pub name: Option<String>,
}

impl ForceOwner {
    /// `ID`, `NAME`, `NAME:ID` or `:ID` (GNU tar's forms: with a colon, a
    /// number after it is the ID), or `ID:NAME` (a number, then a name
    /// that is not one).
    ///
    /// # Errors
    /// An empty name or ID, an ID over 4294967294, a form that is none of
    /// these.
    pub fn parse(arg: &str) -> std::result::Result<ForceOwner, String> {
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| {
                s.parse::<u32>()
                    .ok()
                    .filter(|&id| id != crate::idmap::INVALID_ID)
                    .ok_or_else(|| format!("{s}: not an ID (0 to 4294967294)"))
            })
        };
        let name = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let (id, name) = match arg.split_once(':') {
            Some((a, b)) => match (number(a), number(b)) {
                (_, Some(id)) => (Some(id?), name(a)),
                (Some(id), None) if !b.is_empty() => (Some(id?), name(b)),
                _ => (None, None),
            },
            None => match number(arg) {
                Some(id) => (Some(id?), None),
                None => (None, name(arg)),
            },
        };
        if id.is_none() && (name.is_none() || arg.contains(':')) {
            return Err(format!(
                "{arg:?}: give ID, NAME, ID:NAME or NAME:ID (a NAME is looked up in the context's databases)"
            ));
        }
        Ok(ForceOwner { id, name })
    }
}

/// Which xattrs create stores, by name: GNU tar's `--xattrs-include` and
/// `--xattrs-exclude` (shell patterns, `*` matching any characters, dots
/// included), or none at all (`--no-xattrs`). ACLs are the xattrs
/// `system.posix_acl_access` and `system.posix_acl_default` here and are
/// filtered like any other. The context label is not a file xattr and is
/// always kept; `--from-xattrs` reads its records before any filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XattrFilter {
    /// Store no xattrs.
    pub none: bool,
    /// When not empty, only xattrs matching one of these are stored.
    pub include: Vec<String>,
    /// xattrs matching one of these are not stored.
    pub exclude: Vec<String>,
}

impl XattrFilter {
    /// Is the xattr `name` stored?
    pub fn keeps(&self, name: &str) -> bool {
        let hit = |pats: &[String]| {
            pats.iter()
                .any(|p| crate::pattern::glob(p.as_bytes(), name.as_bytes()))
        };
        !self.none && (self.include.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }

    /// Does the filter drop anything at all?
    fn is_off(&self) -> bool {
        !self.none && self.include.is_empty() && self.exclude.is_empty()
    }

    /// Drop from `e` the xattrs not stored.
    pub(super) fn apply(&self, e: &mut Entry) {
        if !self.is_off() {
            e.xattrs.retain(|(n, _)| self.keeps(n));
        }
    }
}

/// The owner and group one label's members get: IDs resolved, names
/// chosen.
#[derive(Clone, Debug, Default)]
pub(super) struct Forced {
    uid: Option<(u32, Option<Vec<u8>>)>,
    gid: Option<(u32, Option<Vec<u8>>)>,
    drop_setid: bool,
}

/// The names of a label's members, as the owner step chooses them.
pub(super) struct NamesFor<'a> {
    /// The databases IDs and names are looked up in (whatever
    /// `--numeric-owner` says), whose they are ("the host's ") and the
    /// root of their `etc/passwd` and `etc/group`, for messages.
    pub(super) db: Option<(&'a Names, String, std::path::PathBuf)>,
    /// Names are stored (not `--numeric-owner`, and the database is the
    /// context's).
    pub(super) store: bool,
}

/// The owner or the group.
#[derive(Clone, Copy)]
enum Which {
    Owner,
    Group,
}

impl Which {
    /// The option that gives it.
    fn option(self) -> &'static str {
        match self {
            Which::Owner => "owner",
            Which::Group => "group",
        }
    }

    /// Its database in `n`.
    fn db(self, n: &Names) -> &NameDb {
        match self {
            Which::Owner => &n.users,
            Which::Group => &n.groups,
        }
    }

    /// What its names are called, and its database's file under a root.
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Which::Owner => ("user", "etc/passwd"),
            Which::Group => ("group", "etc/group"),
        }
    }
}

/// The ID and name `f` stands for with the databases of `names`.
///
/// # Errors
/// A name without an ID that the databases do not hold.
fn resolve(f: &ForceOwner, which: Which, names: &NamesFor) -> Result<(u32, Option<Vec<u8>>)> {
    let db = names
        .db
        .as_ref()
        .map(|(d, whose, root)| (which.db(d), whose, root));
    let looked_up = || db.and_then(|(d, _, _)| d.id_of(f.name.as_deref()?));
    let Some(id) = f.id.or_else(looked_up) else {
        let name = f.name.as_deref().unwrap_or_default();
        let (what, file) = which.file();
        let place = match db {
            Some((_, whose, root)) => {
                format!("no {what} {name:?} in {whose}{}", root.join(file).display())
            }
            None => "no names database for the context (names = ROOT in contexts.toml)".into(),
        };
        let option = which.option();
        return Err(Error::usage(format!(
            "--{option} {name}: {place}; give the ID too: --{option} {name}:ID"
        )));
    };
    let name = match (&f.name, db) {
        _ if !names.store => None,
        (Some(given), _) => Some(given.as_bytes().to_vec()),
        (None, Some((d, _, _))) => d.name_of(id).map(|s| s.as_bytes().to_vec()),
        (None, None) => None,
    };
    Ok((id, name))
}

impl Forced {
    /// Resolve `n`'s owner and group for one label: IDs of names from the
    /// databases, names of IDs where `names.store`.
    ///
    /// # Errors
    /// A name without an ID that the databases do not hold.
    pub(super) fn resolve(n: &Normalize, names: &NamesFor) -> Result<Forced> {
        let one = |f: &Option<ForceOwner>, which| {
            f.as_ref().map(|f| resolve(f, which, names)).transpose()
        };
        Ok(Forced {
            uid: one(&n.owner, Which::Owner)?,
            gid: one(&n.group, Which::Group)?,
            drop_setid: n.drop_setid,
        })
    }

    /// An owner is replaced (so its translation may not fail): (uid, gid).
    pub(super) fn replaces(&self) -> (bool, bool) {
        (self.uid.is_some(), self.gid.is_some())
    }

    /// Give `e` the owner and group (and names), and drop its setuid and
    /// setgid bits when told to.
    pub(super) fn apply(&self, e: &mut Entry) {
        if let Some((id, name)) = &self.uid {
            e.uid = u64::from(*id);
            e.uname = name.clone();
        }
        if let Some((id, name)) = &self.gid {
            e.gid = u64::from(*id);
            e.gname = name.clone();
        }
        if self.drop_setid {
            e.mode &= !0o6000;
        }
    }
}

impl Normalize {
    /// Apply `--mode` to `e`.
    pub(super) fn apply_mode(&self, e: &mut Entry) {
        if let Some(m) = &self.mode {
            e.mode = m.apply(e.mode, e.kind == Kind::Dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_in_gnu_and_alientar_forms() {
        let f = |id: Option<u32>, name: Option<&str>| {
            Ok(ForceOwner {
                id,
                name: name.map(str::to_string),
            })
        };
        for (arg, want) in [
            ("0", f(Some(0), None)),
            ("root", f(None, Some("root"))),
            ("0:root", f(Some(0), Some("root"))),
            ("root:0", f(Some(0), Some("root"))),
            (":42", f(Some(42), None)),
            // GNU tar: a number after the colon is the ID.
            ("12:34", f(Some(34), Some("12"))),
            ("1abc", f(None, Some("1abc"))),
            ("4294967294", f(Some(4_294_967_294), None)),
        ] {
            assert_eq!(ForceOwner::parse(arg), want, "{arg}");
        }
        for bad in [
            "",
            ":",
            "root:",
            ":root",
            "a:b",
            "4294967295",
            "0:99999999999",
        ] {
            assert!(ForceOwner::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clamp_keeps_older_times() {
        let at = |sec| Time { sec, nsec: 0 };
        let force = SetMtime {
            time: at(100),
            clamp: false,
        };
        let clamp = SetMtime {
            clamp: true,
            ..force
        };
        assert_eq!(force.apply(at(5)), at(100));
        assert_eq!(clamp.apply(at(5)), at(5));
        assert_eq!(clamp.apply(at(100)), at(100));
        assert_eq!(clamp.apply(Time { sec: 100, nsec: 1 }), at(100));
        assert_eq!(clamp.apply(at(200)), at(100));
    }

    #[test]
    fn xattr_patterns_as_gnu_tar() {
        let f = XattrFilter {
            none: false,
            include: vec!["user.*".into(), "security.capability".into()],
            exclude: vec!["user.skip*".into()],
        };
        assert!(f.keeps("user.a.b"));
        assert!(f.keeps("security.capability"));
        assert!(!f.keeps("security.selinux"));
        assert!(!f.keeps("user.skipme"));
        assert!(!f.keeps("system.posix_acl_access"));
        let none = XattrFilter {
            none: true,
            ..XattrFilter::default()
        };
        assert!(!none.keeps("user.a"));
        assert!(XattrFilter::default().keeps("trusted.x"));
    }
}
