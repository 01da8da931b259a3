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

fn ids_of(e: &Entry) -> (Vec<u64>, Vec<u64>) {
    let mut u = vec![e.uid];
    let mut g = vec![e.gid];
    for (n, v) in &e.xattrs {
        if (n == ACL_ACCESS || n == ACL_DEFAULT) && v.len() >= 4 && (v.len() - 4) % 8 == 0 {
            for c in v[4..].chunks_exact(8) {
                let tag = u16::from_le_bytes([c[0], c[1]]);
                let id = u64::from(u32::from_le_bytes([c[4], c[5], c[6], c[7]]));
                match tag {
                    0x02 => u.push(id),
                    0x08 => g.push(id),
                    _ => {}
                }
            }
        }
    }
    (u, g)
}

/// Count `ids` (the first is the entry's owner, the rest come from ACLs and
/// are recorded without counting) and note those `covered` says no to.
fn tally(
    ids: Vec<u64>,
    counts: &mut BTreeMap<u64, u64>,
    uncovered: &mut BTreeSet<u64>,
    covered: impl Fn(u32) -> bool,
) {
    for (i, id) in ids.into_iter().enumerate() {
        *counts.entry(id).or_default() += u64::from(i == 0);
        if !u32::try_from(id)
            .ok()
            .filter(|&v| v != u32::MAX)
            .is_some_and(&covered)
        {
            uncovered.insert(id);
        }
    }
}

/// Check an archive's owners against the maps `owners` selects (each
/// entry's label in the registry, or `--map`/`--context` for all).
///
/// # Errors
/// An unreadable or malformed archive, or an unknown `--context`.
pub fn check(
    archive: &std::path::Path,
    reg: &Registry,
    owners: &OwnerOptions,
) -> Result<CheckResult> {
    let mut rd = crate::archive::Entries::open(archive)?;
    let mut chooser = MapChooser::new(reg, owners)?;
    let mut out: CheckResult = BTreeMap::new();
    let shown = archive.display().to_string();
    while let Some(e) = rd
        .next()
        .map_err(|e| e.with_context(format!("reading {shown}")))?
    {
        let key = if owners.context.is_some() {
            owners.context.clone()
        } else {
            e.label.clone()
        };
        let usage = out.entry(key).or_default();
        if usage.maps.is_none() && usage.unresolved.is_none() {
            match chooser.for_entry(&e) {
                Ok(Some((m, _))) => usage.maps = Some(m.clone()),
                Ok(None) => {}
                Err(err) => usage.unresolved = Some(err.to_string()),
            }
        }
        let (us, gs) = ids_of(&e);
        let Usage {
            maps,
            uids,
            gids,
            uncovered_uids,
            uncovered_gids,
            unresolved,
        } = usage;
        let ok = unresolved.is_none();
        tally(us, uids, uncovered_uids, |u| {
            maps.as_ref().map_or(ok, |m| m.uid.to_host(u).is_some())
        });
        tally(gs, gids, uncovered_gids, |g| {
            maps.as_ref().map_or(ok, |m| m.gid.to_host(g).is_some())
        });
    }
    Ok(out)
}

/// Print a check result; returns true when every ID maps.
///
/// # Errors
/// A write error.
pub fn print(result: &CheckResult, out: &mut dyn Write) -> Result<bool> {
    let w = |out: &mut dyn Write, s: String| {
        writeln!(out, "{s}").map_err(|e| Error::io_nopath("cannot write the report", e))
    };
    let mut all_ok = true;
    for (label, u) in result {
        let name = match label {
            Some(l) => format!("context {l}"),
            None => "unlabelled entries".to_string(),
        };
        let map = match (&u.maps, &u.unresolved) {
            (Some(m), _) => format!("map uid {} gid {}", m.uid, m.gid),
            (None, Some(why)) => format!("no map: {why}"),
            (None, None) => "no map: owners restore unchanged".to_string(),
        };
        w(out, format!("{name}: {map}"))?;
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
                w(out, format!("  {kind} {id:>10}  {n:>8} entries  {status}"))?;
            }
        }
        let nb = u.uncovered_uids.len() + u.uncovered_gids.len();
        if nb > 0 {
            all_ok = false;
            let list =
                |s: &BTreeSet<u64>| s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            let mut parts = Vec::new();
            if !u.uncovered_uids.is_empty() {
                parts.push(format!("uids {}", list(&u.uncovered_uids)));
            }
            if !u.uncovered_gids.is_empty() {
                parts.push(format!("gids {}", list(&u.uncovered_gids)));
            }
            w(out, format!("  not covered: {}", parts.join("; ")))?;
        }
    }
    w(
        out,
        if all_ok {
            "all owners map".to_string()
        } else {
            "some owners do not map".to_string()
        },
    )?;
    Ok(all_ok)
}
