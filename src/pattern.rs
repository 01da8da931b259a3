//! Name patterns as GNU tar matches them: member patterns on the command
//! line (`etc` selects `etc/shadow`) and exclusions (`--exclude`).
//!
//! A pattern is a shell glob (`*`, `?`, `[...]`, `\` quoting the next
//! character) unless [`Matching::wildcards`] is off. [`Matching`] holds
//! GNU tar's other matching options; their defaults differ between member
//! patterns ([`Matching::MEMBER`]) and exclusions ([`Matching::EXCLUDE`]),
//! as in GNU tar.

/// How a pattern matches a name: GNU tar's `--anchored`, `--wildcards`,
/// `--wildcards-match-slash` and `--ignore-case`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Matching {
    /// The pattern matches from the start of the name only; else also
    /// from just after any `/` in it (a pattern without `/` then matches a
    /// name's last component anywhere).
    pub anchored: bool,
    /// `*`, `?` and `[...]` are wildcards; else every character is itself.
    pub wildcards: bool,
    /// Wildcards match `/` too.
    pub match_slash: bool,
    /// ASCII letters match either case.
    pub ignore_case: bool,
    /// A pattern that matches a directory's name matches every name below
    /// it too (GNU tar's `--recursion`, on by default).
    pub leading_dir: bool,
}

impl Matching {
    /// GNU tar's defaults for `--exclude`: unanchored, wildcards that
    /// match `/`, case-sensitive.
    pub const EXCLUDE: Matching = Matching {
        anchored: false,
        wildcards: true,
        match_slash: true,
        ignore_case: false,
        leading_dir: true,
    };

    /// Member patterns (list, extract, diff): anchored, wildcards that
    /// match `/`, case-sensitive. (GNU tar takes member patterns literally
    /// unless given `--wildcards`; alientar always took them as globs.)
    pub const MEMBER: Matching = Matching {
        anchored: true,
        ..Matching::EXCLUDE
    };
}

impl Default for Matching {
    fn default() -> Matching {
        Matching::MEMBER
    }
}

/// Member patterns; none selects everything. Leading `./` and `/` and
/// trailing `/` are ignored on both sides.
#[derive(Clone, Debug, Default)]
pub struct Patterns {
    pats: Vec<Vec<u8>>,
    hits: Vec<bool>,
    how: Matching,
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
    /// Patterns from the command line, matching as `how` says.
    pub fn with<I: IntoIterator<Item = Vec<u8>>>(pats: I, how: Matching) -> Patterns {
        let pats: Vec<Vec<u8>> = pats.into_iter().map(|p| norm(&p).to_vec()).collect();
        let hits = vec![false; pats.len()];
        Patterns { pats, hits, how }
    }

