//! Member names: split into components that are safe to create beneath a
//! destination, and joined back.

/// Split a member name into safe components: a leading `/` is removed
/// (reported by the flag), empty and `.` components are dropped.
///
/// # Errors
/// A `..` component.
pub fn safe_components(path: &[u8]) -> std::result::Result<(Vec<&[u8]>, bool), String> {
    let stripped = path.starts_with(b"/");
    let mut out = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(
                    "member name contains '..': refusing to write outside the destination".into(),
                );
            }
            c => out.push(c),
        }
    }
    Ok((out, stripped))
}

/// `name` without its first `n` components, as GNU tar's
/// `--strip-components` counts them (leading `/` skipped, `.` a component,
/// slashes in a row one separator); `None` when it has no more than `n`.
pub fn strip_components(name: &[u8], n: u32) -> Option<&[u8]> {
    if n == 0 {
        return Some(name);
    }
    let mut left = n;
    let mut i = name.iter().take_while(|&&b| b == b'/').count();
    while i < name.len() {
        let slash = name[i] == b'/';
        i += 1;
        if slash {
            while name.get(i) == Some(&b'/') {
                i += 1;
            }
            left -= 1;
            if left == 0 {
                return (i < name.len()).then(|| &name[i..]);
            }
        }
    }
    None
}

/// Strip `n` components from `e`'s name and, for a hard link, from its
/// target (as GNU tar does; a symlink's target is left alone). False when
/// either has no more than `n`: the member is then left out.
pub fn strip_entry(e: &mut crate::entry::Entry, n: u32) -> bool {
    if n == 0 {
        return true;
    }
    let Some(path) = strip_components(&e.path, n).map(<[u8]>::to_vec) else {
        return false;
    };
    if e.kind == crate::entry::Kind::HardLink {
        match e.link.as_deref().and_then(|l| strip_components(l, n)) {
            Some(l) => e.link = Some(l.to_vec()),
            None => return false,
        }
    }
    e.path = path;
    true
}

/// Components joined by `/` into a member key.
pub fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

/// Whether `key` is `comps` joined by `/` (as [`join`] makes it), without
/// making the joined name.
pub fn is_joined(key: &[u8], comps: &[&[u8]]) -> bool {
    let mut rest = key;
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            match rest.split_first() {
                Some((b'/', r)) => rest = r,
                _ => return false,
            }
        }
        match rest.strip_prefix(*c) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// A key's components (empty ones dropped), the inverse of [`join`].
pub fn split(key: &[u8]) -> Vec<&[u8]> {
    key.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_as_gnu_tar() {
        let cases: &[(&str, u32, Option<&str>)] = &[
            ("t/a/b", 1, Some("a/b")),
            ("t/a/b", 2, Some("b")),
            ("t/a/b", 3, None),
            ("./a/b", 1, Some("a/b")),
            ("/t//a", 1, Some("a")),
            ("t", 1, None),
            ("t/", 1, None),
            ("t", 0, Some("t")),
        ];
        for (name, n, want) in cases {
            let got =
                strip_components(name.as_bytes(), *n).map(|s| std::str::from_utf8(s).unwrap());
            assert_eq!(got, *want, "{name} {n}");
        }
    }

    #[test]
    fn is_joined_matches_join() {
        let cases: &[&[&[u8]]] = &[&[], &[b"a"], &[b"a", b"b"], &[b"usr", b"share", b"doc"]];
        for comps in cases {
            let key = join(comps);
            assert!(is_joined(&key, comps), "{key:?}");
            for other in cases.iter().filter(|o| o != &comps) {
                assert!(!is_joined(&key, other), "{key:?} vs {other:?}");
            }
        }
        assert!(!is_joined(b"a/bc", &[b"a", b"b"]));
        assert!(!is_joined(b"ab", &[b"a", b"b"]));
        assert!(!is_joined(b"a//b", &[b"a", b"b"]));
        assert!(!is_joined(b"a/b/", &[b"a", b"b"]));
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn components_table() {
        let cases: &[(&str, Result<(Vec<&str>, bool), ()>)] = &[
            ("etc/shadow", Ok((vec!["etc", "shadow"], false))),
            ("/etc//shadow", Ok((vec!["etc", "shadow"], true))),
            ("./etc/./x/", Ok((vec!["etc", "x"], false))),
            (".", Ok((vec![], false))),
            ("", Ok((vec![], false))),
            ("../x", Err(())),
            ("a/../../x", Err(())),
            ("a/..", Err(())),
            ("..foo/x", Ok((vec!["..foo", "x"], false))),
        ];
        for (p, want) in cases {
            let got = safe_components(p.as_bytes())
                .map(|(c, s)| {
                    (
                        c.iter()
                            .map(|c| std::str::from_utf8(c).unwrap())
                            .collect::<Vec<_>>(),
                        s,
                    )
                })
                .map_err(|_| ());
            assert_eq!(&got, want, "{p}");
        }
    }
}
