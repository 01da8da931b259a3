//! The user namespace a create walk may run in, so that an ordinary user
//! reads files owned by the IDs of a map.

use super::CreateOptions;
use crate::context::{Maps, Registry};
use crate::error::{Error, Result};
use crate::ownership::Namespace;

/// The user namespace a create walk runs in.
pub(super) struct WalkNamespace {
    /// The context's map.
    pub(super) maps: Maps,
    /// Context IDs → IDs as seen inside the namespace.
    pub(super) view: Maps,
    /// The (uid, gid) the kernel shows for owners outside the map.
    pub(super) overflow: (u32, u32),
}

/// Move into the user namespace the walk runs in: a running one, or one
/// built as [`enter_built`] says.
pub(super) fn enter_walk_namespace(ns: Namespace) -> Result<WalkNamespace> {
    match ns {
        Namespace::Build(maps) => enter_built(maps),
        Namespace::Join(live) => {
            live.enter()?;
            // There stat shows each owner as the namespace sees it, the
            // context's own IDs; one it does not map shows as the kernel's
            // overflow ID, which tells it apart only where the namespace
            // does not map that ID itself (rootless podman's does).
            let view = crate::live::inside_view(&live.maps);
            let (u, g) = crate::sys::userns::overflow_ids();
            let overflow = (
                if view.uid.to_context(u).is_some() {
                    u32::MAX
                } else {
                    u
                },
                if view.gid.to_context(g).is_some() {
                    u32::MAX
                } else {
                    g
                },
            );
            Ok(WalkNamespace {
                maps: live.maps,
                view,
                overflow,
            })
        }
    }
}

/// Move into a user namespace from which the walk can read what `maps`
/// covers, and in which an owner outside `maps` shows as the overflow ID
/// and nothing else (see [`Maps::walk_layout`]).
fn enter_built(maps: Maps) -> Result<WalkNamespace> {
    let overflow = crate::sys::userns::overflow_ids();
    let (ns, view) = maps.walk_layout(overflow).map_err(|e| {
        Error::map(format!(
            "cannot lay out a user namespace for the walk (uid {} gid {}) where the overflow IDs {}:{} stay unmapped: {}",
            maps.uid, maps.gid, overflow.0, overflow.1, e.kind()
        ))
    })?;
    crate::sys::userns::enter_as(&ns, &maps, crate::sys::userns::Become::Own)?;
    Ok(WalkNamespace {
        maps,
        view,
        overflow,
    })
}

/// The user namespace to walk in, if `create` should: the running one the
/// options name, or one built from the map.
pub(super) fn namespace_for(opts: &CreateOptions, reg: &Registry) -> Result<Option<Namespace>> {
    let want = match opts.userns {
        Some(false) => return Ok(None),
        Some(true) => true,
        None => {
            // A tree restored with --owners xattr is the user's own: its
            // records give the owners. A manifest names only some files;
            // the others are read as without one, so the walk may need the
            // namespace (mmdebstrap's tree plus a spec of its devices).
            if crate::sys::privileged() || opts.from_xattrs {
                return Ok(None);
            }
            if opts.owners.maps.is_none() && opts.owners.context.is_none() {
                return Ok(None);
            }
            false
        }
    };
    if let Some(l) = &opts.owners.live {
        return Ok(Some(Namespace::Join(l.clone())));
    }
    let m = crate::ownership::namespace_maps(&opts.owners, reg)?;
    if want {
        return Ok(Some(Namespace::Build(m)));
    }
    let identity = m.uid.is_identity() && m.gid.is_identity();
    Ok((!identity
        && crate::sys::userns::available()
        && crate::sys::userns::coverable(&m, reg.invoker()))
    .then_some(Namespace::Build(m)))
}
