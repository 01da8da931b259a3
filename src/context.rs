//! The context registry: named ownership views with their maps.
//!
//! Contexts come from `$XDG_CONFIG_HOME/alientar/contexts.toml` (else
//! `~/.config/alientar/contexts.toml`), then `/etc/alientar/contexts.toml`
//! (the user's file wins), plus the built-ins `host`, `rootless` and
//! `subuid`. A label stored in an archive is a key into the registry of the
//! machine that reads it.
//!
//! ```toml
//! [hpa-backups]
//! uidmap = "0:200000:65536"
//! gidmap = "0:300000:65536"
//! names  = "/srv/images/hpa"    # optional: etc/passwd and etc/group of the context
//!
//! [web]
//! userns = "/run/user/1000/web.userns"  # a namespace file: maps read, and entered, when used
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::idmap::{GidKind, GidMap, Invoker, UidKind, UidMap, parse_spec};
use crate::live::Live;

/// A uid map and a gid map, used together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maps {
    /// The uid map.
    pub uid: UidMap,
    /// The gid map.
    pub gid: GidMap,
}

impl Maps {
    /// Identity maps (the `host` context).
    pub fn identity() -> Maps {
        Maps {
            uid: UidMap::identity(),
            gid: GidMap::identity(),
        }
    }

    /// Both maps inverted.
    pub fn inverse(&self) -> Maps {
        Maps {
            uid: self.uid.inverse(),
            gid: self.gid.inverse(),
        }
    }

    /// The user namespace to walk a tree in and how its IDs read: see
    /// [`crate::idmap::IdMap::walk_layout`]; `overflow` is the kernel's
    /// (uid, gid) for IDs a namespace cannot show.
    ///
    /// # Errors
    /// As [`crate::idmap::IdMap::walk_layout`].
    pub fn walk_layout(&self, overflow: (u32, u32)) -> Result<(Maps, Maps)> {
        let (uid_ns, uid_view) = self.uid.walk_layout(overflow.0)?;
        let (gid_ns, gid_view) = self.gid.walk_layout(overflow.1)?;
        Ok((
            Maps {
                uid: uid_ns,
                gid: gid_ns,
            },
            Maps {
                uid: uid_view,
                gid: gid_view,
            },
        ))
    }

    /// Build from uid and gid SPECs.
    ///
    /// # Errors
    /// As [`parse_spec`].
    pub fn from_specs(uid: &str, gid: &str, who: &Invoker) -> Result<Maps> {
        Ok(Maps {
            uid: parse_spec::<UidKind>(uid, who)?,
            gid: parse_spec::<GidKind>(gid, who)?,
        })
    }
}

/// One named context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// Its name (the label stored in archives).
    pub name: String,
    /// The uid map SPEC.
    pub uidmap: String,
    /// The gid map SPEC.
    pub gidmap: String,
    /// Root whose `etc/passwd` and `etc/group` name this context's IDs.
    pub names: Option<PathBuf>,
    /// Where it was defined: "built-in" or a file path.
    pub origin: String,
    /// A user namespace file (`userns = "PATH"`): the maps are the
    /// namespace's, read when the context is used, and create, extract and
    /// diff run inside it.
    pub userns: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContext {
    map: Option<String>,
    uidmap: Option<String>,
    gidmap: Option<String>,
    names: Option<PathBuf>,
    userns: Option<PathBuf>,
}

/// All known contexts.
#[derive(Clone, Debug)]
pub struct Registry {
    contexts: BTreeMap<String, Context>,
    who: Invoker,
}

impl Registry {
    /// The built-ins plus the system's and the user's files.
    ///
    /// # Errors
    /// A contexts file that exists but is malformed.
    pub fn load(who: Invoker) -> Result<Registry> {
        let mut files = vec![PathBuf::from("/etc/alientar/contexts.toml")];
        if let Some(p) = user_contexts_file() {
            files.push(p);
        }
        Registry::load_from(who, &files)
    }

