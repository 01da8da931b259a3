//! User and group name databases (`etc/passwd`, `etc/group` of some root).
//!
//! A context's names come from its own databases (an image's `etc/passwd`),
//! never from the host's: a host name is never attached to a foreign ID.
//! The files are parsed directly (no NSS), which is what a foreign root
//! needs anyway.

use std::collections::HashMap;
use std::path::Path;

/// ID ↔ name tables parsed from one `passwd` or `group` file.
#[derive(Clone, Debug, Default)]
pub struct NameDb {
    by_id: HashMap<u32, String>,
    by_name: HashMap<String, u32>,
}

impl NameDb {
    /// Parse `name:x:id:...` lines. Unreadable files give an empty database.
    pub fn load(path: &Path) -> NameDb {
        let mut db = NameDb::default();
        let Ok(text) = std::fs::read_to_string(path) else {
            return db;
        };
        for line in text.lines() {
            let mut f = line.split(':');
            let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let Ok(id) = id.parse::<u32>() else { continue };
            if name.is_empty() || name.starts_with('#') || name.starts_with('+') {
                continue;
            }
            db.by_id.entry(id).or_insert_with(|| name.to_owned());
            db.by_name.entry(name.to_owned()).or_insert(id);
        }
        db
    }

    /// The host's `/etc/passwd`.
    pub fn host_passwd() -> NameDb {
        NameDb::load(Path::new("/etc/passwd"))
    }

    /// The name of `id`, if the database has one.
    pub fn name_of(&self, id: u32) -> Option<&str> {
        self.by_id.get(&id).map(String::as_str)
    }

    /// The ID of `name`, if the database has one.
    pub fn id_of(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }
}

/// The user and group databases of one root directory.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Users.
    pub users: NameDb,
    /// Groups.
    pub groups: NameDb,
}

impl Names {
    /// Load `ROOT/etc/passwd` and `ROOT/etc/group`.
    pub fn from_root(root: &Path) -> Names {
        Names {
            users: NameDb::load(&root.join("etc/passwd")),
            groups: NameDb::load(&root.join("etc/group")),
        }
    }

    /// The host's databases.
    pub fn host() -> Names {
        Names::from_root(Path::new("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_passwd() {
        let dir = std::env::temp_dir().join(format!("alientar-names-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nbad line\n#c:x:1:1\nfoo:x:1000:1000::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nshadow:x:42:\n").unwrap();
        let n = Names::from_root(&dir);
        assert_eq!(n.users.name_of(0), Some("root"));
        assert_eq!(n.users.name_of(1000), Some("foo"));
        assert_eq!(n.users.name_of(1), None);
        assert_eq!(n.groups.name_of(42), Some("shadow"));
        assert_eq!(n.groups.id_of("shadow"), Some(42));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