    /// Does some pattern select `name`? Records which patterns matched.
    pub fn matches(&mut self, name: &[u8]) -> bool {
        if self.pats.is_empty() {
            return true;
        }
        let name = norm(name);
        let mut any = false;
        for (i, p) in self.pats.iter().enumerate() {
            if matches(p, name, self.how) {
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

/// The errors for `unmatched` patterns, in GNU tar's words.
pub fn not_found(unmatched: Vec<String>) -> impl Iterator<Item = crate::error::Error> {
    unmatched
        .into_iter()
        .map(|p| crate::error::Error::usage(format!("{p}: not found in archive")))
}

/// Does `p` match `name` as `how` says? Unanchored, it is tried at the
/// start and after every `/` (not one of several in a row), as GNU tar's
/// `exclude_fnmatch` does.
pub fn matches(p: &[u8], name: &[u8], how: Matching) -> bool {
    if matches_here(p, name, how) {
        return true;
    }
    if how.anchored {
        return false;
    }
    if !how.wildcards && !how.leading_dir && !p.contains(&b'/') {
        // Only the last component can be the whole of what follows a `/`.
        let last = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
        return last.len() < name.len() && literal(p, last, how);
    }
    name.iter().enumerate().any(|(i, &b)| {
        b == b'/'
            && name.get(i + 1).is_some_and(|&c| c != b'/')
            && matches_here(p, &name[i + 1..], how)
    })
}

/// `p` matches `s` from its start: the whole of it, or with
/// [`Matching::leading_dir`] a part of it that ends before a `/`.
fn matches_here(p: &[u8], s: &[u8], how: Matching) -> bool {
    if how.wildcards {
        glob_with(p, s, how)
    } else {
        literal(p, s, how)
    }
}

fn literal(p: &[u8], s: &[u8], how: Matching) -> bool {
    let Some(head) = s.get(..p.len()) else {
        return false;
    };
    let same = if how.ignore_case {
        head.eq_ignore_ascii_case(p)
    } else {
        head == p
    };
    same && (s.len() == p.len() || (how.leading_dir && s[p.len()] == b'/'))
}

fn same_char(a: u8, b: u8, how: Matching) -> bool {
    a == b || (how.ignore_case && a.eq_ignore_ascii_case(&b))
}

/// Shell-style match of the whole of `s` against `p`, `*` matching `/`
/// too.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    let how = Matching {
        leading_dir: false,
        ..Matching::EXCLUDE
    };
    glob_with(p, s, how)
}

/// Shell-style match of `s` against `p` (see [`matches_here`]).
fn glob_with(p: &[u8], s: &[u8], how: Matching) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Where the last `*` is in the pattern, and where in `s` what it
    // matches ends.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            if p[pi] == b'*' {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            if let Some(&c) = s.get(si)
                && let Some(n) = one_char(&p[pi..], c, how)
            {
                pi += n;
                si += 1;
                continue;
            }
        } else if si == s.len() || (how.leading_dir && s[si] == b'/') {
            return true;
        }
        // The last `*` takes one more character, if it may.
        match star {
            Some((sp, ss)) if ss < s.len() && (how.match_slash || s[ss] != b'/') => {
                star = Some((sp, ss + 1));
                pi = sp + 1;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// Does the start of `p` (not `*`) match the character `c`? The length of
/// what matched in `p`.
fn one_char(p: &[u8], c: u8, how: Matching) -> Option<usize> {
    let slash_ok = how.match_slash || c != b'/';
    match p[0] {
        b'?' => slash_ok.then_some(1),
        b'[' => match class(p, c, how) {
            Some((ok, len)) => (ok && slash_ok).then_some(len),
            // No closing `]`: the `[` is itself.
            None => (c == b'[').then_some(1),
        },
        b'\\' if p.len() > 1 => same_char(p[1], c, how).then_some(2),
        b => same_char(b, c, how).then_some(1),
    }
}

/// Match a `[...]` class at the start of `p`; returns (matched, class length).
fn class(p: &[u8], c: u8, how: Matching) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let in_range = |lo: u8, hi: u8| {
        (lo..=hi).contains(&c)
            || (how.ignore_case
                && ((lo..=hi).contains(&c.to_ascii_lowercase())
                    || (lo..=hi).contains(&c.to_ascii_uppercase())))
    };
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
            matched |= in_range(p[i], p[i + 2]);
            i += 3;
        } else {
            matched |= in_range(p[i], p[i]);
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
            let mut ps = Patterns::with([p.as_bytes().to_vec()], Matching::MEMBER);
            assert_eq!(ps.matches(n.as_bytes()), *want, "{p} vs {n}");
        }
        let mut ps = Patterns::with([b"a".to_vec(), b"b".to_vec()], Matching::MEMBER);
        ps.matches(b"a/x");
        assert_eq!(ps.unmatched(), vec!["b".to_string()]);
    }

    /// GNU tar 1.34's answers (`tar -tf ... --exclude P`, and `tar -cf`
    /// over the same tree) for exclusions.
    #[test]
    fn exclusion_table() {
        let ex = Matching::EXCLUDE;
        let anchored = Matching {
            anchored: true,
            ..ex
        };
        let no_slash = Matching {
            match_slash: false,
            ..ex
        };
        let icase = Matching {
            ignore_case: true,
            ..ex
        };
        let literal = Matching {
            wildcards: false,
            ..ex
        };
        let cases: &[(&str, &str, Matching, bool)] = &[
            ("*.o", "./a/b/c/f.o", ex, true),
            ("f.o", "./a/x/f.o", ex, true),
            ("b", "./a/b", ex, true),
            ("b", "./a/b/g.c", ex, true),
            ("a/b", "./a/b", ex, true),
            ("./a/b", "./a/b", ex, true),
            ("a/b", "./a/b", anchored, false),
            ("./a/b", "./a/b/c", anchored, true),
            (".", "./a", anchored, true),
            ("b/", "./b", ex, false),
            ("b/", "t/b/f.c", ex, false),
            ("a/*", "t/a", ex, false),
            ("a/*", "t/a/b/c", ex, true),
            ("a?b", "t/a/b", ex, true),
            ("a?b", "t/a/b", no_slash, false),
            ("t/*.o", "t/a/x/f.o", ex, true),
            ("t/*.o", "t/a/x/f.o", no_slash, false),
            ("*/f.o", "./a/b/c/f.o", no_slash, true),
            ("a/*", "t/a/b/c", no_slash, true),
            ("*.o", "./A.O", ex, false),
            ("*.o", "./A.O", icase, true),
            ("T/[A-C]", "t/b/f.c", icase, true),
            ("/t/a", "t/a", ex, false),
            ("tmp/t/a", "/tmp/t/a/b", ex, true),
            ("*.o", "./a.o", literal, false),
            ("a.o", "x/a.o/y", literal, true),
            ("\\*", "x/*", ex, true),
            ("[ab", "x/[ab", ex, true),
        ];
        for (p, n, how, want) in cases {
            assert_eq!(
                matches(p.as_bytes(), n.as_bytes(), *how),
                *want,
                "{p} vs {n} ({how:?})"
            );
        }
    }
}
