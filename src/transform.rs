//! `--transform`/`--xform`: GNU tar's sed-like renaming of member names.
//!
//! An argument holds one or more expressions separated by `;`:
//! `s/REGEX/REPLACEMENT/FLAGS`, with any character instead of `/` as the
//! delimiter (a `\` before it makes it part of the text), or `flags=SCOPE`,
//! which sets the scope of the expressions after it. Flags: `g` (every
//! match), `i` (ignore case), `x` (extended regular expression), a number N
//! (the Nth match; with `g`, the Nth and every later one), and the scope
//! `r`/`R` (member names: on/off), `s`/`S` (symlink targets), `h`/`H` (hard
//! link targets); by default all three. Expressions run in order, each on
//! the result of the one before.
//!
//! REGEX is a POSIX basic regular expression, as in GNU tar, translated for
//! the `regex` crate: `\(` `\)` `\{` `\}` `\+` `\?` `\|` are the operators
//! and `(` `)` `{` `}` `+` `?` `|` are literal; with `x` the extended syntax,
//! where it is the other way round. Bracket expressions (`[a-z]`,
//! `[^/]`, `[[:alpha:]]`), anchors, `\<` `\>` `\b` `\B` `\w` `\W` `\s` `\S`
//! work as in GNU regex. Limits: back-references inside REGEX (`\(a\)\1`)
//! are refused; a match is the leftmost-first one of the `regex` crate, not
//! POSIX's leftmost-longest (they differ only for alternatives where one
//! is a prefix of another: `a\|ab` matches `a` in `ab`); `[=x=]` and `[.x.]`
//! stand for the character x.
//!
//! REPLACEMENT: `&` is the match, `\0`..`\99` a group, `\&` and `\\`
//! themselves, `\n` `\t` `\r` `\f` `\v` `\a` `\b` control characters, `\L`
//! `\U` (lower/upper case until `\E`) and `\l` `\u` (the next character),
//! as in GNU tar.
//!
//! Differences from GNU tar 1.34, where its behaviour is a bug: with a
//! number flag it repeats the text before each skipped match
//! (`s/X/Y/2` turns `aXbXc` into `aaXbYc`; here `aXbYc`, as sed), and an
//! expression that matches the empty string with `g` (`s/x*/-/g`) loops
//! forever (here every position matches once, as in sed).

use std::borrow::Cow;

use regex::bytes::{Captures, Regex, RegexBuilder};

use crate::entry::{Entry, Kind};

/// Which names an expression applies to (GNU's `r`, `s`, `h` flags).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Scope {
    regular: bool,
    symlink: bool,
    hardlink: bool,
}

impl Scope {
    const ALL: Scope = Scope {
        regular: true,
        symlink: true,
        hardlink: true,
    };
    const NONE: Scope = Scope {
        regular: false,
        symlink: false,
        hardlink: false,
    };

    /// Apply one scope flag; false when `c` is not one.
    fn flag(&mut self, c: char) -> bool {
        match c {
            'r' | 'R' => self.regular = c == 'r',
            's' | 'S' => self.symlink = c == 's',
            'h' | 'H' => self.hardlink = c == 'h',
            _ => return false,
        }
        true
    }

    fn covers(self, t: Target) -> bool {
        match t {
            Target::Name => self.regular,
            Target::Symlink => self.symlink,
            Target::HardLink => self.hardlink,
        }
    }
}

/// What kind of name is transformed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A member's own name (of any type).
    Name,
    /// A symbolic link's target.
    Symlink,
    /// A hard link's target (the earlier member's name).
    HardLink,
}

/// Case conversion in a replacement (`\L`, `\U`, `\l`, `\u`, `\E`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Case {
    Stop,
    UpperNext,
    LowerNext,
    Upper,
    Lower,
}

/// A piece of a replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Group(usize),
    Case(Case),
}

/// One `s/REGEX/REPLACEMENT/FLAGS` expression.
#[derive(Clone, Debug)]
struct Expr {
    re: Regex,
    replacement: Vec<Piece>,
    global: bool,
    /// Replace from the Nth match on (0: from the first).
    nth: usize,
    scope: Scope,
}

