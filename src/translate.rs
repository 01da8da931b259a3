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
    label: &dyn std::fmt::Display,
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
    label: &dyn std::fmt::Display,
) -> Result<Outcome> {
    let (uid, us) = one(&maps.uid, e.uid, dir, policy, e, label)?;
    let (gid, gs) = one(&maps.gid, e.gid, dir, policy, e, label)?;
    e.uid = uid;
    e.gid = gid;
    drop_set_id_bits(e, us, gs);
    translate_xattrs(e, maps, dir, policy, label)?;
    Ok(Outcome {
        uid_squashed: us,
        gid_squashed: gs,
    })
}

/// How owners read inside a user namespace laid out by
/// [`Maps::walk_layout`].
pub struct Seen<'a> {
    /// Context IDs → IDs as `stat` shows them inside the namespace.
    pub view: &'a Maps,
    /// The (uid, gid) the kernel shows for an owner the namespace does not map.
    pub overflow: (u32, u32),
}

/// An owner `stat` showed as the overflow ID inside the namespace: outside
/// the map, its host ID unknown. `None`: not the overflow ID.
fn unseen<K: IdKind>(
    map: &IdMap<K>,
    id: u64,
    overflow: u32,
    policy: Unmapped,
    path: &Entry,
    label: &dyn std::fmt::Display,
) -> Result<Option<u64>> {
    if id != u64::from(overflow) {
        return Ok(None);
    }
    match policy {
        // `keep` cannot keep an ID it cannot see: what it keeps is the
        // overflow ID, and like `overflow` it drops setuid/setgid.
        Unmapped::Overflow | Unmapped::Keep => Ok(Some(u64::from(OVERFLOW_ID))),
        Unmapped::Error => Err(Error::unmapped(format!(
            "its {} is outside the {} map {map} ({label}): the user namespace the walk runs in shows it as the overflow {} {overflow}, \
             so its host {} cannot be seen there (`ls -ln` shows it); use a map (or an /etc/{} range) that covers it, \
             or --unmapped overflow|keep (stored as {OVERFLOW_ID}, setuid/setgid dropped)",
            if K::NAME == "uid" { "owner" } else { "group" },
            K::NAME,
            K::NAME,
            K::NAME,
            if K::NAME == "uid" { "subuid" } else { "subgid" },
        ))
        .with_path(path.display_path())),
    }
}

/// Translate the owners `stat` showed inside a user namespace laid out by
/// [`Maps::walk_layout`] from `maps` to the context view: through
/// `seen.view`, except that an owner shown as the overflow ID is outside
/// `maps` and follows `policy` (see [`Seen`]); a squashed owner loses its
/// setuid (uid) or setgid (gid) bit.
///
/// # Errors
/// With [`Unmapped::Error`], an owner outside the map: the message names
/// the path, the map and the remedy.
pub fn translate_seen(
    e: &mut Entry,
    maps: &Maps,
    seen: &Seen,
    policy: Unmapped,
    label: &dyn std::fmt::Display,
) -> Result<Outcome> {
    let uid = unseen(&maps.uid, e.uid, seen.overflow.0, policy, e, label)?;
    let gid = unseen(&maps.gid, e.gid, seen.overflow.1, policy, e, label)?;
    let (uid, us) = match uid {
        Some(u) => (u, true),
        None => one(
            &seen.view.uid,
            e.uid,
            Direction::ToContext,
            policy,
            e,
            label,
        )?,
    };
    let (gid, gs) = match gid {
        Some(g) => (g, true),
        None => one(
            &seen.view.gid,
            e.gid,
            Direction::ToContext,
            policy,
            e,
            label,
        )?,
    };
    e.uid = uid;
    e.gid = gid;
    drop_set_id_bits(e, us, gs);
    translate_xattrs(e, seen.view, Direction::ToContext, policy, label)?;
    Ok(Outcome {
        uid_squashed: us,
        gid_squashed: gs,
    })
}

/// Setuid goes with a squashed uid, setgid with a squashed gid.
fn drop_set_id_bits(e: &mut Entry, uid_squashed: bool, gid_squashed: bool) {
    if uid_squashed {
        e.mode &= !0o4000;
    }
    if gid_squashed {
        e.mode &= !0o2000;
    }
}

