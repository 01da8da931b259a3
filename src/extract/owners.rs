//! The owner sink `--owners` chooses, and what happens to an owner the
//! invoking user cannot give.

use std::sync::Arc;

use crate::context::Registry;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::ownership::{Namespace, OwnerOptions, namespace, namespace_maps};
use crate::sink::{Chown, Manifest, NoOwners, Sink, Userns, Xattr};
use crate::sys;

use super::{ExtractOptions, Owners};

/// What `--owners` resolves to.
pub(super) struct Chosen {
    pub(super) sink: Arc<dyn Sink>,
    /// The user namespace to enter (the `userns` sink).
    pub(super) namespace: Option<Namespace>,
    /// For `auto` without a user namespace: why foreign owners are
    /// impossible (see [`foreign_owner`]).
    pub(super) no_userns: Option<String>,
}

impl Chosen {
    fn plain(sink: Arc<dyn Sink>) -> Chosen {
        Chosen {
            sink,
            namespace: None,
            no_userns: None,
        }
    }

    fn without_userns(why: String) -> Chosen {
        Chosen {
            no_userns: Some(why),
            ..Chosen::plain(Arc::new(NoOwners))
        }
    }
}

/// Resolve `--owners` into a sink, the namespace maps (for `userns`), and,
/// for `auto` without a namespace, the reason foreign owners are impossible.
pub(super) fn choose_sink(opts: &ExtractOptions, reg: &Registry) -> Result<Chosen> {
    Ok(match &opts.sink {
        Owners::Chown => Chosen::plain(Arc::new(Chown)),
        Owners::None => Chosen::plain(Arc::new(NoOwners)),
        Owners::Xattr => Chosen::plain(Arc::new(Xattr)),
        Owners::Manifest(p) => Chosen::plain(Arc::new(Manifest::new(p))),
        Owners::Userns => Chosen {
            namespace: Some(namespace(&opts.owners, reg)?),
            ..Chosen::plain(Arc::new(Userns))
        },
        Owners::Auto if sys::privileged() => Chosen::plain(Arc::new(Chown)),
        Owners::Auto => auto_unprivileged(opts, reg),
    })
}

/// `--owners auto` for an unprivileged user: `userns` in the running
/// namespace the options name, else in one built where the user's
/// subordinate ranges cover the map, else no owners and the reason.
fn auto_unprivileged(opts: &ExtractOptions, reg: &Registry) -> Chosen {
    if let Some(l) = &opts.owners.live {
        // A running namespace: entered, not built.
        return Chosen {
            namespace: Some(Namespace::Join(l.clone())),
            ..Chosen::plain(Arc::new(Userns))
        };
    }
    match namespace_maps(&opts.owners, reg) {
        Ok(m) if sys::userns::available() && sys::userns::coverable(&m, reg.invoker()) => Chosen {
            namespace: Some(Namespace::Build(m)),
            ..Chosen::plain(Arc::new(Userns))
        },
        Ok(m) if !sys::userns::available() => Chosen::without_userns(format!(
            "newuidmap is not installed; the map would be uid {} gid {}",
            m.uid, m.gid
        )),
        Ok(m) => Chosen::without_userns(format!(
            "your uid and /etc/subuid, /etc/subgid ranges do not cover the map uid {} gid {}",
            m.uid, m.gid
        )),
        Err(e) => Chosen::without_userns(e.kind().to_string()),
    }
}

/// An entry whose owner `host` the invoking user `me` cannot give (`why`:
/// no user namespace). A plain tar member — no label, no `--map` or
/// `--context` — is written owned by the user, as `--owners none` does:
/// returns the warning that says so. Anything else stops the run.
pub(super) fn foreign_owner(
    why: &str,
    ctx: &Entry,
    host: &Entry,
    me: (u64, u64),
    o: &OwnerOptions,
) -> Result<String> {
    if ctx.label.is_none() && o.maps.is_none() && o.context.is_none() {
        return Ok(format!(
            "the archive has no context label, and its owners need a user namespace ({why}): \
             entries are written owned by you, without setuid/setgid bits, as with --owners none; \
             --owners xattr or --owners manifest=FILE keep the owners"
        ));
    }
    Err(Error::unmapped(format!(
        "needs owner {}:{} (host view), which uid {} cannot give without a user namespace ({why}); \
         use --owners xattr (owners in user.containers.override_stat), --owners manifest=FILE (an mtree spec) \
         or --owners none (owners dropped)",
        host.uid, host.gid, me.0
    ))
    .with_path(ctx.display_path()))
}
