//! Member-name patterns, as `tar` takes them on the command line.
//!
//! A pattern selects a member when it equals the member's name, names one of
//! its parent directories (`etc` selects `etc/shadow`), or matches it as a
//! shell glob (`*`, `?`, `[...]`; `*` also matches `/`, as GNU tar's
//! `--wildcards` does). Leading `./` and `/` and trailing `/` are ignored on
//! both sides.

/// A set of patterns; empty selects everything.
#[derive(Clone, Debug, Default)]
pub struct Patterns {
    pats: Vec<Vec<u8>>,
    hits: Vec<bool>,
}

fn norm(p: &[u8]) -> &[u8] {
    let mut p = p;
    loop {
        if let Some(r) = p.strip_prefix(b"./") {
            p = r;
        } else if let Some(r) = p.strip_prefix(b"/") {
            p = r;
        } else {
            break;
        }
    }
    while p.len() > 1 && p.ends_with(b"/") {
        p = &p[..p.len() - 1];
    }
    p
}

impl Patterns {
    /// Patterns from the command line.
    pub fn new<I: IntoIterator<Item = Vec<u8>>>(pats: I) -> Patterns {
        let pats: Vec<Vec<u8>> = pats.into_iter().map(|p| norm(&p).to_vec()).collect();
        let hits = vec![false; pats.len()];
        Patterns { pats, hits }
    }

    /// Does some pattern select `name`? Records which patterns matched.
    pub fn matches(&mut self, name: &[u8]) -> bool {
        if self.pats.is_empty() {
            return true;
        }
        let name = norm(name);
        let mut any = false;
        for (i, p) in self.pats.iter().enumerate() {
            let hit = name == p.as_slice()
                || (name.len() > p.len() && name.starts_with(p) && name[p.len()] == b'/')
                || glob(p, name)
                || glob_prefix(p, name);
            if hit {
                self.hits[i] = true;
                any = true;
            }
        }
        any
    }

    /// Patterns that never matched, for "not found in archive" errors.
    pub fn unmatched(&self) -> Vec<String> {
        self.pats
            .iter()
            .zip(&self.hits)
            .filter(|(_, h)| !**h)
            .map(|(p, _)| String::from_utf8_lossy(p).into_owned())
            .collect()
    }
}

/// A glob that matches a leading directory of `name`.
fn glob_prefix(p: &[u8], name: &[u8]) -> bool {
    if !p.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
        return false;
    }
    name.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .any(|(i, _)| glob(p, &name[..i]))
}

/// Shell-style match of the whole of `s` against `p`.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                b'?' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' => {
                    if let Some((ok, next)) = class(&p[pi..], s[si])
                        && ok
                    {
                        pi += next;
                        si += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() && p[pi + 1] == s[si] => {
                    pi += 2;
                    si += 1;
                    continue;
                }
                c if c == s[si] => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, ss)) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Match a `[...]` class at the start of `p`; returns (matched, class length).
fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
            if (p[i]..=p[i + 2]).contains(&c) {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("etc", "etc/shadow", true),
            ("etc", "etcetera", false),
            ("./etc/", "etc", true),
            ("etc/shadow", "./etc/shadow", true),
            ("*.conf", "etc/ld.so.conf", true),
            ("etc/*", "etc/a/b", true),
            ("usr/bin/s?", "usr/bin/su", true),
            ("usr/bin/s[a-u]", "usr/bin/su", true),
            ("usr/bin/s[!u]", "usr/bin/su", false),
            ("u*/bin", "usr/bin/su", true),
            ("x", "y", false),
        ];
        for (p, n, want) in cases {
            let mut ps = Patterns::new([p.as_bytes().to_vec()]);
            assert_eq!(ps.matches(n.as_bytes()), *want, "{p} vs {n}");
        }
        let mut ps = Patterns::new([b"a".to_vec(), b"b".to_vec()]);
        ps.matches(b"a/x");
        assert_eq!(ps.unmatched(), vec!["b".to_string()]);
    }
}