/// xattr holding the access ACL.
pub const ACL_ACCESS: &str = "system.posix_acl_access";
/// xattr holding the default ACL.
pub const ACL_DEFAULT: &str = "system.posix_acl_default";
/// xattr holding file capabilities.
pub const CAPABILITY: &str = "security.capability";

const ACL_USER: u16 = 0x02;
const ACL_GROUP: u16 = 0x08;
const CAP_REVISION_MASK: u32 = 0xFF00_0000;
const CAP_REVISION_2: u32 = 0x0200_0000;
const CAP_REVISION_3: u32 = 0x0300_0000;

/// Translate the IDs inside ID-bearing xattrs: the `id` of `ACL_USER` and
/// `ACL_GROUP` entries of POSIX ACLs (header version 2, entries `le16 tag,
/// le16 perm, le32 id`), and the `rootid` of a v3 `security.capability`
/// (a rootid of 0 is written as v2; a v2 capability has rootid 0).
///
/// # Errors
/// An unmapped ID under [`Unmapped::Error`], or a malformed ACL.
pub fn translate_xattrs(
    e: &mut Entry,
    maps: &Maps,
    dir: Direction,
    policy: Unmapped,
    label: &dyn std::fmt::Display,
) -> Result<()> {
    if e.xattrs.is_empty() {
        return Ok(());
    }
    let mut xattrs = std::mem::take(&mut e.xattrs);
    let r = (|| {
        for (name, value) in xattrs.iter_mut() {
            if name == ACL_ACCESS || name == ACL_DEFAULT {
                if value.len() < 4 || (value.len() - 4) % 8 != 0 {
                    return Err(Error::format(format!(
                        "malformed {name} xattr ({} bytes)",
                        value.len()
                    ))
                    .with_path(e.display_path()));
                }
                for chunk in value[4..].chunks_exact_mut(8) {
                    let tag = u16::from_le_bytes([chunk[0], chunk[1]]);
                    let id = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
                    let new = match tag {
                        ACL_USER => one(&maps.uid, u64::from(id), dir, policy, e, label)?.0,
                        ACL_GROUP => one(&maps.gid, u64::from(id), dir, policy, e, label)?.0,
                        _ => continue,
                    };
                    chunk[4..8].copy_from_slice(&(new as u32).to_le_bytes());
                }
            } else if name == CAPABILITY && value.len() >= 20 {
                let magic = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
                let flags = magic & !CAP_REVISION_MASK;
                let rev = magic & CAP_REVISION_MASK;
                let rootid = match rev {
                    CAP_REVISION_3 if value.len() >= 24 => {
                        u32::from_le_bytes([value[20], value[21], value[22], value[23]])
                    }
                    CAP_REVISION_2 => 0,
                    _ => continue,
                };
                let new = one(&maps.uid, u64::from(rootid), dir, policy, e, label)?.0 as u32;
                let mut v = value[..20].to_vec();
                if new == 0 {
                    v[..4].copy_from_slice(&(CAP_REVISION_2 | flags).to_le_bytes());
                } else {
                    v[..4].copy_from_slice(&(CAP_REVISION_3 | flags).to_le_bytes());
                    v.extend_from_slice(&new.to_le_bytes());
                }
                *value = v;
            }
        }
        Ok(())
    })();
    e.xattrs = xattrs;
    r
}