/// A list of transform expressions, applied in order.
#[derive(Clone, Debug, Default)]
pub struct Transform {
    exprs: Vec<Expr>,
    /// The scope `flags=` set, for the expressions after it.
    scope: Option<Scope>,
}

impl Transform {
    /// Parse the arguments of every `--transform`, in order.
    ///
    /// # Errors
    /// A malformed expression, a regular expression that does not compile,
    /// an unknown flag, a group number larger than the number of groups.
    pub fn parse_all<S: AsRef<str>>(args: &[S]) -> Result<Transform, String> {
        let mut t = Transform::default();
        for a in args {
            t.push(a.as_ref())
                .map_err(|m| format!("--transform '{}': {m}", a.as_ref()))?;
        }
        Ok(t)
    }

    /// Add the expressions of one argument.
    ///
    /// # Errors
    /// As [`Transform::parse_all`].
    pub fn push(&mut self, arg: &str) -> Result<(), String> {
        let mut rest: Vec<char> = arg.chars().collect();
        while !rest.is_empty() {
            rest = self.push_one(&rest)?;
        }
        Ok(())
    }

    /// True when there is no expression.
    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    /// Parse the expression at the start of `s`; returns what follows it.
    fn push_one(&mut self, s: &[char]) -> Result<Vec<char>, String> {
        if s.first() != Some(&'s') {
            let flags: String = s.iter().take(6).collect();
            if flags != "flags=" {
                return Err("an expression is s/REGEX/REPLACEMENT/FLAGS or flags=SCOPE".into());
            }
            let mut scope = Scope::NONE;
            let mut i = 6;
            while i < s.len() && s[i] != ';' {
                if !scope.flag(s[i]) {
                    return Err(format!("unknown scope flag '{}' (r, R, s, S, h, H)", s[i]));
                }
                i += 1;
            }
            self.scope = Some(scope);
            return Ok(s[(i + 1).min(s.len())..].to_vec());
        }
        let delim = *s.get(1).ok_or("missing delimiter after 's'")?;
        let re_end = scan(s, 2, delim).ok_or("the regular expression is not terminated")?;
        let rep_end = scan(s, re_end + 1, delim).ok_or("the replacement is not terminated")?;
        let mut global = false;
        let (mut icase, mut extended) = (false, false);
        let mut nth = 0usize;
        let mut scope = self.scope.unwrap_or(Scope::ALL);
        let mut i = rep_end + 1;
        while i < s.len() && s[i] != ';' {
            match s[i] {
                'g' => global = true,
                'i' => icase = true,
                'x' => extended = true,
                c if c.is_ascii_digit() => {
                    let start = i;
                    while i + 1 < s.len() && s[i + 1].is_ascii_digit() {
                        i += 1;
                    }
                    let n: String = s[start..=i].iter().collect();
                    nth = n
                        .parse()
                        .map_err(|_| format!("match number {n} is too large"))?;
                }
                c if scope.flag(c) => {}
                c => return Err(format!("unknown flag '{c}'")),
            }
            i += 1;
        }
        let regex: String = s[2..re_end].iter().collect();
        let pattern = translate(&regex, extended)?;
        let re = RegexBuilder::new(&pattern)
            .case_insensitive(icase)
            .dot_matches_new_line(true)
            .build()
            .map_err(|e| format!("bad regular expression: {e}"))?;
        let groups = re.captures_len() - 1;
        let replacement = parse_replacement(&s[re_end + 1..rep_end], delim, groups)?;
        self.exprs.push(Expr {
            re,
            replacement,
            global,
            nth,
            scope,
        });
        Ok(s[(i + 1).min(s.len())..].to_vec())
    }

    /// `name` transformed by every expression whose scope covers `t`.
    pub(crate) fn apply<'a>(&self, name: &'a [u8], t: Target) -> Cow<'a, [u8]> {
        let mut cur = Cow::Borrowed(name);
        for x in self.exprs.iter().filter(|x| x.scope.covers(t)) {
            if let Some(v) = x.apply(&cur) {
                cur = Cow::Owned(v);
            }
        }
        cur
    }

    /// Transform an entry's link target (symlinks and hard links).
    pub(crate) fn apply_link(&self, e: &mut Entry) {
        let t = match e.kind {
            Kind::Symlink => Target::Symlink,
            Kind::HardLink => Target::HardLink,
            _ => return,
        };
        if let Some(l) = &e.link
            && let Cow::Owned(v) = self.apply(l, t)
        {
            e.link = Some(v);
        }
    }

    /// Transform an entry's name and link target.
    pub(crate) fn apply_entry(&self, e: &mut Entry) {
        if let Cow::Owned(v) = self.apply(&e.path, Target::Name) {
            e.path = v;
        }
        self.apply_link(e);
    }
}

