//! Owner translation between the context view and the host view.
//!
//! Mapping is separate from applying: these pure functions rewrite an
//! entry's owners; the sinks apply whatever they are given.

use crate::context::Maps;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::idmap::{INVALID_ID, IdKind, IdMap, OVERFLOW_ID};

/// What an ID outside the map becomes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Unmapped {
    /// An error naming the path and the ID (nothing is silently changed).
    #[default]
    Error,
    /// The overflow ID 65534 (setuid/setgid bits are dropped).
    Overflow,
    /// The ID unchanged.
    Keep,
}

/// Which way to translate.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Context (inside) → host (outside): extract.
    ToHost,
    /// Host (outside) → context (inside): create.
    ToContext,
}

/// What translation did to an entry.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The uid had to be overflowed.
    pub uid_squashed: bool,
    /// The gid had to be overflowed.
    pub gid_squashed: bool,
}

fn one<K: IdKind>(
    map: &IdMap<K>,
    id: u64,
    dir: Direction,
    policy: Unmapped,
    path: &Entry,
    label: &str,
) -> Result<(u64, bool)> {
    let mapped = u32::try_from(id)
        .ok()
        .filter(|&i| i != INVALID_ID)
        .and_then(|i| match dir {
            Direction::ToHost => map.to_host(i),
            Direction::ToContext => map.to_context(i),
        });
    match (mapped, policy) {
        (Some(m), _) => Ok((u64::from(m), false)),
        (None, Unmapped::Keep) => Ok((id, false)),
        (None, Unmapped::Overflow) => Ok((u64::from(OVERFLOW_ID), true)),
        (None, Unmapped::Error) => {
            let (view, side) = match dir {
                Direction::ToHost => ("context", "inside"),
                Direction::ToContext => ("host", "outside"),
            };
            Err(Error::unmapped(format!(
                "{view} {} {id} is not covered by the {} map {map} ({label}): no extent holds it on the {side}; \
                 use a map (or an /etc/{} range) that covers it, or --unmapped overflow|keep",
                K::NAME,
                K::NAME,
                if K::NAME == "uid" { "subuid" } else { "subgid" },
            ))
            .with_path(path.display_path()))
        }
    }
}

/// Translate an entry's owners through `maps` in direction `dir`.
///
/// IDs outside the map follow `policy`; when one is overflowed, the
/// setuid (for the uid) or setgid (for the gid) bit is dropped.
///
/// # Errors
/// With [`Unmapped::Error`], an ID outside the map: the message names the
/// path, the ID, the map and the remedy.
pub fn translate(
    e: &mut Entry,
    maps: &Maps,
    dir: Direction,
    policy: Unmapped,
    label: &str,
) -> Result<Outcome> {
    let (uid, us) = one(&maps.uid, e.uid, dir, policy, e, label)?;
    let (gid, gs) = one(&maps.gid, e.gid, dir, policy, e, label)?;
    e.uid = uid;
    e.gid = gid;
    if us {
        e.mode &= !0o4000;
    }
    if gs {
        e.mode &= !0o2000;
    }
    Ok(Outcome {
        uid_squashed: us,
        gid_squashed: gs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Kind;
    use crate::idmap::{GidMap, UidMap};

    fn maps() -> Maps {
        Maps {
            uid: UidMap::parse_list("0:1001:1,1:100000:65536").unwrap(),
            gid: GidMap::parse_list("0:1001:1,1:100000:65536").unwrap(),
        }
    }

    #[test]
    fn both_directions_and_policies() {
        let mut e = Entry::new("etc/shadow", Kind::File);
        e.mode = 0o6755;
        e.uid = 1001;
        e.gid = 100041;
        translate(
            &mut e,
            &maps(),
            Direction::ToContext,
            Unmapped::Error,
            "context rootless",
        )
        .unwrap();
        assert_eq!((e.uid, e.gid, e.mode), (0, 42, 0o6755));
        translate(
            &mut e,
            &maps(),
            Direction::ToHost,
            Unmapped::Error,
            "context rootless",
        )
        .unwrap();
        assert_eq!((e.uid, e.gid), (1001, 100041));

        e.uid = 5;
        let err = translate(
            &mut e,
            &maps(),
            Direction::ToContext,
            Unmapped::Error,
            "context rootless",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("etc/shadow: host uid 5 is not covered"),
            "{err}"
        );
        let o = translate(
            &mut e,
            &maps(),
            Direction::ToContext,
            Unmapped::Overflow,
            "x",
        )
        .unwrap();
        assert!(o.uid_squashed && !o.gid_squashed);
        assert_eq!((e.uid, e.gid, e.mode), (65534, 42, 0o2755));
        e.uid = 7;
        translate(&mut e, &maps(), Direction::ToContext, Unmapped::Keep, "x").unwrap();
        assert_eq!(e.uid, 7);
        e.uid = 1 << 33;
        assert!(translate(&mut e, &maps(), Direction::ToHost, Unmapped::Error, "x").is_err());
    }
}
