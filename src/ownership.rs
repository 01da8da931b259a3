//! The ownership policy every command shares: the options (`--context`,
//! `--map`, `--unmapped`...), the map each entry is translated through
//! ([`MapChooser`]) and the map a user namespace is built from.

use std::collections::HashMap;

use crate::context::{Maps, Registry};
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::live::Live;
use crate::sys::userns::Become;
use crate::translate::Unmapped;

/// Ownership options shared by create, list and extract.
#[derive(Clone, Debug, Default)]
pub struct OwnerOptions {
    /// `--context`: the label (create) or the context whose map applies
    /// (list/extract; extract also labels what it writes with it, whatever
    /// the entries' label or the destination's).
    pub context: Option<String>,
    /// `--map`, `--uid-map`, `--gid-map`: explicit maps overriding the context's.
    pub maps: Option<Maps>,
    /// The options that gave `maps` (`--map`, `--uid-map`...), for messages;
    /// `None` when `maps` is the map of `context` (`--map NAME`).
    pub map_option: Option<String>,
    /// What an unmapped ID becomes.
    pub unmapped: Unmapped,
    /// Ignore names, numbers only.
    pub numeric_owner: bool,
    /// The running user namespace `maps` are read from (`pid:PID`,
    /// `ns:PATH`, or a context with `userns`): create, extract and diff
    /// run inside it.
    pub live: Option<Live>,
}

impl OwnerOptions {
    /// Where the map comes from, for messages: the context, and the option
    /// that gave the map when it is not the context's own. `label`: the
    /// label of the entries when no `--context` was given.
    pub fn map_origin(&self, label: Option<&str>) -> String {
        let context = self.context.as_deref().or(label);
        let option = self
            .maps
            .as_ref()
            .map(|_| self.map_option.as_deref().unwrap_or("--map"));
        match (context, option) {
            (Some(c), Some(o)) if self.map_option.is_some() || self.context.is_none() => {
                format!("context {c}, map given with {o}")
            }
            (Some(c), _) => format!("context {c}"),
            (None, Some(o)) => format!("given with {o}"),
            (None, None) => "no map".to_string(),
        }
    }
}

/// Resolves the map for an entry the way `extract` does: an explicit map or
/// context for every entry, else the entry's own label looked up in the
/// registry (labels are resolved once and cached). Used by list, extract
/// and diff so that all three show the same host view.
pub struct MapChooser<'a> {
    reg: &'a Registry,
    explicit: Option<(Maps, String)>,
    /// The map of the user namespace the run is in, when no option chose
    /// one: unlabelled entries get it, labelled ones must have it.
    namespace: Option<(Maps, String)>,
    cache: HashMap<String, Maps>,
}

impl<'a> MapChooser<'a> {
    /// From the ownership options.
    ///
    /// # Errors
    /// An unknown `--context`.
    pub fn new(reg: &'a Registry, o: &OwnerOptions) -> Result<Self> {
        let explicit = match (&o.maps, &o.context) {
            (Some(m), _) => Some((m.clone(), o.map_origin(None))),
            (None, Some(c)) => Some((reg.maps(c)?, o.map_origin(None))),
            (None, None) => None,
        };
        Ok(MapChooser {
            reg,
            explicit,
            namespace: None,
            cache: HashMap::new(),
        })
    }

    /// The run is inside a user namespace built from `maps`, which no
    /// option chose (`origin` says where they come from). The namespace is
    /// what gives entries their owners, so an unlabelled entry gets its
    /// map, and a labelled entry whose context has another map is an error.
    pub fn in_namespace(mut self, maps: Maps, origin: String) -> Self {
        if self.explicit.is_none() {
            self.namespace = Some((maps, origin));
        }
        self
    }

    /// The map for an entry (None: no translation) and where it comes
    /// from. Nothing is cloned or formatted per entry: a label's map is
    /// resolved once and borrowed from then on.
    ///
    /// # Errors
    /// The entry's label names no context in the registry.
    pub fn for_entry<'s>(&'s mut self, e: &'s Entry) -> Result<Option<(&'s Maps, MapOrigin<'s>)>> {
        if let Some((m, origin)) = &self.explicit {
            return Ok(Some((m, MapOrigin::Given(origin))));
        }
        let Some(l) = &e.label else {
            return Ok(self
                .namespace
                .as_ref()
                .map(|(m, origin)| (m, MapOrigin::Given(origin))));
        };
        if !self.cache.contains_key(l) {
            let m = self.resolve_label(l)?;
            self.cache.insert(l.clone(), m);
        }
        Ok(Some((&self.cache[l], MapOrigin::Context(l))))
    }

    /// A label's map, first seen: it must name a context, and inside a
    /// user namespace no option chose, a context with the namespace's map.
    fn resolve_label(&self, l: &str) -> Result<Maps> {
        let m = self.reg.maps(l).map_err(|e| {
            Error::context(format!(
                "the archive's entries are labelled '{l}': {}",
                e.kind()
            ))
        })?;
        if let Some((ns, origin)) = self.namespace.as_ref().filter(|(ns, _)| *ns != m) {
            return Err(Error::context(format!(
                "the archive's entries are labelled '{l}', whose map (uid {} gid {}) is not the one the user namespace \
                 is built from ({origin}: uid {} gid {}); give --context {l} to restore them with their own map, or --map",
                m.uid, m.gid, ns.uid, ns.gid
            )));
        }
        Ok(m)
    }
}