/// The index of the first unescaped `delim` at or after `from`.
fn scan(s: &[char], from: usize, delim: char) -> Option<usize> {
    let mut i = from;
    while i < s.len() {
        if s[i] == delim {
            return Some(i);
        }
        if s[i] == '\\' && i + 1 < s.len() {
            i += 1;
        }
        i += 1;
    }
    None
}

/// A POSIX regular expression (basic, or extended with `extended`) in the
/// `regex` crate's syntax.
fn translate(re: &str, extended: bool) -> Result<String, String> {
    let c: Vec<char> = re.chars().collect();
    let mut out = String::with_capacity(re.len() + 8);
    // Where `*` is literal and `^` an anchor: at the start, after an opening
    // group or an alternation (and after a leading `^`).
    let mut at_start = true;
    let mut i = 0;
    while i < c.len() {
        let start = at_start;
        at_start = false;
        match c[i] {
            '\\' if i + 1 < c.len() => {
                i += 1;
                let (s, opens) = escape(c[i], extended)?;
                out.push_str(&s);
                at_start = opens;
            }
            '\\' => return Err("trailing backslash".into()),
            '[' => i = bracket(&c, i, &mut out)?,
            '*' if start => out.push_str(r"\*"),
            '^' if start || extended => {
                out.push('^');
                at_start = true;
            }
            '$' if extended || i + 1 == c.len() || closes_group(&c[i + 1..]) => out.push('$'),
            '(' | '|' if extended => {
                out.push(c[i]);
                at_start = true;
            }
            ')' | '{' | '}' | '+' | '?' if extended => out.push(c[i]),
            '.' => out.push('.'),
            '*' => out.push('*'),
            ch => out.push_str(&regex::escape(ch.encode_utf8(&mut [0; 4]))),
        }
        i += 1;
    }
    Ok(out)
}

/// Does a BRE `$` stand before `\)` or `\|` (where it is an anchor)?
fn closes_group(rest: &[char]) -> bool {
    rest.len() >= 2 && rest[0] == '\\' && (rest[1] == ')' || rest[1] == '|')
}

/// `\c` in the `regex` crate's syntax, and whether it opens a group or an
/// alternative (after which `*` is literal).
fn escape(c: char, extended: bool) -> Result<(String, bool), String> {
    let op = |s: &str, opens: bool| Ok((s.to_string(), opens));
    match c {
        '(' | '|' if !extended => op(&c.to_string(), true),
        ')' | '{' | '}' | '+' | '?' if !extended => op(&c.to_string(), false),
        '1'..='9' => Err(format!(
            "back-references in the regular expression (\\{c}) are not supported"
        )),
        '<' => op(r"\b{start}", false),
        '>' => op(r"\b{end}", false),
        'b' | 'B' | 'w' | 'W' | 's' | 'S' => op(&format!("\\{c}"), false),
        '`' => op(r"\A", false),
        '\'' => op(r"\z", false),
        _ => op(&regex::escape(c.encode_utf8(&mut [0; 4])), false),
    }
}

/// Translate the bracket expression opening at `c[open]`; returns the index
/// of its closing `]`.
fn bracket(c: &[char], open: usize, out: &mut String) -> Result<usize, String> {
    let mut i = open + 1;
    out.push('[');
    if c.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let first = i;
    loop {
        let Some(&ch) = c.get(i) else {
            return Err("unterminated bracket expression '['".into());
        };
        match ch {
            ']' if i > first => {
                out.push(']');
                return Ok(i);
            }
            '[' if matches!(c.get(i + 1), Some(':' | '=' | '.')) => {
                let kind = c[i + 1];
                let end = (i + 2..c.len().saturating_sub(1))
                    .find(|&j| c[j] == kind && c[j + 1] == ']')
                    .ok_or("unterminated [: :], [= =] or [. .] in a bracket expression")?;
                let inner: String = c[i + 2..end].iter().collect();
                if kind == ':' {
                    out.push_str(&format!("[:{inner}:]"));
                } else {
                    for ch in inner.chars() {
                        push_class_char(ch, out);
                    }
                }
                i = end + 1;
            }
            // A range operator stays one; a `-` first or last is literal.
            '-' if i > first && c.get(i + 1).is_some_and(|&n| n != ']') => out.push('-'),
            _ => push_class_char(ch, out),
        }
        i += 1;
    }
}