#[cfg(test)]
/// Encode a POSIX ACL xattr from (tag, perm, id) entries (the tests' fixtures).
pub fn encode_acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for &(tag, perm, id) in entries {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
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
            &"context rootless",
        )
        .unwrap();
        assert_eq!((e.uid, e.gid, e.mode), (0, 42, 0o6755));
        translate(
            &mut e,
            &maps(),
            Direction::ToHost,
            Unmapped::Error,
            &"context rootless",
        )
        .unwrap();
        assert_eq!((e.uid, e.gid), (1001, 100041));

        e.uid = 5;
        let err = translate(
            &mut e,
            &maps(),
            Direction::ToContext,
            Unmapped::Error,
            &"context rootless",
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
            &"x",
        )
        .unwrap();
        assert!(o.uid_squashed && !o.gid_squashed);
        assert_eq!((e.uid, e.gid, e.mode), (65534, 42, 0o2755));
        e.uid = 7;
        translate(&mut e, &maps(), Direction::ToContext, Unmapped::Keep, &"x").unwrap();
        assert_eq!(e.uid, 7);
        e.uid = 1 << 33;
        assert!(translate(&mut e, &maps(), Direction::ToHost, Unmapped::Error, &"x").is_err());
    }

    /// Inside create's namespace: the overflow ID is an owner outside the
    /// map (an error, or 65534 without setuid/setgid for both `overflow`
    /// and `keep`); other IDs go through the view.
    #[test]
    fn seen_in_a_namespace() {
        let m = maps();
        let seen = Seen {
            view: &m,
            overflow: (65534, 65534),
        };
        let mut e = Entry::new("usr/bin/passwd", Kind::File);
        (e.uid, e.gid, e.mode) = (65534, 1001, 0o6755);
        let err = translate_seen(
            &mut e.clone(),
            &m,
            &seen,
            Unmapped::Error,
            &"context rootless",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("usr/bin/passwd: its owner is outside the uid map 0:1001:1,1:100000:65536 (context rootless)"),
            "{err}"
        );
        for policy in [Unmapped::Overflow, Unmapped::Keep] {
            let mut x = e.clone();
            let o = translate_seen(&mut x, &m, &seen, policy, &"x").unwrap();
            assert!(o.uid_squashed && !o.gid_squashed);
            assert_eq!((x.uid, x.gid, x.mode), (65534, 0, 0o2755), "{policy:?}");
        }
        (e.uid, e.gid) = (100005, 65534);
        let err = translate_seen(&mut e.clone(), &m, &seen, Unmapped::Error, &"x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("its group is outside the gid map"), "{err}");
    }

    #[test]
    fn acl_and_capability_ids() {
        let u32max = u32::MAX;
        let mut e = Entry::new("f", Kind::File);
        e.uid = 1001;
        e.gid = 1001;
        // user::rw-, user:100005:r--, group::r--, group:100041:r--, mask::r--, other::---
        e.xattrs = vec![
            (
                ACL_ACCESS.into(),
                encode_acl(&[
                    (1, 6, u32max),
                    (2, 4, 100005),
                    (4, 4, u32max),
                    (8, 4, 100041),
                    (0x10, 4, u32max),
                    (0x20, 0, u32max),
                ]),
            ),
            (CAPABILITY.into(), {
                let mut v = (CAP_REVISION_3 | 1).to_le_bytes().to_vec();
                v.extend_from_slice(&[0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                v.extend_from_slice(&1001u32.to_le_bytes());
                v
            }),
        ];
        translate(&mut e, &maps(), Direction::ToContext, Unmapped::Error, &"x").unwrap();
        let acl = e.xattr(ACL_ACCESS).unwrap();
        assert_eq!(u32::from_le_bytes(acl[16..20].try_into().unwrap()), 6);
        assert_eq!(u32::from_le_bytes(acl[32..36].try_into().unwrap()), 42);
        assert_eq!(
            u32::from_le_bytes(acl[8..12].try_into().unwrap()),
            u32max,
            "USER_OBJ untouched"
        );
        let cap = e.xattr(CAPABILITY).unwrap();
        assert_eq!(cap.len(), 20, "rootid 0 in the context is a v2 capability");
        assert_eq!(
            u32::from_le_bytes(cap[..4].try_into().unwrap()),
            CAP_REVISION_2 | 1
        );
        // And back: v2 → v3 with the host rootid.
        translate(&mut e, &maps(), Direction::ToHost, Unmapped::Error, &"x").unwrap();
        let cap = e.xattr(CAPABILITY).unwrap();
        assert_eq!(cap.len(), 24);
        assert_eq!(u32::from_le_bytes(cap[20..24].try_into().unwrap()), 1001);
        let acl = e.xattr(ACL_ACCESS).unwrap();
        assert_eq!(u32::from_le_bytes(acl[16..20].try_into().unwrap()), 100005);
        // An ACL naming an unmapped uid is an error naming it.
        e.xattrs = vec![(ACL_ACCESS.into(), encode_acl(&[(2, 4, 7)]))];
        let err = translate(&mut e, &maps(), Direction::ToContext, Unmapped::Error, &"x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("uid 7"), "{err}");
    }
}
