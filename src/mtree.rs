//! mtree specs in bsdtar's dialect: the writer used by the `manifest` sink
//! and the parser used by `create --from-manifest`.
//!
//! A spec starts with `#mtree`; each line is a path (octal `\ooo` escapes,
//! full paths starting with `./`) and `keyword=value` pairs: `type`, `uid`,
//! `gid`, `uname`, `gname`, `mode`, `size`, `time` (`SECONDS.NANOSECONDS`),
//! `link`, `device=native,MAJOR,MINOR`. `/set` and `/unset` set defaults.
//! `bsdtar -cf out.tar @spec` run in the tree rebuilds an archive from it.

use crate::entry::{Entry, Kind, Time};

/// Escape a path or link target the way bsdtar does: bytes outside
/// `!`..`~`, and `\`, `#`, `=`, as `\ooo`.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if (0x21..=0x7e).contains(&c) && !matches!(c, b'\\' | b'#' | b'=') {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\{c:03o}"));
        }
    }
    s
}

/// Undo [`escape`] (and the C escapes `\s \t \n \r \a \b \f \v \\ \0`).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let rest = &b[i + 1..];
            if rest.len() >= 3 && rest[..3].iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (u32::from(rest[0] - b'0') << 6)
                    | (u32::from(rest[1] - b'0') << 3)
                    | u32::from(rest[2] - b'0');
                out.push(v as u8);
                i += 4;
                continue;
            }
            let c = match rest[0] {
                b's' => Some(b' '),
                b't' => Some(b'\t'),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b'a' => Some(7),
                b'b' => Some(8),
                b'f' => Some(12),
                b'v' => Some(11),
                b'\\' => Some(b'\\'),
                b'0' => Some(0),
                _ => None,
            };
            if let Some(c) = c {
                out.push(c);
                i += 2;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The mtree line for an entry (owners as given: the caller passes the
/// context view). Hard links are written as `type=file`.
pub fn line(e: &Entry) -> String {
    let mut p = e.path.clone();
    while p.starts_with(b"./") {
        p.drain(..2);
    }
    while p.starts_with(b"/") {
        p.remove(0);
    }
    let mut path = String::from(".");
    if !p.is_empty() && p != b"." {
        path.push('/');
        path.push_str(&escape(&p));
    }
    let ty = match e.kind {
        Kind::File | Kind::HardLink => "file",
        Kind::Dir => "dir",
        Kind::Symlink => "link",
        Kind::Char => "char",
        Kind::Block => "block",
        Kind::Fifo => "fifo",
    };
    let mut s = format!("{path} type={ty} uid={} gid={}", e.uid, e.gid);
    if let Some(u) = &e.uname {
        s.push_str(&format!(" uname={}", escape(u)));
    }
    if let Some(g) = &e.gname {
        s.push_str(&format!(" gname={}", escape(g)));
    }
    s.push_str(&format!(" mode={:04o}", e.mode & 0o7777));
    if matches!(e.kind, Kind::File | Kind::HardLink) {
        s.push_str(&format!(" size={}", e.size));
    }
    s.push_str(&format!(" time={}.{:09}", e.mtime.sec, e.mtime.nsec));
    if e.kind == Kind::Symlink {
        s.push_str(&format!(
            " link={}",
            escape(e.link.as_deref().unwrap_or(b""))
        ));
    }
    if e.kind.is_device() {
        s.push_str(&format!(" device=native,{},{}", e.dev_major, e.dev_minor));
    }
    s
}

/// One path's specification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// The path, without `./`.
    pub path: Vec<u8>,
    /// `type`.
    pub kind: Option<Kind>,
    /// `uid`.
    pub uid: Option<u32>,
    /// `gid`.
    pub gid: Option<u32>,
    /// `uname`.
    pub uname: Option<Vec<u8>>,
    /// `gname`.
    pub gname: Option<Vec<u8>>,
    /// `mode`.
    pub mode: Option<u32>,
    /// `time`.
    pub time: Option<Time>,
    /// `link`.
    pub link: Option<Vec<u8>>,
    /// `device`.
    pub device: Option<(u32, u32)>,
    /// `size`.
    pub size: Option<u64>,
}

fn apply(spec: &mut Spec, kw: &str, val: Option<&str>, lineno: usize) -> Result<(), String> {
    let bad = |what: &str| format!("line {lineno}: bad {what} '{}'", val.unwrap_or(""));
    let v = match val {
        Some(v) => v,
        None => return Ok(()), // keywords without values (e.g. `nochange`) carry no metadata we use
    };
    match kw {
        "type" => {
            spec.kind = Some(match v {
                "file" => Kind::File,
                "dir" => Kind::Dir,
                "link" => Kind::Symlink,
                "char" => Kind::Char,
                "block" => Kind::Block,
                "fifo" => Kind::Fifo,
                _ => return Err(bad("type")),
            })
        }
        "uid" => spec.uid = Some(v.parse().map_err(|_| bad("uid"))?),
        "gid" => spec.gid = Some(v.parse().map_err(|_| bad("gid"))?),
        "uname" => spec.uname = Some(unescape(v)),
        "gname" => spec.gname = Some(unescape(v)),
        "mode" => {
            let m = u32::from_str_radix(v, 8).map_err(|_| bad("mode (octal expected)"))?;
            if m > 0o7777 {
                return Err(bad("mode"));
            }
            spec.mode = Some(m)
        }
        "size" => spec.size = Some(v.parse().map_err(|_| bad("size"))?),
        "time" => {
            let (s, n) = v.split_once('.').unwrap_or((v, "0"));
            let sec: i64 = s.parse().map_err(|_| bad("time"))?;
            let nsec: u32 = n.parse().map_err(|_| bad("time"))?;
            if nsec >= 1_000_000_000 {
                return Err(bad("time"));
            }
            spec.time = Some(Time { sec, nsec })
        }
        "link" => spec.link = Some(unescape(v)),
        "device" => {
            let parts: Vec<&str> = v.split(',').collect();
            let (a, b) = match parts.as_slice() {
                [_, a, b] | [a, b] => (a, b),
                _ => return Err(bad("device (expected native,MAJOR,MINOR)")),
            };
            spec.device = Some((
                a.parse().map_err(|_| bad("device"))?,
                b.parse().map_err(|_| bad("device"))?,
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Parse a spec. Later lines for the same path override earlier ones.
///
/// # Errors
/// The first malformed line, by number.
pub fn parse(text: &str) -> Result<Vec<Spec>, String> {
    let mut p = Parser::default();
    logical_lines(text, |n, line| p.line(line, n))?;
    Ok(p.out)
}

/// Call `f` with each line of `text`, `\`-continued lines joined, trimmed,
/// and the number of its first line.
fn logical_lines(
    text: &str,
    mut f: impl FnMut(usize, &str) -> Result<(), String>,
) -> Result<(), String> {
    let mut logical = String::new();
    let mut start_line = 0;
    for (n, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start_line = n + 1;
        }
        if let Some(stripped) = raw.strip_suffix('\\')
            && !stripped.ends_with('\\')
        {
            logical.push_str(stripped);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        f(start_line, logical.trim())?;
        logical.clear();
    }
    Ok(())
}

/// A `keyword=value` word (a keyword alone has no value).
fn keyword(w: &str) -> (&str, Option<&str>) {
    w.split_once('=').map_or((w, None), |(k, v)| (k, Some(v)))
}

/// What a spec's lines have set up so far.
#[derive(Default)]
struct Parser {
    out: Vec<Spec>,
    /// Position of each path in `out` (a linear search is quadratic in the
    /// spec's length).
    index: std::collections::HashMap<Vec<u8>, usize>,
    /// What `/set` gave.
    defaults: Spec,
    /// The directory relative names are in (the directories named so far,
    /// less those `..` left).
    cwd: Vec<Vec<u8>>,
}

impl Parser {
    /// Take one logical line, number `lineno`.
    fn line(&mut self, line: &str, lineno: usize) -> Result<(), String> {
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut words = line.split_whitespace();
        let first = words.next().expect("non-empty");
        match first {
            "/set" => {
                for w in words {
                    let (k, v) = keyword(w);
                    apply(&mut self.defaults, k, v, lineno)?;
                }
            }
            "/unset" => words.for_each(|w| self.unset(w)),
            ".." => {
                self.cwd.pop();
            }
            _ => self.entry(first, words, lineno)?,
        }
        Ok(())
    }

    /// `/unset` of one keyword.
    fn unset(&mut self, w: &str) {
        let d = &mut self.defaults;
        match w {
            "all" => *d = Spec::default(),
            "type" => d.kind = None,
            "uid" => d.uid = None,
            "gid" => d.gid = None,
            "uname" => d.uname = None,
            "gname" => d.gname = None,
            "mode" => d.mode = None,
            "time" => d.time = None,
            _ => {}
        }
    }

    /// An entry line: the path `first`, then its keywords.
    fn entry<'l>(
        &mut self,
        first: &str,
        words: impl Iterator<Item = &'l str>,
        lineno: usize,
    ) -> Result<(), String> {
        let name = unescape(first);
        let full = name.contains(&b'/');
        let path = self.path_of(&name, full);
        let mut spec = self.defaults.clone();
        spec.path = path.clone();
        for w in words {
            let (k, v) = keyword(w);
            apply(&mut spec, k, v, lineno)?;
        }
        if !full && spec.kind == Some(Kind::Dir) && name != b"." {
            self.cwd.push(name);
        }
        match self.index.get(&path) {
            Some(&i) => self.out[i] = spec,
            None => {
                self.index.insert(path, self.out.len());
                self.out.push(spec);
            }
        }
        Ok(())
    }

    /// The path of the entry `name` (`full`: a path from the top, else a
    /// name in the current directory), without leading `./`.
    fn path_of(&self, name: &[u8], full: bool) -> Vec<u8> {
        let mut path: Vec<u8> = if full {
            name.to_vec()
        } else {
            let mut p = self.cwd.join(&b'/');
            if !p.is_empty() {
                p.push(b'/');
            }
            p.extend_from_slice(name);
            p
        };
        while path.starts_with(b"./") {
            path.drain(..2);
        }
        if path == b"." {
            path.clear();
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_roundtrip() {
        for s in [
            &b"plain/name.txt"[..],
            b"with space",
            b"tab\there",
            b"back\\slash#hash=eq",
            "ünï".as_bytes(),
        ] {
            let e = escape(s);
            assert!(!e.contains(' '));
            assert_eq!(unescape(&e), s, "{e}");
        }
        assert_eq!(escape(b"a b"), "a\\040b");
        assert_eq!(unescape("a\\sb"), b"a b");
    }

    #[test]
    fn parse_spec() {
        let text = "#mtree\n/set type=file uid=0 gid=0 mode=0644\n\
            ./etc/shadow uid=0 gid=42 mode=0640\n\
            ./usr/bin/su mode=4755\n\
            ./dev/null type=char mode=0666 device=native,1,3\n\
            ./bin type=link link=usr/bin \\\n    time=1700000000.000000005\n\
            ./a\\040b type=dir\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(
            (s[0].path.as_slice(), s[0].uid, s[0].gid, s[0].mode),
            (&b"etc/shadow"[..], Some(0), Some(42), Some(0o640))
        );
        assert_eq!(s[1].mode, Some(0o4755));
        assert_eq!((s[2].kind, s[2].device), (Some(Kind::Char), Some((1, 3))));
        assert_eq!(
            (s[3].kind, s[3].link.as_deref(), s[3].time),
            (
                Some(Kind::Symlink),
                Some(&b"usr/bin"[..]),
                Some(Time {
                    sec: 1700000000,
                    nsec: 5
                })
            )
        );
        assert_eq!(s[4].path, b"a b");
        assert!(parse("./x mode=999\n").unwrap_err().contains("line 1"));
        assert!(parse("./x type=door\n").is_err());
        // A later line for the same path replaces the earlier one, in place.
        let s = parse("./a mode=0600\n./b mode=0600\n./a mode=0644\n").unwrap();
        assert_eq!(
            s.iter()
                .map(|x| (x.path.clone(), x.mode))
                .collect::<Vec<_>>(),
            vec![(b"a".to_vec(), Some(0o644)), (b"b".to_vec(), Some(0o600))]
        );
    }

    #[test]
    fn many_lines_parse_in_linear_time() {
        let mut text = String::from("#mtree\n");
        for i in 0..100_000 {
            text.push_str(&format!("./d/f{i} type=file mode=0644\n"));
        }
        let start = std::time::Instant::now();
        assert_eq!(parse(&text).unwrap().len(), 100_000);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn line_format() {
        let mut e = Entry::new("./dev/null", Kind::Char);
        e.mode = 0o666;
        e.dev_major = 1;
        e.dev_minor = 3;
        e.mtime = Time { sec: 5, nsec: 7 };
        assert_eq!(
            line(&e),
            "./dev/null type=char uid=0 gid=0 mode=0666 time=5.000000007 device=native,1,3"
        );
        let back = parse(&line(&e)).unwrap();
        assert_eq!(
            (back[0].kind, back[0].device, back[0].time),
            (Some(Kind::Char), Some((1, 3)), Some(e.mtime))
        );
    }
}