    /// The built-ins plus the given files, later files overriding earlier ones.
    ///
    /// # Errors
    /// A file that exists but is malformed, naming the file and the problem.
    pub fn load_from(who: Invoker, files: &[PathBuf]) -> Result<Registry> {
        let mut contexts = BTreeMap::new();
        for (name, spec) in [
            ("host", "host"),
            ("rootless", "rootless"),
            ("subuid", "subuid"),
        ] {
            contexts.insert(
                name.to_owned(),
                Context {
                    name: name.into(),
                    uidmap: spec.into(),
                    gidmap: spec.into(),
                    names: None,
                    origin: "built-in".into(),
                    userns: None,
                },
            );
        }
        for f in files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("cannot read the contexts file", f, e)),
            };
            let parsed: BTreeMap<String, FileContext> = toml::from_str(&text).map_err(|e| {
                Error::context(format!("{}: {}", f.display(), e.to_string().trim_end()))
            })?;
            for (name, c) in parsed {
                validate_label(&name)
                    .map_err(|m| Error::context(format!("{}: [{name}]: {m}", f.display())))?;
                let (uidmap, gidmap) = match (c.map, c.uidmap, c.gidmap, &c.userns) {
                    (Some(m), None, None, None) => (m.clone(), m),
                    (None, Some(u), Some(g), None) => (u, g),
                    (None, Some(u), None, None) => (u.clone(), u),
                    (None, None, None, Some(p)) => {
                        let spec = format!("ns:{}", p.display());
                        (spec.clone(), spec)
                    }
                    _ => {
                        return Err(Error::context(format!(
                            "{}: [{name}] needs `uidmap` and `gidmap` (or one `map` for both), or `userns` alone",
                            f.display()
                        )));
                    }
                };
                contexts.insert(
                    name.clone(),
                    Context {
                        name,
                        uidmap,
                        gidmap,
                        names: c.names,
                        origin: f.display().to_string(),
                        userns: c.userns,
                    },
                );
            }
        }
        Ok(Registry { contexts, who })
    }

    /// Look up a context.
    pub fn get(&self, name: &str) -> Option<&Context> {
        self.contexts.get(name)
    }

    /// All contexts, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Context> {
        self.contexts.values()
    }

    /// The invoking user the built-ins are resolved for.
    pub fn invoker(&self) -> &Invoker {
        &self.who
    }

    /// Resolve a context's maps.
    ///
    /// # Errors
    /// An unknown context (with the remedy), or a SPEC that does not resolve.
    pub fn maps(&self, name: &str) -> Result<Maps> {
        let c = self.get(name).ok_or_else(|| {
            Error::context(format!(
                "no context named '{name}' is defined: add a [{name}] section with uidmap and gidmap to {}, or give --map",
                user_contexts_file().map_or("~/.config/alientar/contexts.toml".into(), |p| p.display().to_string())
            ))
        })?;
        let origin =
            |e: Error| Error::context(format!("context '{name}' ({}): {}", c.origin, e.kind()));
        if let Some(live) = self.live(name) {
            return live.map(|l| l.maps).map_err(origin);
        }
        Maps::from_specs(&c.uidmap, &c.gidmap, &self.who).map_err(origin)
    }

    /// The running namespace a context names (`userns = "PATH"`), opened
    /// now: `None` for a context with maps, or no such context.
    ///
    /// # Errors
    /// As [`Live::open`].
    pub fn live(&self, name: &str) -> Option<Result<Live>> {
        let p = self.get(name)?.userns.as_ref()?;
        Some(Live::open(&format!("ns:{}", p.display())))
    }

    /// Resolve a `--map` SPEC that may also be a context name.
    ///
    /// # Errors
    /// As [`Maps::from_specs`] or [`Registry::maps`].
    pub fn resolve_spec(&self, spec: &str) -> Result<Maps> {
        if self.contexts.contains_key(spec) {
            return self.maps(spec);
        }
        if Live::is_spec(spec) {
            return Live::open(spec).map(|l| l.maps);
        }
        Maps::from_specs(spec, spec, &self.who)
    }
}

/// The user's contexts file: `$XDG_CONFIG_HOME/alientar/contexts.toml`, or
/// `~/.config/alientar/contexts.toml`.
pub fn user_contexts_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("alientar/contexts.toml"))
}

/// A label is a non-empty name of letters, digits, `-`, `_`, `.`, `@`, `+`.
///
/// # Errors
/// The reason it is not a valid label.
pub fn validate_label(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err("a context name must have 1 to 255 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'))
    {
        return Err(format!(
            "context name '{name}' may only hold letters, digits and - _ . @ +"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_from_files() {
        let dir = std::env::temp_dir().join(format!("alientar-ctx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sys = dir.join("sys.toml");
        let user = dir.join("user.toml");
        std::fs::write(
            &sys,
            "[hpa]\nmap = \"0:1:1\"\n[other]\nuidmap = \"0:5:1\"\ngidmap = \"0:6:1\"\n",
        )
        .unwrap();
        std::fs::write(
            &user,
            "[hpa]\nuidmap = \"0:200000:65536\"\ngidmap = \"0:300000:65536\"\nnames = \"/srv\"\n",
        )
        .unwrap();
        let who = Invoker::current();
        let r = Registry::load_from(who.clone(), &[sys.clone(), user.clone()]).unwrap();
        let m = r.maps("hpa").unwrap();
        assert_eq!(m.uid.to_host(0), Some(200000));
        assert_eq!(m.gid.to_host(42), Some(300042));
        assert_eq!(
            r.get("hpa").unwrap().names.as_deref(),
            Some(Path::new("/srv"))
        );
        assert_eq!(r.maps("other").unwrap().gid.to_host(0), Some(6));
        assert!(r.maps("host").unwrap().uid.is_identity());
        let e = r.maps("nope").unwrap_err().to_string();
        assert!(e.contains("no context named 'nope'"), "{e}");
        std::fs::write(&user, "[bad]\nuidmap = 5\n").unwrap();
        let e = Registry::load_from(who.clone(), std::slice::from_ref(&user))
            .unwrap_err()
            .to_string();
        assert!(e.contains("user.toml"), "{e}");
        std::fs::write(&user, "[x]\nnames = \"/\"\n").unwrap();
        assert!(Registry::load_from(who, &[user]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn labels() {
        assert!(validate_label("rootless").is_ok());
        assert!(validate_label("hpa-backups_2.x@y").is_ok());
        assert!(validate_label("").is_err());
        assert!(validate_label("a b").is_err());
        assert!(validate_label("a/b").is_err());
    }
}