/// A literal character inside a class, escaped where the `regex` crate
/// gives it a meaning there (`\`, `[`, `]`, `^`, `-`, and the set
/// operators `&&`, `~~`).
fn push_class_char(ch: char, out: &mut String) {
    if matches!(ch, '\\' | '[' | ']' | '^' | '-' | '&' | '~') {
        out.push('\\');
    }
    out.push(ch);
}

/// Parse a replacement; `groups` is the number of groups in the regex.
fn parse_replacement(s: &[char], delim: char, groups: usize) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, out: &mut Vec<Piece>| {
        if !lit.is_empty() {
            out.push(Piece::Literal(std::mem::take(lit).into_bytes()));
        }
    };
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == '&' {
            flush(&mut lit, &mut out);
            out.push(Piece::Group(0));
        } else if c == '\\' && i + 1 < s.len() {
            i += 1;
            let e = s[i];
            let case = match e {
                'L' => Some(Case::Lower),
                'U' => Some(Case::Upper),
                'l' => Some(Case::LowerNext),
                'u' => Some(Case::UpperNext),
                'E' => Some(Case::Stop),
                _ => None,
            };
            if e.is_ascii_digit() {
                let start = i;
                while i + 1 < s.len() && s[i + 1].is_ascii_digit() {
                    i += 1;
                }
                let n: usize = s[start..=i]
                    .iter()
                    .collect::<String>()
                    .parse()
                    .unwrap_or(usize::MAX);
                if n > groups {
                    return Err(format!(
                        "the replacement refers to group {n}; the expression has {groups}"
                    ));
                }
                flush(&mut lit, &mut out);
                out.push(Piece::Group(n));
            } else if let Some(k) = case {
                flush(&mut lit, &mut out);
                out.push(Piece::Case(k));
            } else {
                match e {
                    'a' => lit.push('\x07'),
                    'b' => lit.push('\x08'),
                    'f' => lit.push('\x0c'),
                    'n' => lit.push('\n'),
                    'r' => lit.push('\r'),
                    't' => lit.push('\t'),
                    'v' => lit.push('\x0b'),
                    '\\' | '&' => lit.push(e),
                    _ if e == delim => lit.push(e),
                    _ => {
                        lit.push('\\');
                        lit.push(e);
                    }
                }
            }
        } else {
            lit.push(c);
        }
        i += 1;
    }
    flush(&mut lit, &mut out);
    Ok(out)
}

/// The case state while a replacement is written out (GNU tar's rules:
/// `\u`/`\l` apply to the next piece written, then the `\U`/`\L` state
/// before them resumes).
struct CaseState {
    cur: Case,
    saved: Case,
}

impl CaseState {
    fn set(&mut self, k: Case) {
        if matches!(k, Case::UpperNext | Case::LowerNext)
            && matches!(self.saved, Case::Stop | Case::Upper | Case::Lower)
        {
            self.saved = self.cur;
        }
        self.cur = k;
    }

    fn write(&mut self, text: &[u8], out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(text);
        let written = &mut out[at..];
        match self.cur {
            Case::Stop => return,
            Case::Upper => written.make_ascii_uppercase(),
            Case::Lower => written.make_ascii_lowercase(),
            Case::UpperNext => {
                if let Some(b) = written.first_mut() {
                    b.make_ascii_uppercase();
                }
            }
            Case::LowerNext => {
                if let Some(b) = written.first_mut() {
                    b.make_ascii_lowercase();
                }
            }
        }
        if matches!(self.cur, Case::UpperNext | Case::LowerNext) {
            self.cur = self.saved;
            self.saved = Case::Stop;
        }
    }
}