/// Where the map an entry is translated through comes from, for messages
/// (formatted only when one is written).
#[derive(Clone, Copy, Debug)]
pub enum MapOrigin<'a> {
    /// Chosen by the options or the user namespace: their description.
    Given(&'a str),
    /// The entry's own label, looked up in the registry.
    Context(&'a str),
}

impl std::fmt::Display for MapOrigin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MapOrigin::Given(s) => f.write_str(s),
            MapOrigin::Context(l) => write!(f, "context {l}"),
        }
    }
}

/// The user namespace a command runs in to give or read foreign owners.
#[derive(Clone, Debug)]
pub enum Namespace {
    /// A new one, built from these maps with `newuidmap`.
    Build(Maps),
    /// A running one, entered with `setns`.
    Join(Live),
}

impl Namespace {
    /// Its maps.
    pub fn maps(&self) -> &Maps {
        match self {
            Namespace::Build(m) => m,
            Namespace::Join(l) => &l.maps,
        }
    }

    /// Move this process into it (before any thread exists), as the
    /// invoking user's own IDs where it maps them, else as its root.
    ///
    /// # Errors
    /// As [`crate::sys::userns::enter_as`] and [`Live::enter`].
    pub fn enter(&self) -> Result<()> {
        self.enter_as(Become::Own)
    }

    /// [`Namespace::enter`], becoming `who` inside.
    ///
    /// # Errors
    /// As [`Namespace::enter`].
    pub fn enter_as(&self, who: Become) -> Result<()> {
        match self {
            Namespace::Build(m) => crate::sys::userns::enter_as(m, m, who),
            Namespace::Join(l) => l.enter_as(who),
        }
    }
}

/// The user namespace a command runs in: the running one the options name,
/// else one built from [`namespace_maps`].
///
/// # Errors
/// As [`namespace_maps`].
pub fn namespace(o: &OwnerOptions, reg: &Registry) -> Result<Namespace> {
    match &o.live {
        Some(l) => Ok(Namespace::Join(l.clone())),
        None => namespace_maps(o, reg).map(Namespace::Build),
    }
}

/// The map a user namespace is built from: the explicit map, else the
/// `--context`'s, else the built-in `rootless`.
pub fn namespace_maps(o: &OwnerOptions, reg: &Registry) -> Result<Maps> {
    match (&o.maps, &o.context) {
        (Some(m), _) => Ok(m.clone()),
        (None, Some(c)) => reg.maps(c),
        (None, None) => reg.maps("rootless"),
    }
}

/// Where the map of the user namespace comes from, for messages.
pub fn namespace_origin(o: &OwnerOptions) -> String {
    if o.maps.is_some() || o.context.is_some() {
        o.map_origin(None)
    } else {
        "context rootless, the map the user namespace is built from when no --map or --context is given".into()
    }
}

/// The maps through which a file of an override-xattr tree that carries no
/// record (`create --from-xattrs`, `diff --from-xattrs`) is read, host
/// view → context view (`None`: unchanged), with where they come from: the
/// `--map`/`--context` given, else the invoking user's own layout
/// ([`crate::idmap::own_layout`]) — containers/storage reads such a file
/// through the user's rootless namespace, where the user's own ID is root.
///
/// # Errors
/// An unknown `--context`, or a subordinate-ID file that cannot be read.
pub fn unrecorded_maps(o: &OwnerOptions, reg: &Registry) -> Result<(Option<Maps>, String)> {
    let maps = match (&o.maps, &o.context) {
        (Some(m), _) => return Ok((Some(m.clone()), o.map_origin(None))),
        (None, Some(c)) => return Ok((Some(reg.maps(c)?), o.map_origin(None))),
        (None, None) => {
            let who = reg.invoker();
            Maps {
                uid: crate::idmap::own_layout(who)?,
                gid: crate::idmap::own_layout(who)?,
            }
        }
    };
    let identity = maps.uid.is_identity() && maps.gid.is_identity();
    let origin = "your own layout, through which a file without an override record is read \
                  (your uid is 0, your /etc/subuid ranges 1...); give --map or --context to read it through another map"
        .to_string();
    Ok(((!identity).then_some(maps), origin))
}
