//! Mode changes as `chmod` and GNU tar's `--mode` take them: octal
//! (`0644`) or symbolic (`u+rwX,go-w`, `a=r`, `g=u`, `+t`), applied to a
//! mode with the rules of GNU's `mode_adjust`.
//!
//! One difference: a change that names no one (`+x`, `=r`) applies to
//! all of u, g and o, as if the umask were 0. GNU tar and chmod mask it
//! with the process's umask; an archive must not depend on the umask of
//! the shell that made it.

const SETUID: u32 = 0o4000;
const SETGID: u32 = 0o2000;
const STICKY: u32 = 0o1000;
const ALL: u32 = 0o7777;
const EXEC: u32 = 0o111;

/// A list of mode changes, applied in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeChanges(Vec<Change>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Set,
    Add,
    Remove,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    /// These bits; with `X`, the execute bits too when some execute bit
    /// is set already or the file is a directory.
    Bits { bits: u32, x_if_any: bool },
    /// The current bits of u, g or o (the mask of their `rwx`), copied to
    /// every class.
    Copy(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Change {
    op: Op,
    value: Value,
    /// The bits this change may touch (who: u, g, o or all).
    affected: u32,
    /// The bits written out: a directory keeps its setuid and setgid bits
    /// unless the change mentions them.
    mentioned: u32,
}

impl ModeChanges {
    /// Parse an octal mode or comma-separated symbolic changes
    /// `[ugoa]*([-+=]([rwxXst]*|[ugo]|[0-7]+))+`.
    ///
    /// # Errors
    /// Anything else, with a message saying what is accepted.
    pub fn parse(s: &str) -> Result<ModeChanges, String> {
        let bad = || {
            format!(
                "invalid mode {s:?}: give an octal mode (0644) or symbolic changes \
                 as chmod takes them (u+rwX,go-w)"
            )
        };
        if s.starts_with(|c: char| c.is_digit(8)) {
            let (bits, len) = octal(s.as_bytes()).ok_or_else(bad)?;
            if len != s.len() {
                return Err(bad());
            }
            // As GNU: up to 4 digits leave a directory's setuid/setgid bits
            // alone unless they are set.
            let mentioned = if len < 5 {
                (bits & (SETUID | SETGID)) | STICKY | 0o777
            } else {
                ALL
            };
            return Ok(ModeChanges(vec![Change {
                op: Op::Set,
                value: Value::Bits {
                    bits,
                    x_if_any: false,
                },
                affected: ALL,
                mentioned,
            }]));
        }
        let mut changes = Vec::new();
        for clause in s.split(',') {
            parse_clause(clause.as_bytes(), &mut changes).ok_or_else(bad)?;
        }
        Ok(ModeChanges(changes))
    }

    /// `mode` (permission bits) with the changes applied; `dir` when the
    /// file is a directory.
    pub fn apply(&self, mode: u32, dir: bool) -> u32 {
        let mut m = mode & ALL;
        for c in &self.0 {
            let omit = if dir {
                (SETUID | SETGID) & !c.mentioned
            } else {
                0
            };
            let mut v = match c.value {
                Value::Bits { bits, x_if_any } => {
                    let x = x_if_any && (m & EXEC != 0 || dir);
                    bits | if x { EXEC } else { 0 }
                }
                Value::Copy(mask) => spread(m & mask),
            };
            v &= c.affected & !omit;
            m = match c.op {
                Op::Set => (m & (!c.affected | omit) & ALL) | v,
                Op::Add => m | v,
                Op::Remove => m & !v,
            };
        }
        m
    }
}

/// Octal digits at the start of `b`, at most `07777`: the value and how
/// many digits.
fn octal(b: &[u8]) -> Option<(u32, usize)> {
    let len = b.iter().take_while(|c| (b'0'..=b'7').contains(c)).count();
    let mut v = 0u32;
    for &c in &b[..len] {
        v = v * 8 + u32::from(c - b'0');
        if v > ALL {
            return None;
        }
    }
    (len > 0).then_some((v, len))
}

/// Bits of one class (`rwx` of u, g or o) as the same bits of all three.
fn spread(bits: u32) -> u32 {
    [0o444, 0o222, 0o111]
        .into_iter()
        .filter(|class| bits & class != 0)
        .fold(bits, |acc, class| acc | class)
}

/// One clause: who, then one or more operations.
fn parse_clause(b: &[u8], out: &mut Vec<Change>) -> Option<()> {
    let who_len = b
        .iter()
        .take_while(|c| matches!(c, b'u' | b'g' | b'o' | b'a'))
        .count();
    let affected = b[..who_len].iter().fold(0, |acc, c| {
        acc | match c {
            b'u' => SETUID | 0o700,
            b'g' => SETGID | 0o070,
            b'o' => STICKY | 0o007,
            _ => ALL,
        }
    });
    let mut rest = &b[who_len..];
    if rest.is_empty() {
        return None;
    }
    while let Some((&opc, after)) = rest.split_first() {
        let op = match opc {
            b'=' => Op::Set,
            b'+' => Op::Add,
            b'-' => Op::Remove,
            _ => return None,
        };
        let (change, used) = parse_value(op, after, affected, who_len == 0)?;
        out.push(change);
        rest = &after[used..];
    }
    Some(())
}

/// What follows an operator: octal digits (only without who, and to the end
/// of the clause), one of `ugo` (copy), or `[rwxXst]*`. Returns the change
/// and the bytes used.
fn parse_value(op: Op, b: &[u8], who: u32, no_who: bool) -> Option<(Change, usize)> {
    // No who: every class, as with a umask of 0 (see the module's docs).
    let affected = if no_who { ALL } else { who };
    if let Some((bits, len)) = octal(b) {
        if !no_who || len != b.len() {
            return None;
        }
        let value = Value::Bits {
            bits,
            x_if_any: false,
        };
        return Some((change(op, value, ALL, ALL), len));
    }
    let copy = match b.first() {
        Some(b'u') => Some(0o700),
        Some(b'g') => Some(0o070),
        Some(b'o') => Some(0o007),
        _ => None,
    };
    if let Some(mask) = copy {
        return Some((change(op, Value::Copy(mask), affected, affected & mask), 1));
    }
    let (mut bits, mut x_if_any, mut used) = (0, false, 0);
    for &c in b {
        match c {
            b'r' => bits |= 0o444,
            b'w' => bits |= 0o222,
            b'x' => bits |= EXEC,
            b'X' => x_if_any = true,
            b's' => bits |= SETUID | SETGID,
            b't' => bits |= STICKY,
            _ => break,
        }
        used += 1;
    }
    let value = Value::Bits { bits, x_if_any };
    Some((change(op, value, affected, affected & bits), used))
}

fn change(op: Op, value: Value, affected: u32, mentioned: u32) -> Change {
    Change {
        op,
        value,
        affected,
        mentioned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (changes, mode before, directory, mode after): what GNU chmod gives
    /// with a umask of 0.
    #[test]
    fn changes_as_chmod_makes_them() {
        for (spec, before, dir, after) in [
            ("0644", 0o4755, false, 0o644),
            ("644", 0o2755, true, 0o2644),
            ("00644", 0o2755, true, 0o644),
            ("u+rwX,go-w", 0o600, false, 0o600),
            ("u+rwX,go-w", 0o640, true, 0o740),
            ("u+rwX,go-w", 0o666, false, 0o644),
            ("a+rX", 0o600, false, 0o644),
            ("a+rX", 0o700, false, 0o755),
            ("go=", 0o4777, false, 0o4700),
            ("u-s", 0o4755, false, 0o755),
            ("g+s", 0o755, true, 0o2755),
            ("+t", 0o777, true, 0o1777),
            ("=r", 0o777, false, 0o444),
            ("g=u", 0o750, false, 0o770),
            ("o=g,u-x", 0o751, false, 0o655),
            ("u=rw,g=r,o=", 0o7777, false, 0o640),
            ("=755", 0o4700, false, 0o755),
            ("a-w+x", 0o666, false, 0o555),
            ("u=rwx,g=rx,o=rx", 0o2700, true, 0o2755),
        ] {
            let c = ModeChanges::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(
                format!("{:o}", c.apply(before, dir)),
                format!("{after:o}"),
                "{spec} on {before:o} (dir {dir})"
            );
        }
    }

    #[test]
    fn bad_changes_are_refused() {
        for bad in [
            "", "8", "0o644", "17777", "u", "u+q", "u+rw,", ",u+r", "u=755", "+7a", "x+r",
        ] {
            let e = ModeChanges::parse(bad).unwrap_err();
            assert!(e.contains("invalid mode"), "{bad}: {e}");
        }
    }
}
