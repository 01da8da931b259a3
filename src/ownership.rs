//! The ownership policy every command shares: the options (`--context`,
//! `--map`, `--unmapped`...), the map each entry is translated through
//! ([`MapChooser`]) and the map a user namespace is built from.

use std::collections::HashMap;

use crate::context::{Maps, Registry};
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::translate::Unmapped;

/// Ownership options shared by create, list and extract.
#[derive(Clone, Debug, Default)]
pub struct OwnerOptions {
    /// `--context`: the label (create) or the context whose map applies (list/extract).
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

    /// The map for an entry (None: no translation).
    ///
    /// # Errors
    /// The entry's label names no context in the registry.
    pub fn for_entry(&mut self, e: &Entry) -> Result<Option<(Maps, String)>> {
        if let Some(x) = &self.explicit {
            return Ok(Some(x.clone()));
        }
        let Some(l) = &e.label else {
            return Ok(self.namespace.clone());
        };
        if !self.cache.contains_key(l) {
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
            self.cache.insert(l.clone(), m);
        }
        Ok(Some((self.cache[l].clone(), format!("context {l}"))))
    }
}

/// The map a user namespace is built from: the explicit map, else the
/// `--context`'s, else the built-in `rootless`.
pub fn namespace_maps(
    o: &crate::ownership::OwnerOptions,
    reg: &Registry,
) -> Result<crate::context::Maps> {
    match (&o.maps, &o.context) {
        (Some(m), _) => Ok(m.clone()),
        (None, Some(c)) => reg.maps(c),
        (None, None) => reg.maps("rootless"),
    }
}

/// Where the map of the user namespace comes from, for messages.
pub fn namespace_origin(o: &crate::ownership::OwnerOptions) -> String {
    if o.maps.is_some() || o.context.is_some() {
        o.map_origin(None)
    } else {
        "context rootless, the map the user namespace is built from when no --map or --context is given".into()
    }
}
