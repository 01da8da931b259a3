//! Owners, host view → context view: the plan for each label (its maps and
//! name databases), the translation of every entry, and the records of the
//! global header that name the maps used.

use std::collections::HashMap;
use std::path::PathBuf;

use super::Env;
use super::label::Labeler;
use super::members::Records;
use super::normalize::{Forced, NamesFor};
use super::overrides::{PendingSpecs, apply_spec, norm_member};
use crate::context::Maps;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::names::Names;
use crate::report::Report;
use crate::translate::{Direction, Outcome, Seen, translate, translate_seen, translate_xattrs};
use crate::walk::WalkedFile;

/// How the entries of one label are translated.
pub(super) struct Plan {
    pub(super) label: Option<String>,
    /// The maps owners are translated through (host → context), recorded
    /// as provenance.
    pub(super) maps: Option<Maps>,
    /// With `--from-xattrs`, the maps a file without an override record is
    /// read through when no `--map` or `--context` is given (the invoking
    /// user's own layout; `None`: unchanged); else `maps`.
    unrecorded: Option<Maps>,
    names: Option<Names>,
    /// `names` are the host's databases (never attached to foreign IDs).
    host_names: bool,
    /// Where the maps come from, for messages.
    origin: String,
    /// The owner and group `--owner`, `--group` or `--squash` give.
    forced: Forced,
    /// Where `unrecorded` comes from, for messages.
    unrecorded_origin: String,
}

impl Plan {
    /// The maps the entry `s` is translated through, and where they come
    /// from.
    fn maps_for(&self, s: &WalkedFile) -> (Option<&Maps>, &str) {
        if s.fixed {
            (self.maps.as_ref(), &self.origin)
        } else {
            (self.unrecorded.as_ref(), &self.unrecorded_origin)
        }
    }
}

/// The plan for entries labelled `label`.
pub(super) fn plan_for(label: &Option<String>, env: &Env) -> Result<Plan> {
    let (opts, reg) = (env.opts, env.reg);
    let maps = match (&opts.owners.maps, label) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(l)) if opts.owners.context.is_none() => Some(reg.maps(l).map_err(|e| {
            Error::context(format!(
                "files to archive are labelled '{l}' on disk ({}, on them or on a directory above): {}; \
                 --context NAME labels them otherwise",
                crate::entry::LABEL_XATTR,
                e.kind()
            ))
        })?),
        (None, Some(l)) => Some(reg.maps(l)?),
        (None, None) => None,
    };
    let maps = maps.filter(|m| !(m.uid.is_identity() && m.gid.is_identity()));
    let owners = &opts.owners;
    let origin = match env.ns {
        Some(_) if owners.maps.is_none() && owners.context.is_none() => {
            "context rootless, the default of --userns".to_string()
        }
        _ => owners.map_origin(label.as_deref()),
    };
    // Inside a user namespace, owners go through the namespace's map.
    let unshifted = maps.is_none();
    let maps = env.ns.map_or(maps, |w| Some(w.maps.clone()));
    let (unrecorded, unrecorded_origin) = match (opts.from_xattrs, env.ns) {
        (true, None) => crate::ownership::unrecorded_maps(owners, reg)?,
        _ => (maps.clone(), origin.clone()),
    };
    // Host names go with owners nothing translates (inside the walk's
    // namespace the plan below keeps them off foreign owners).
    let untranslated = unshifted && (env.ns.is_some() || unrecorded.is_none());
    let (db, host_names) = names_db(label, untranslated, env);
    let numeric = opts.owners.numeric_owner;
    // Inside the walk's user namespace owners are not in the host's view:
    // no host name goes with them, forced or not.
    let foreign = host_names && env.ns.is_some();
    let forced = Forced::resolve(
        &opts.normalize,
        &NamesFor {
            db: db
                .as_ref()
                .filter(|_| !foreign)
                .map(|(n, w, r)| (n, w.clone(), r.clone())),
            store: !numeric && !foreign,
        },
    )?;
    let names = db.filter(|_| !numeric).map(|(n, _, _)| n);
    Ok(Plan {
        label: label.clone(),
        maps,
        unrecorded,
        names,
        host_names,
        origin,
        unrecorded_origin,
        forced,
    })
}