impl Expr {
    /// `name` transformed, or `None` when nothing matched.
    fn apply(&self, name: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut case = CaseState {
            cur: Case::Stop,
            saved: Case::Stop,
        };
        let mut last = 0;
        let mut replaced = false;
        for (n, caps) in self.re.captures_iter(name).enumerate() {
            if n + 1 < self.nth {
                continue;
            }
            if replaced && !self.global {
                break;
            }
            let m = caps.get(0).expect("group 0 always matches");
            out.extend_from_slice(&name[last..m.start()]);
            self.expand(&caps, &mut case, &mut out);
            last = m.end();
            replaced = true;
        }
        if !replaced {
            return None;
        }
        out.extend_from_slice(&name[last..]);
        Some(out)
    }

    fn expand(&self, caps: &Captures, case: &mut CaseState, out: &mut Vec<u8>) {
        for p in &self.replacement {
            match p {
                Piece::Literal(l) => case.write(l, out),
                Piece::Group(g) => {
                    if let Some(m) = caps.get(*g) {
                        case.write(m.as_bytes(), out);
                    }
                }
                Piece::Case(k) => case.set(*k),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(expr: &str, name: &str) -> String {
        let x = Transform::parse_all(&[expr]).unwrap_or_else(|e| panic!("{expr}: {e}"));
        String::from_utf8(x.apply(name.as_bytes(), Target::Name).into_owned()).unwrap()
    }

    /// Expected results checked against GNU tar 1.34 (`tar cf - --transform
    /// EXPR NAME | tar tf -`), except where noted.
    #[test]
    fn table() {
        let cases = [
            ("s,^a,b,", "abc", "bbc"),
            ("s,^a,b,", "cab", "cab"),
            ("s/X/Y/", "aXbXcXd", "aYbXcXd"),
            ("s/X/Y/g", "aXbXcXd", "aYbYcYd"),
            // GNU 1.34: "aaXbYcXd" and "aaXbYcYd" (it repeats the prefix).
            ("s/X/Y/2", "aXbXcXd", "aXbYcXd"),
            ("s/X/Y/2g", "aXbXcXd", "aXbYcYd"),
            (r"s/\(X\)\(b\)/<\2\1>/", "aXbXcXd", "a<bX>XcXd"),
            ("s/x*/-/", "xyz", "-yz"),
            ("s/x*/-/", "ABC", "-ABC"),
            (r"s/B/\L&\E-\uq/", "ABC", "Ab-QC"),
            (r"s/X\|c/_/g", "aXbXcXd", "a_b___d"),
            (r"s/a\+/A/", "aaXb", "AXb"),
            (r"s/[[:upper:]]\{2\}/&&/", "ABC", "ABABC"),
            ("s/X/(&)/x", "aXb", "a(X)b"),
            ("s/(X)b/[\\1]/x", "aXbXc", "a[X]Xc"),
            ("s/X{1}/{}/x", "aXbX", "a{}bX"),
            ("s/Z*$/!/", "xyz", "xyz!"),
            ("s/a/b/;s/b/c/", "aXb", "cXb"),
            ("s/(a+)/<&>/", "(a+)x", "<(a+)>x"),
            ("s/a|b/X/", "a|b", "X"),
            ("s/a.c/X/", "abc", "X"),
            ("s/a\\.c/X/", "abc", "abc"),
            ("s/[.]/_/g", "a.b.c", "a_b_c"),
            ("s,[^/]*$,F,", "d/e/f", "d/e/F"),
            ("s/[]a]/_/g", "]ab", "__b"),
            ("s/[a-c]/_/g", "abcd", "___d"),
            ("s/[a-]/_/g", "a-b", "__b"),
            ("s/[\\]/_/", "a\\b", "a_b"),
            ("s/*a/_/", "*ab", "_b"),
            ("s/\\(*a\\)/_/", "*ab", "_b"),
            ("s/^*a/_/", "*ab", "_b"),
            ("s/a^b/_/", "a^b", "_"),
            ("s/a$b/_/", "a$b", "_"),
            ("s/ABC/x/i", "xabcx", "xxx"),
            ("s/\\<b/B/g", "ab b", "ab B"),
            ("s|a\\|b|X|g", "abc", "XXc"),
            ("s,a\\,b,X,", "a,b", "X"),
            ("s,x,a\\,b,", "x", "a,b"),
            ("s/x/\\&\\\\/", "x", "&\\"),
            ("s/x/a\\qb/", "x", "a\\qb"),
            (r"s/\(.\)\(.\)/\U\1\E\2/", "ab", "Ab"),
            (r"s/.*/\U&/", "abc", "ABC"),
            // GNU tar: `\L` after `\u` replaces it (sed would say "Hello").
            (r"s/.*/\u\L&/", "hELLO", "hello"),
            (r"s/.*/\L\u&/", "hELLO", "HELLO"),
            ("s/./X/3", "abcd", "abXd"),
            ("s/b*/-/g", "abc", "-a-c-"),
            ("s/x/y/;", "x", "y"),
            ("s/é/e/", "café", "cafe"),
            ("s/./X/", "é", "X"),
        ];
        for (expr, name, want) in cases {
            assert_eq!(t(expr, name), want, "{expr} on {name}");
        }
    }

    #[test]
    fn scopes() {
        let x = Transform::parse_all(&["s,a,X,S"]).unwrap();
        assert_eq!(&*x.apply(b"a", Target::Name), b"X");
        assert_eq!(&*x.apply(b"a", Target::Symlink), b"a");
        assert_eq!(&*x.apply(b"a", Target::HardLink), b"X");
        let x = Transform::parse_all(&["s,a,X,H"]).unwrap();
        assert_eq!(&*x.apply(b"a", Target::HardLink), b"a");
        assert_eq!(&*x.apply(b"a", Target::Symlink), b"X");
        let x = Transform::parse_all(&["s,a,X,R"]).unwrap();
        assert_eq!(&*x.apply(b"a", Target::Name), b"a");
        // flags= resets the default scope for what follows, in later
        // arguments too (GNU: "flags=S;s/a/b/" applies to nothing).
        let x = Transform::parse_all(&["flags=S;s/a/b/"]).unwrap();
        assert_eq!(&*x.apply(b"a", Target::Name), b"a");
        let x = Transform::parse_all(&["flags=rh", "s/a/b/"]).unwrap();
        assert_eq!(&*x.apply(b"a", Target::Name), b"b");
        assert_eq!(&*x.apply(b"a", Target::HardLink), b"b");
        assert_eq!(&*x.apply(b"a", Target::Symlink), b"a");
        let x = Transform::parse_all(&["flags=r;s/a/b/s"]).unwrap();
        assert_eq!(&*x.apply(b"a", Target::Symlink), b"b");
    }

    #[test]
    fn entries() {
        let x = Transform::parse_all(&["s,^a,b,"]).unwrap();
        let mut e = Entry::new(b"a/x".to_vec(), Kind::Symlink);
        e.link = Some(b"a/y".to_vec());
        x.apply_entry(&mut e);
        assert_eq!(e.path, b"b/x");
        assert_eq!(e.link.as_deref(), Some(&b"b/y"[..]));
        let mut f = Entry::new(b"c".to_vec(), Kind::File);
        x.apply_entry(&mut f);
        assert_eq!(f.path, b"c");
        assert!(f.link.is_none());
    }

    #[test]
    fn non_utf8_names() {
        let x = Transform::parse_all(&["s,^a,b,"]).unwrap();
        assert_eq!(&*x.apply(b"a\xff", Target::Name), b"b\xff");
    }

    #[test]
    fn errors() {
        for (expr, part) in [
            ("y/a/b/", "s/REGEX/REPLACEMENT/FLAGS"),
            ("s", "delimiter"),
            ("s/a", "not terminated"),
            ("s/a/b", "not terminated"),
            ("s/a/b/q", "unknown flag 'q'"),
            ("s/a/\\1/", "group 1"),
            (r"s/\(a\)\1/x/", "back-references"),
            ("s/[a/x/", "bracket"),
            ("s/a\\{2/x/", "bad regular expression"),
            ("flags=q", "unknown scope flag"),
            ("s/a/b/;;s/c/d/", "s/REGEX/REPLACEMENT/FLAGS"),
        ] {
            let e = Transform::parse_all(&[expr]).expect_err(expr);
            assert!(e.contains(part), "{expr}: {e}");
            assert!(e.contains(expr), "{expr}: {e}");
        }
    }
}
