//! `check`: are all of an archive's owners mappable? Per context, the IDs
//! used (owners and ACL entries), how many entries use each, and which the
//! chosen map does not cover. The question rootless podman answers too late
//! ("potentially insufficient UIDs or GIDs available in user namespace").

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::context::{Maps, Registry};
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::ownership::MapChooser;
use crate::ownership::OwnerOptions;
use crate::translate::{ACL_ACCESS, ACL_DEFAULT};

/// IDs used by the entries of one context.
#[derive(Debug, Default)]
pub struct Usage {
    /// The map the IDs are checked against, if any.
    pub maps: Option<Maps>,
    /// uid → entries using it.
    pub uids: BTreeMap<u64, u64>,
    /// gid → entries using it.
    pub gids: BTreeMap<u64, u64>,
    /// uids the map does not cover.
    pub uncovered_uids: BTreeSet<u64>,
    /// gids the map does not cover.
    pub uncovered_gids: BTreeSet<u64>,
    /// The context's map could not be resolved (why).
    pub unresolved: Option<String>,
}

/// The result: per label (None: unlabelled).
pub type CheckResult = BTreeMap<Option<String>, Usage>;

/// The IDs in an entry's POSIX ACLs (`ACL_USER` and `ACL_GROUP` entries):
/// (is a uid, id).
fn acl_ids(e: &Entry) -> impl Iterator<Item = (bool, u64)> + '_ {
    e.xattrs
        .iter()
        .filter(|(n, v)| {
            (n == ACL_ACCESS || n == ACL_DEFAULT) && v.len() >= 4 && (v.len() - 4) % 8 == 0
        })
        .flat_map(|(_, v)| v[4..].chunks_exact(8))
        .filter_map(|c| {
            let tag = u16::from_le_bytes([c[0], c[1]]);
            let id = u64::from(u32::from_le_bytes([c[4], c[5], c[6], c[7]]));
            match tag {
                0x02 => Some((true, id)),
                0x08 => Some((false, id)),
                _ => None,
            }
        })
}

/// Record a use of `id`, counted when it is an entry's `owner` (IDs from
/// ACLs are recorded without counting), and note it when `covered` says
/// no.
fn tally(
    id: u64,
    owner: bool,
    counts: &mut BTreeMap<u64, u64>,
    uncovered: &mut BTreeSet<u64>,
    covered: impl Fn(u32) -> bool,
) {
    *counts.entry(id).or_default() += u64::from(owner);
    if !u32::try_from(id)
        .ok()
        .filter(|&v| v != u32::MAX)
        .is_some_and(covered)
    {
        uncovered.insert(id);
    }
}

impl Usage {
    /// Count the owners and ACL IDs of `e`.
    fn count(&mut self, e: &Entry) {
        let ok = self.unresolved.is_none();
        let maps = self.maps.as_ref();
        let uid_ok = |u| maps.map_or(ok, |m| m.uid.to_host(u).is_some());
        let gid_ok = |g| maps.map_or(ok, |m| m.gid.to_host(g).is_some());
        tally(
            e.uid,
            true,
            &mut self.uids,
            &mut self.uncovered_uids,
            uid_ok,
        );
        tally(
            e.gid,
            true,
            &mut self.gids,
            &mut self.uncovered_gids,
            gid_ok,
        );
        for (is_uid, id) in acl_ids(e) {
            if is_uid {
                tally(id, false, &mut self.uids, &mut self.uncovered_uids, uid_ok);
            } else {
                tally(id, false, &mut self.gids, &mut self.uncovered_gids, gid_ok);
            }
        }
    }
}

/// Check an archive's owners against the maps `owners` selects (each
/// entry's label in the registry, or `--map`/`--context` for all); an
/// image's (`oci:DIR[:TAG]`, ...) final view.
///
/// # Errors
/// An unreadable or malformed archive, or an unknown `--context`.
pub fn check(
    archive: &std::path::Path,
    reg: &Registry,
    owners: &OwnerOptions,
) -> Result<CheckResult> {
    // (Entries an image's final view refuses have no owner on disk to
    // check; extract reports them.)
    let mut rd = crate::archive::Entries::open(archive, &mut Vec::new())?;
    let mut chooser = MapChooser::new(reg, owners)?;
    let mut out: CheckResult = BTreeMap::new();
    let shown = archive.display().to_string();
    while let Some((e, _)) = rd
        .next_mut()
        .map_err(|e| e.with_context(format!("reading {shown}")))?
    {
        let key = if owners.context.is_some() {
            &owners.context
        } else {
            &e.label
        };
        if !out.contains_key(key) {
            out.insert(key.clone(), Usage::default());
        }
        let usage = out.get_mut(key).expect("inserted above");
        if usage.maps.is_none() && usage.unresolved.is_none() {
            match chooser.for_entry(e) {
                Ok(Some((m, _))) => usage.maps = Some(m.clone()),
                Ok(None) => {}
                Err(err) => usage.unresolved = Some(err.to_string()),
            }
        }
        usage.count(e);
    }
    Ok(out)
}

/// Print a check result; returns true when every ID maps.
///
/// # Errors
/// A write error.
pub fn print(result: &CheckResult, out: &mut dyn Write) -> Result<bool> {
    let mut all_ok = true;
    for (label, u) in result {
        all_ok &= print_usage(label.as_deref(), u, out)?;
    }
    line(
        out,
        if all_ok {
            "all owners map"
        } else {
            "some owners do not map"
        },
    )?;
    Ok(all_ok)
}

fn line(out: &mut dyn Write, s: &str) -> Result<()> {
    writeln!(out, "{s}").map_err(|e| Error::io_nopath("cannot write the report", e))
}

/// One context's part of the report; true when all its IDs map.
fn print_usage(label: Option<&str>, u: &Usage, out: &mut dyn Write) -> Result<bool> {
    let name = match label {
        Some(l) => format!("context {l}"),
        None => "unlabelled entries".to_string(),
    };
    let map = match (&u.maps, &u.unresolved) {
        (Some(m), _) => format!("map uid {} gid {}", m.uid, m.gid),
        (None, Some(why)) => format!("no map: {why}"),
        (None, None) => "no map: owners restore unchanged".to_string(),
    };
    line(out, &format!("{name}: {map}"))?;
    for (kind, ids, bad) in [
        ("uid", &u.uids, &u.uncovered_uids),
        ("gid", &u.gids, &u.uncovered_gids),
    ] {
        for (id, n) in ids {
            let status = if bad.contains(id) {
                "NOT COVERED"
            } else {
                "ok"
            };
            line(out, &format!("  {kind} {id:>10}  {n:>8} entries  {status}"))?;
        }
    }
    if u.uncovered_uids.is_empty() && u.uncovered_gids.is_empty() {
        return Ok(true);
    }
    let list = |s: &BTreeSet<u64>| s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !u.uncovered_uids.is_empty() {
        parts.push(format!("uids {}", list(&u.uncovered_uids)));
    }
    if !u.uncovered_gids.is_empty() {
        parts.push(format!("gids {}", list(&u.uncovered_gids)));
    }
    line(out, &format!("  not covered: {}", parts.join("; ")))?;
    Ok(false)
}