/// Name databases, whose they are (for messages: "the host's ") and the
/// root whose `etc/passwd` and `etc/group` they are.
type NamesDb = (Names, String, PathBuf);

/// The name databases of entries labelled `label` (whatever
/// `--numeric-owner` says), and whether they are the host's: the context's
/// own (`names` in its definition), else the host's for unlabelled and
/// `host` entries that no map translates.
fn names_db(label: &Option<String>, unmapped: bool, env: &Env) -> (Option<NamesDb>, bool) {
    let root = label
        .as_ref()
        .and_then(|l| env.reg.get(l))
        .and_then(|c| c.names.clone());
    if let Some(root) = root {
        let whose = format!("context {}'s ", label.as_deref().unwrap_or_default());
        return (Some((Names::from_root(&root), whose, root)), false);
    }
    if unmapped && label.as_deref().is_none_or(|l| l == "host") {
        let host = env.host_names.cloned().unwrap_or_else(Names::host);
        return (Some((host, "the host's ".into(), "/".into())), true);
    }
    (None, false)
}

/// Each entry in walk order labelled, its label's plan made when first
/// met, its owners translated.
pub(super) struct OwnerStep<'e> {
    env: &'e Env<'e>,
    labeler: Labeler,
    /// The plan of each label met so far.
    pub(super) plans: Plans,
    pub(super) translator: Translator,
}

impl<'e> OwnerStep<'e> {
    pub(super) fn new(env: &'e Env<'e>) -> OwnerStep<'e> {
        OwnerStep {
            env,
            labeler: Labeler::new(&env.labels),
            plans: Plans::new(),
            translator: Translator::default(),
        }
    }

    /// Label and translate `s` (then apply its spec in `pending`, if any).
    ///
    /// # Errors
    /// The plan of its label cannot be made (an unknown context): `s` is
    /// left untranslated.
    pub(super) fn take(&mut self, s: &mut WalkedFile, pending: &mut PendingSpecs) -> Result<()> {
        // Before translation: an xattr not stored cannot fail it.
        self.env.opts.normalize.xattrs.apply(&mut s.entry);
        self.labeler.assign(self.env.opts, &mut s.entry);
        if !self.plans.contains_key(&s.entry.label) {
            let plan = self.env.plan(&s.entry.label)?;
            self.plans.insert(s.entry.label.clone(), plan);
        }
        let plan = &self.plans[&s.entry.label];
        self.translator.translate(s, plan, self.env, pending);
        Ok(())
    }
}

/// Owners turned from the host view to the context view, entry by entry.
#[derive(Default)]
pub(super) struct Translator {
    /// The owners no map held (with `--unmapped error`).
    pub(super) unmapped: Vec<Error>,
    squashed: usize,
}

impl Translator {
    /// Translate `s`'s owners as `plan` says; then apply its manifest spec
    /// still pending, if any, and set its owner names.
    pub(super) fn translate(
        &mut self,
        s: &mut WalkedFile,
        plan: &Plan,
        env: &Env,
        pending_specs: &mut PendingSpecs,
    ) {
        let host = (s.entry.uid, s.entry.gid);
        if let (Some(m), _) = plan.maps_for(s) {
            match Self::owners(s, m, plan, env) {
                Ok(o) => self.squashed += usize::from(o.uid_squashed || o.gid_squashed),
                Err(e) => self.unmapped.push(e),
            }
        }
        if !pending_specs.is_empty()
            && let Some(spec) = pending_specs.remove(&norm_member(&s.entry.path))
        {
            apply_spec(&mut s.entry, &spec);
        }
        set_names(s, plan, env.ns.is_some(), host);
        plan.forced.apply(&mut s.entry);
        env.opts.normalize.apply_mode(&mut s.entry);
    }

    /// An entry's owners (and ID-bearing xattrs) through `m`, host view →
    /// context view; inside a user namespace, as [`translate_seen`] reads
    /// them. Owners fixed by an override are in the context view already.
    fn owners(s: &mut WalkedFile, m: &Maps, plan: &Plan, env: &Env) -> Result<Outcome> {
        let what = plan.maps_for(s).1;
        if !s.fixed {
            stand_in(
                &mut s.entry,
                plan.forced.replaces(),
                env.ns.map_or(m, |w| &w.view),
            );
        }
        let (e, policy, to) = (&mut s.entry, env.opts.owners.unmapped, Direction::ToContext);
        let what = &what;
        match env.ns {
            _ if s.fixed => translate_xattrs(e, env.ns.map_or(m, |w| &w.view), to, policy, what)
                .map(|()| Outcome::default()),
            Some(w) => {
                let seen = Seen {
                    view: &w.view,
                    overflow: w.overflow,
                };
                translate_seen(e, m, &seen, policy, what)
            }
            None => translate(e, m, to, policy, what),
        }
    }

