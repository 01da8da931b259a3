//! GNU tar's bundled first word: `alientar cvf a.tar dir`, `alientar xf
//! a.tar`, `alientar -tvf a.tar`, rewritten into the long form before the
//! command line is parsed.
//!
//! The first argument is taken as a bundle when it is not a command's name
//! and is letters only (after one optional `-`), with exactly one of the
//! command letters `c` (create), `x` (extract), `t` (list), `d` (diff).
//! Without the dash (GNU's "old option style") each letter that takes a
//! value (`f`, `C`, `T`, `X`) takes the next word after the bundle, in the
//! order of the letters: `cfC a.tar dir .`. With the dash the letters are
//! ordinary short options: a letter that takes a value takes the rest of
//! the bundle, or the next word when it is the last letter (`-cf a.tar`).
//!
//! `v` is `-v`, `k` `--keep-old-files`, `O` `--to-stdout`; `z`, `J`, `j`,
//! `a` become `--gzip`, `--xz`, `--bzip2`, `--auto-compress` for create and
//! are dropped on the other commands, since compression is detected when
//! reading; `p` is `-p` on extract and dropped elsewhere, as GNU tar ignores
//! it there. A word with any other letter is not a bundle (a mistyped
//! command's name is then reported as such).

use std::ffi::OsString;

/// The command letters and the commands they stand for.
const COMMANDS: [(char, &str); 4] = [
    ('c', "create"),
    ('x', "extract"),
    ('t', "list"),
    ('d', "diff"),
];

/// Letters that take a value.
const WITH_VALUE: &[char] = &['f', 'C', 'T', 'X'];

/// Letters that are flags.
const FLAGS: &[char] = &['v', 'k', 'O', 'p', 'z', 'J', 'j', 'a'];

/// `args` (the program name first) with a bundled first word rewritten;
/// unchanged when the first word is not a bundle. `is_command` says
/// whether a word is a command's name or alias.
pub fn expand(args: Vec<OsString>, is_command: impl Fn(&str) -> bool) -> Vec<OsString> {
    let Some(first) = args.get(1).and_then(|a| a.to_str()).map(str::to_owned) else {
        return args;
    };
    let first = first.as_str();
    if is_command(first) {
        return args;
    }
    let (letters, dashed) = match first.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (first, false),
    };
    // With the dash (getopt), what follows the first letter that takes a
    // value is that value.
    let (letters, attached) = match letters.find(|c| dashed && WITH_VALUE.contains(&c)) {
        Some(i) if i + 1 < letters.len() => (&letters[..=i], Some(&letters[i + 1..])),
        _ => (letters, None),
    };
    let known = |c: char| {
        COMMANDS.iter().any(|&(l, _)| l == c) || WITH_VALUE.contains(&c) || FLAGS.contains(&c)
    };
    if letters.is_empty() || !letters.chars().all(known) {
        return args;
    }
    let mut commands = COMMANDS.iter().filter(|(c, _)| letters.contains(*c));
    let (Some(&(cmd_letter, command)), None) = (commands.next(), commands.next()) else {
        return args;
    };
    let mut out: Vec<OsString> = vec![args[0].clone(), command.into()];
    let mut words = args.into_iter().skip(2);
    for c in letters.chars() {
        if c == cmd_letter {
            continue;
        }
        if WITH_VALUE.contains(&c) {
            out.push(format!("-{c}").into());
            if let Some(v) = attached {
                out.push(v.into());
            } else if let Some(w) = words.next() {
                out.push(w);
            }
            continue;
        }
        if let Some(opt) = flag(c, command) {
            out.push(opt.into());
        }
    }
    out.extend(words);
    out
}

/// The option a flag letter stands for in `command`, or `None` when it is
/// dropped there.
fn flag(c: char, command: &str) -> Option<&'static str> {
    let create = command == "create";
    Some(match c {
        'z' if create => "--gzip",
        'J' if create => "--xz",
        'j' if create => "--bzip2",
        'a' if create => "--auto-compress",
        'p' if command == "extract" => "-p",
        'k' => "--keep-old-files",
        'O' => "--to-stdout",
        'v' => "-v",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> String {
        let args = std::iter::once("alientar")
            .chain(line.split(' '))
            .map(OsString::from)
            .collect();
        let cmds = [
            "create", "c", "list", "t", "extract", "x", "diff", "d", "check", "contexts", "man",
        ];
        expand(args, |w| cmds.contains(&w))
            .iter()
            .skip(1)
            .map(|a| a.to_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn table() {
        for (line, want) in [
            ("cf a.tar -C dir .", "create -f a.tar -C dir ."),
            ("cvf a.tar dir", "create -v -f a.tar dir"),
            ("tvf a.tar", "list -v -f a.tar"),
            ("xf a.tar -C out", "extract -f a.tar -C out"),
            ("xvf a.tar", "extract -v -f a.tar"),
            ("czf a.tgz dir", "create --gzip -f a.tgz dir"),
            ("cvzf a.tgz dir", "create -v --gzip -f a.tgz dir"),
            ("cJf a.txz dir", "create --xz -f a.txz dir"),
            ("cjf a.tbz dir", "create --bzip2 -f a.tbz dir"),
            ("caf a.tgz dir", "create --auto-compress -f a.tgz dir"),
            ("xzf a.tgz", "extract -f a.tgz"),
            ("tzvf a.tgz", "list -v -f a.tgz"),
            ("cvpf a.tar dir", "create -v -f a.tar dir"),
            ("xpf a.tar", "extract -p -f a.tar"),
            ("xkf a.tar", "extract --keep-old-files -f a.tar"),
            ("xOf a.tar", "extract --to-stdout -f a.tar"),
            ("cfC a.tar dir .", "create -f a.tar -C dir ."),
            ("cCf dir a.tar .", "create -C dir -f a.tar ."),
            ("vcf a.tar x", "create -v -f a.tar x"),
            ("df a.tar", "diff -f a.tar"),
            // With a dash: getopt's rules.
            ("-cf a.tar dir", "create -f a.tar dir"),
            ("-cvf a.tar dir", "create -v -f a.tar dir"),
            ("-xf a.tar", "extract -f a.tar"),
            ("-cfa.tar dir", "create -f a.tar dir"),
            ("-cfv a.tar", "create -f v a.tar"),
            ("-tfx.tar", "list -f x.tar"),
            ("-xvC out -f a.tar", "extract -v -C out -f a.tar"),
            // A letter with no word left: passed on, the parser says what is missing.
            ("cf", "create -f"),
            // An unknown letter: not a bundle (the parser names the word).
            ("cqf a.tar d", "cqf a.tar d"),
            ("tets", "tets"),
            ("extarct -f a.tar", "extarct -f a.tar"),
            ("dx", "dx"),
            // Not bundles.
            ("create -f a.tar d", "create -f a.tar d"),
            ("c -f a.tar d", "c -f a.tar d"),
            ("x -f a.tar", "x -f a.tar"),
            ("check -f a.tar", "check -f a.tar"),
            ("contexts", "contexts"),
            ("man", "man"),
            ("ctf a.tar", "ctf a.tar"),
            ("vf a.tar", "vf a.tar"),
            ("--version", "--version"),
            ("-V", "-V"),
            ("c1f a.tar", "c1f a.tar"),
        ] {
            assert_eq!(run(line), want, "{line}");
        }
    }

    #[test]
    fn non_utf8_words_pass_through() {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(b"a\xff.tar".to_vec());
        let args = vec!["alientar".into(), "xf".into(), odd.clone()];
        let got = expand(args, |_| false);
        assert_eq!(got[1], "extract");
        assert_eq!(got[3], odd);
    }
}