    /// The run's verdict: an error when any owner was unmapped ("no
    /// archive written"), a warning when some were squashed.
    pub(super) fn finish(self, report: &mut Report) -> Result<()> {
        if !self.unmapped.is_empty() {
            let n = self.unmapped.len();
            let mut msg = String::from("no archive written: ");
            for e in self.unmapped.iter().take(5) {
                msg.push_str(&format!("\n  {e}"));
            }
            if n > 5 {
                msg.push_str(&format!("\n  ... and {} more", n - 5));
            }
            return Err(Error::unmapped(msg));
        }
        if self.squashed > 0 {
            report.warnings.push(format!(
                "{} entries had owners outside the map and were stored as {}; their setuid/setgid bits were dropped",
                self.squashed,
                crate::idmap::OVERFLOW_ID
            ));
        }
        Ok(())
    }
}

/// An owner that `--owner`, `--group` or `--squash` replace after the
/// translation must not fail it, nor count as squashed: it is translated as
/// an ID `through` holds (on the host side), then replaced.
fn stand_in(e: &mut Entry, (uid, gid): (bool, bool), through: &Maps) {
    if let Some(x) = through.uid.extents().first().filter(|_| uid) {
        e.uid = u64::from(x.outside);
    }
    if let Some(x) = through.gid.extents().first().filter(|_| gid) {
        e.gid = u64::from(x.outside);
    }
}

/// Set the owner names of `s` from the plan's databases: of its translated
/// owners, or of its `host` owners when nothing translated them. Host
/// databases are never attached to owners in another view (fixed by an
/// override, or seen inside the user namespace `ns`).
fn set_names(s: &mut WalkedFile, plan: &Plan, ns: bool, host: (u64, u64)) {
    let Some(n) = plan
        .names
        .as_ref()
        .filter(|_| !(plan.host_names && (s.fixed || ns)))
    else {
        return;
    };
    let (u, g) = if plan.maps_for(s).0.is_some() || s.fixed || ns {
        (s.entry.uid, s.entry.gid)
    } else {
        host
    };
    s.entry.uname = u32::try_from(u)
        .ok()
        .and_then(|u| n.users.name_of(u))
        .map(|x| x.as_bytes().to_vec());
    s.entry.gname = u32::try_from(g)
        .ok()
        .and_then(|g| n.groups.name_of(g))
        .map(|x| x.as_bytes().to_vec());
}

/// The plan of each label met so far.
pub(super) type Plans = HashMap<Option<String>, Plan>;

/// Add to `plans` the plans of the labels `env` found above the paths
/// archived, and the archive's label.
///
/// # Errors
/// A label that names no context.
pub(super) fn plan_disk_labels(plans: &mut Plans, env: &Env) -> Result<()> {
    for l in env.labels.found() {
        if let std::collections::hash_map::Entry::Vacant(v) = plans.entry(Some(l.clone())) {
            let plan = env.plan(v.key())?;
            v.insert(plan);
        }
    }
    Ok(())
}

/// The global header's records: the format version, the archive's label
/// `archive`, and by label the maps of every context used (identity when
/// the context has none).
pub(super) fn global_records(archive: Option<&str>, plans: &Plans) -> Records {
    let mut labelled: Vec<&Plan> = plans.values().filter(|p| p.label.is_some()).collect();
    labelled.sort_by(|a, b| a.label.cmp(&b.label));
    crate::tar::keys::global_records(
        archive,
        labelled.into_iter().map(|p| {
            let (u, g) = match &p.maps {
                Some(m) => (m.uid.to_string(), m.gid.to_string()),
                None => ("0:0:4294967295".to_string(), "0:0:4294967295".to_string()),
            };
            (p.label.as_deref().unwrap_or_default(), u, g)
        }),
    )
}
