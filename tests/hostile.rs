//! Hostile archives (DESIGN.md §5, issue 5): names, links and special files
//! that try to escape the destination, lying sizes and headers, resource
//! bombs, maps planted in the archive, forged seek tables and indexes.
//!
//! Every case runs the `alientar` binary as root with `--owners chown` and,
//! when the test user `alientar-test` exists (`.ci/run` creates it), again
//! as that user with `--owners none`, in a fresh sandbox:
//!
//! ```text
//! TMP/            (0755)
//!   evil.tar      the archive
//!   dest/         the destination (owned by whoever extracts)
//!   outside/      sentinel: victim (a file), dir/ (owned by whoever
//!                 extracts, so an escape would succeed if the code let it)
//! ```
//!
//! Each run must: leave `outside/` and `TMP` exactly as they were, not panic
//! (exit status never 101, no "panicked"), finish within 30 s (it runs
//! under `timeout -s KILL 30`), stay under 256 MiB (`/usr/bin/time -f %M`),
//! and — for malformed input — exit non-zero with a message. `list` gets
//! the same archive under the same limits.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alientar::internals::tar::pax::push_record;
use alientar::internals::tar::{encode_entry, end_of_archive, pad};
use alientar::{Entry, Kind, Time};

/// The dedicated unprivileged test user.
const USER: &str = "alientar-test";
/// Wall-clock limit for one run.
const LIMIT: Duration = Duration::from_secs(30);
/// Peak memory limit for one run, in KiB.
const MAX_RSS_KB: u64 = 256 << 10;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------
// Who runs the binary

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// root, `--owners chown`.
    Root,
    /// `alientar-test`, `--owners none`.
    User,
}

impl Who {
    fn sink(self) -> &'static str {
        match self {
            Who::Root => "chown",
            Who::User => "none",
        }
    }
}

/// The modes a test runs in: root (when we are root) and the test user
/// (when we are root and it exists). Says loudly what is skipped.
fn modes(test: &str) -> Vec<Who> {
    if !is_root() {
        skip(
            test,
            "not root: runs as the current user with --owners none only",
        );
        return vec![Who::User];
    }
    let mut v = vec![Who::Root];
    if sh(&format!("id -u {USER}")).status.success() {
        v.push(Who::User);
    } else {
        skip(
            &format!("{test} (as {USER})"),
            "no user alientar-test (.ci/run creates it)",
        );
    }
    v
}

/// One finished run of the binary.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    rss_kb: Option<u64>,
    elapsed: Duration,
    what: String,
}

impl Run {
    /// No panic, no hang, bounded memory.
    fn sane(&self) -> &Self {
        assert_ne!(
            self.code,
            Some(101),
            "{}: panicked\n{}",
            self.what,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "{}: panicked\n{}",
            self.what,
            self.stderr
        );
        assert!(
            self.code.is_some() && self.code != Some(137) && self.elapsed < LIMIT,
            "{}: did not finish within {LIMIT:?} (status {:?}, {:?})\n{}",
            self.what,
            self.code,
            self.elapsed,
            self.stderr
        );
        if let Some(kb) = self.rss_kb {
            assert!(
                kb < MAX_RSS_KB,
                "{}: used {} MiB of memory (limit {} MiB)",
                self.what,
                kb >> 10,
                MAX_RSS_KB >> 10
            );
        }
        self
    }

    /// Sane, and a failure with a message.
    fn fails(&self) -> &Self {
        self.sane();
        assert!(
            self.code != Some(0) && self.stderr.contains("alientar:"),
            "{}: malformed input must exit non-zero with a message; got {:?}\n{}",
            self.what,
            self.code,
            self.stderr
        );
        self
    }

    /// Sane, and success.
    fn succeeds(&self) -> &Self {
        self.sane();
        assert_eq!(
            self.code,
            Some(0),
            "{}: expected success\n{}",
            self.what,
            self.stderr
        );
        self
    }

    fn status(&self, code: i32) -> &Self {
        self.sane();
        assert_eq!(
            self.code,
            Some(code),
            "{}: expected exit status {code}\n{}",
            self.what,
            self.stderr
        );
        self
    }

    fn says(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "{}: stderr should mention {text:?}:\n{}",
            self.what,
            self.stderr
        );
        self
    }
}

/// Run `alientar ARGS` as `who`, under `timeout -s KILL 30` and
/// `/usr/bin/time` (when installed).
fn alien(who: Who, args: &[&str]) -> Run {
    let timed = Path::new("/usr/bin/time").exists();
    let mut argv: Vec<String> = vec!["-s".into(), "KILL".into(), "30".into()];
    if timed {
        argv.extend(["/usr/bin/time", "-f", "ALIENTAR_RSS_KB=%M"].map(String::from));
    }
    argv.push(s(&bin()));
    argv.extend(args.iter().map(|a| a.to_string()));
    let mut cmd = if who == Who::User && is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", USER, "--", "timeout"]);
        c
    } else {
        Command::new("timeout")
    };
    cmd.args(&argv)
        .current_dir("/")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(std::process::Stdio::null());
    let start = Instant::now();
    let out = cmd.output().expect("run alientar");
    let elapsed = start.elapsed();
    let mut rss_kb = None;
    let mut stderr = String::new();
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if let Some(v) = line.strip_prefix("ALIENTAR_RSS_KB=") {
            rss_kb = v.trim().parse().ok();
        } else if !(timed && line.starts_with("Command exited with non-zero status")) {
            stderr.push_str(line);
            stderr.push('\n');
        }
    }
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        rss_kb,
        elapsed,
        what: format!("alientar {} (as {who:?})", args.join(" ")),
    }
}

// ---------------------------------------------------------------------------
// The sandbox

struct Sandbox {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dest: PathBuf,
    outside: PathBuf,
    who: Who,
    before: BTreeMap<String, Meta>,
    top: Vec<String>,
}

impl Sandbox {
    fn new(who: Who) -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        chmod(&root, 0o755);
        let dest = root.join("dest");
        let outside = root.join("outside");
        std::fs::create_dir(&dest).unwrap();
        std::fs::create_dir_all(outside.join("dir")).unwrap();
        std::fs::write(outside.join("victim"), "original").unwrap();
        std::fs::write(outside.join("dir/inner"), "inner").unwrap();
        chmod(&outside.join("victim"), 0o644);
        chmod(&outside.join("dir"), 0o755);
        chmod(&outside, 0o755);
        if who == Who::User && is_root() {
            for p in [&dest, &outside] {
                sh_ok(&format!("chown -R {USER}: {}", s(p)));
            }
        }
        for p in walk(&outside) {
            set_mtime(&p, 1_000_000_000, 0);
        }
        let mut sb = Sandbox {
            _tmp: tmp,
            root,
            dest,
            outside,
            who,
            before: BTreeMap::new(),
            top: Vec::new(),
        };
        sb.before = snapshot(&sb.outside);
        sb
    }

    fn o(&self) -> String {
        s(&self.outside)
    }

    /// Write an archive into the sandbox (readable by the test user).
    fn archive(&mut self, name: &str, bytes: &[u8]) -> String {
        let p = self.root.join(name);
        std::fs::write(&p, bytes).unwrap();
        chmod(&p, 0o644);
        s(&p)
    }

    fn top_names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Extract `archive` (plus `extra` options) into dest, and list it.
    fn extract(&mut self, archive: &str, extra: &[&str]) -> Run {
        self.top = self.top_names();
        let d = s(&self.dest);
        let mut args = vec![
            "extract",
            "-f",
            archive,
            "-C",
            &d,
            "--owners",
            self.who.sink(),
            "--no-progress",
        ];
        args.extend_from_slice(extra);
        let r = alien(self.who, &args);
        self.check_outside(&r.what);
        // `list` reads the same archive under the same limits.
        alien(self.who, &["list", "-v", "-f", archive, "--no-progress"]).sane();
        r
    }

    /// Nothing outside the destination changed.
    fn check_outside(&self, what: &str) {
        let after = snapshot(&self.outside);
        if after != self.before {
            assert_same(&self.before, &after);
        }
        assert_eq!(
            self.top_names(),
            self.top,
            "{what}: something was created next to the destination"
        );
    }

    fn dest(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }

    /// No temporaries left in the destination.
    fn no_temporaries(&self) {
        let left: Vec<String> = walk(&self.dest)
            .iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".alientar-"))
            })
            .map(|p| s(p))
            .collect();
        assert!(left.is_empty(), "temporaries left behind: {left:?}");
    }
}

// ---------------------------------------------------------------------------
// Building archives

fn t0() -> Time {
    Time {
        sec: 1_700_000_000,
        nsec: 0,
    }
}

fn file(path: &str, data: &[u8]) -> (Entry, Vec<u8>) {
    let mut e = Entry::new(path, Kind::File);
    e.mode = 0o644;
    e.size = data.len() as u64;
    e.mtime = t0();
    (e, data.to_vec())
}

fn dir(path: &str, mode: u32) -> (Entry, Vec<u8>) {
    let mut e = Entry::new(path, Kind::Dir);
    e.mode = mode;
    e.mtime = t0();
    (e, Vec::new())
}

fn link(path: &str, kind: Kind, target: &str) -> (Entry, Vec<u8>) {
    let mut e = Entry::new(path, kind);
    e.mode = 0o777;
    e.mtime = t0();
    e.link = Some(target.as_bytes().to_vec());
    (e, Vec::new())
}

fn special(path: &str, kind: Kind, major: u32, minor: u32) -> (Entry, Vec<u8>) {
    let mut e = Entry::new(path, kind);
    e.mode = 0o666;
    e.mtime = t0();
    e.dev_major = major;
    e.dev_minor = minor;
    (e, Vec::new())
}

/// Members of an archive to build: each entry and its data.
type Members = Vec<(Entry, Vec<u8>)>;

fn tar_of(entries: &[(Entry, Vec<u8>)]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (e, data) in entries {
        encode_entry(e, &mut buf);
        buf.extend_from_slice(data);
        pad(&mut buf, data.len() as u64);
    }
    end_of_archive(&mut buf);
    buf
}

/// A raw ustar header block; fields can be overwritten before [`seal`].
fn raw(name: &[u8], typeflag: u8, size: u64) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    b[100..108].copy_from_slice(b"0000644\0");
    b[108..116].copy_from_slice(b"0000000\0");
    b[116..124].copy_from_slice(b"0000000\0");
    b[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    b[136..148].copy_from_slice(b"14000000000\0");
    b[156] = typeflag;
    b[257..265].copy_from_slice(b"ustar\x0000");
    b[329..337].copy_from_slice(b"0000000\0");
    b[337..345].copy_from_slice(b"0000000\0");
    seal(&mut b);
    b
}

/// Recompute a header block's checksum.
fn seal(b: &mut [u8; 512]) {
    b[148..156].fill(b' ');
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Append a header and its data, padded.
fn put(out: &mut Vec<u8>, h: &[u8; 512], data: &[u8]) {
    out.extend_from_slice(h);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
}

/// A pax header (`x` or `g`) holding `recs`.
fn pax(out: &mut Vec<u8>, typeflag: u8, recs: &[(&str, &[u8])]) {
    let mut data = Vec::new();
    for (k, v) in recs {
        push_record(&mut data, k, v);
    }
    put(
        out,
        &raw(b"PaxHeaders/x", typeflag, data.len() as u64),
        &data,
    );
}

fn eoa(out: &mut Vec<u8>) {
    out.resize(out.len() + 1024, 0);
}

// ---------------------------------------------------------------------------
// Confinement

/// Absolute names land under the destination (leading '/' removed, once
/// warned); `..` anywhere is refused, naming the member, and the rest is
/// extracted.
#[test]
fn absolute_and_dotdot_names_stay_inside() {
    for who in modes("absolute_and_dotdot_names_stay_inside") {
        let mut sb = Sandbox::new(who);
        let o = sb.o();
        let a = sb.archive(
            "abs.tar",
            &tar_of(&[
                file(&format!("{o}/victim"), b"pwned"),
                file(&format!("//{o}/dir/inner"), b"pwned"),
                file(&format!("{o}/new"), b"new"),
            ]),
        );
        sb.extract(&a, &[]).succeeds().says("Removing leading '/'");
        let rel = o.trim_start_matches('/');
        assert_eq!(
            std::fs::read(sb.dest(&format!("{rel}/victim"))).unwrap(),
            b"pwned"
        );
        assert_eq!(
            std::fs::read(sb.dest(&format!("{rel}/new"))).unwrap(),
            b"new"
        );

        for (name, path) in [
            ("parent", "../outside/victim".to_string()),
            ("deep parent", "a/b/../../../outside/victim".into()),
            ("absolute parent", format!("/../{o}/victim")),
            ("dot parent", "./../outside/victim".into()),
            ("bare", "..".into()),
            ("trailing", "x/..".into()),
        ] {
            let mut sb = Sandbox::new(who);
            let mut long = file(&path, b"pwned");
            long.0.path = path.clone().into_bytes();
            let a = sb.archive("dd.tar", &tar_of(&[long, file("ok", b"ok")]));
            sb.extract(&a, &[]).status(1).says("..");
            assert_eq!(std::fs::read(sb.dest("ok")).unwrap(), b"ok", "{name}");
        }
        // `..` in a pax path and in a GNU long name.
        let mut sb = Sandbox::new(who);
        let mut t = Vec::new();
        pax(&mut t, b'x', &[("path", b"x/../../outside/victim")]);
        put(&mut t, &raw(b"innocent", b'0', 5), b"pwned");
        let long = b"../"
            .repeat(40)
            .into_iter()
            .chain(*b"outside/victim\0")
            .collect::<Vec<u8>>();
        put(
            &mut t,
            &raw(b"././@LongLink", b'L', long.len() as u64),
            &long,
        );
        put(&mut t, &raw(b"innocent2", b'0', 5), b"pwned");
        eoa(&mut t);
        let a = sb.archive("pax.tar", &t);
        sb.extract(&a, &[]).status(1);
    }
}

/// Symlinks made by the archive (absolute, relative, chains, deep) are
/// never followed by later members; a symlink in the final position is
/// replaced, not written through.
#[test]
fn symlinks_are_never_written_through() {
    for who in modes("symlinks_are_never_written_through") {
        // Built per sandbox: the links point at that sandbox's sentinel.
        let cases = |o: &str| -> Vec<(&str, Members, Option<i32>)> {
            vec![
                (
                    "absolute symlink to a directory",
                    vec![
                        link("l", Kind::Symlink, o),
                        file("l/victim", b"pwned"),
                        file("l/new", b"pwned"),
                        dir("l/newdir", 0o755),
                    ],
                    Some(1),
                ),
                (
                    "relative symlink",
                    vec![
                        link("l", Kind::Symlink, "../outside"),
                        file("l/victim", b"pwned"),
                    ],
                    Some(1),
                ),
                (
                    "chain",
                    vec![
                        link("a", Kind::Symlink, "b"),
                        link("b", Kind::Symlink, "c/d"),
                        dir("c", 0o755),
                        link("c/d", Kind::Symlink, "../../outside"),
                        file("a/victim", b"pwned"),
                        file("a/dir/inner", b"pwned"),
                    ],
                    Some(1),
                ),
                (
                    "deep relative",
                    vec![
                        link("x/y/l", Kind::Symlink, "../../../outside"),
                        file("x/y/l/victim", b"pwned"),
                    ],
                    Some(1),
                ),
                (
                    "symlink as a parent of a parent",
                    vec![
                        link("l", Kind::Symlink, o),
                        file("l/dir/inner", b"pwned"),
                        file("l/dir/sub/new", b"pwned"),
                    ],
                    Some(1),
                ),
                (
                    "final component: replaced, not written through",
                    vec![
                        link("f", Kind::Symlink, &format!("{o}/victim")),
                        file("f", b"mine"),
                    ],
                    Some(0),
                ),
                (
                    // In archive order: see also
                    // kind_change_to_directory_follows_archive_order.
                    "symlink then a directory of the same name",
                    vec![
                        link("d", Kind::Symlink, o),
                        dir("d", 0o700),
                        file("d/victim", b"mine"),
                    ],
                    Some(0),
                ),
                (
                    "directory replaced by a symlink mid-archive",
                    vec![
                        dir("d", 0o755),
                        file("d/x", b"x"),
                        link("d", Kind::Symlink, o),
                        file("d/victim", b"pwned"),
                        file("d/dir/inner", b"pwned"),
                    ],
                    Some(1),
                ),
                (
                    "directory replaced by a relative symlink, then deeper",
                    vec![
                        dir("a/b", 0o755),
                        file("a/b/x", b"x"),
                        link("a", Kind::Symlink, "../outside"),
                        file("a/dir/inner", b"pwned"),
                    ],
                    Some(1),
                ),
            ]
        };
        for i in 0..cases("").len() {
            let mut sb = Sandbox::new(who);
            let (name, entries, code) = cases(&sb.o()).swap_remove(i);
            let a = sb.archive("evil.tar", &tar_of(&entries));
            let r = sb.extract(&a, &[]);
            match code {
                Some(c) => r.status(c),
                None => r.sane(),
            };
            // Which error depends on which worker gets there first (the
            // symlink refused as a parent; the symlink not replacing the
            // directory a later member made; the directory removed under
            // the later member): each names a member under the symlink.
            if c_is(code, 1) {
                let l = entries.iter().find(|e| e.0.kind == Kind::Symlink).unwrap();
                let l = String::from_utf8_lossy(&l.0.path).into_owned();
                // (The path is a word of the message: "cannot create d/x: ...".)
                let names = |w: &str| w == l || w.starts_with(&format!("{l}/"));
                assert!(
                    r.stderr
                        .lines()
                        .any(|m| m.starts_with("alientar: ") && m.split([' ', ':']).any(names)),
                    "{name}: {}",
                    r.stderr
                );
            }
            sb.no_temporaries();
        }
        // The final-component cases leave regular files behind.
        let mut sb = Sandbox::new(who);
        let o = sb.o();
        let a = sb.archive(
            "f.tar",
            &tar_of(&[
                link("f", Kind::Symlink, &format!("{o}/victim")),
                file("f", b"mine"),
            ]),
        );
        sb.extract(&a, &[]).succeeds();
        assert!(std::fs::symlink_metadata(sb.dest("f")).unwrap().is_file());
        assert_eq!(std::fs::read(sb.dest("f")).unwrap(), b"mine");
    }
}

fn c_is(code: Option<i32>, want: i32) -> bool {
    code == Some(want)
}

/// Directory metadata is applied last: when the directory has meanwhile
/// been replaced by a symlink, its mode, owner and time must not land on
/// the symlink's target. Nor may a FIFO, device or hard link entry of the
/// symlink's name change the target.
#[test]
fn metadata_is_never_applied_through_a_symlink() {
    for who in modes("metadata_is_never_applied_through_a_symlink") {
        let mut d = dir("d", 0o777);
        d.0.uid = 4321;
        d.0.gid = 4321;
        d.0.mtime = Time { sec: 5, nsec: 0 };
        let mut root = dir(".", 0o700);
        root.0.mtime = Time { sec: 6, nsec: 0 };
        let mut f = file("f", b"");
        f.0.mode = 0o4777;
        let cases = |o: &str| -> Vec<(&str, Members)> {
            vec![
                (
                    "directory entry, then the name becomes a symlink to outside",
                    vec![d.clone(), link("d", Kind::Symlink, o)],
                ),
                (
                    "directory entry, then a symlink to a file outside",
                    vec![d.clone(), link("d", Kind::Symlink, &format!("{o}/victim"))],
                ),
                (
                    "nested directory, then its parent becomes a symlink",
                    vec![
                        dir("p", 0o755),
                        {
                            let mut x = d.clone();
                            x.0.path = b"p/dir".to_vec();
                            x
                        },
                        link("p", Kind::Symlink, o),
                    ],
                ),
                (
                    "symlink, then a file entry with setuid mode of the same name",
                    vec![link("f", Kind::Symlink, &format!("{o}/victim")), f.clone()],
                ),
                (
                    "symlink, then a FIFO of the same name",
                    vec![
                        link("p", Kind::Symlink, &format!("{o}/victim")),
                        special("p", Kind::Fifo, 0, 0),
                    ],
                ),
                (
                    "symlink, then a hard link of the same name",
                    vec![
                        file("t", b"t"),
                        link("h", Kind::Symlink, &format!("{o}/victim")),
                        link("h", Kind::HardLink, "t"),
                    ],
                ),
                (
                    "the destination itself as a symlink entry",
                    vec![link(".", Kind::Symlink, o), root.clone()],
                ),
            ]
        };
        for i in 0..cases("").len() {
            let mut sb = Sandbox::new(who);
            let (name, entries) = cases(&sb.o()).swap_remove(i);
            let a = sb.archive("meta.tar", &tar_of(&entries));
            let r = sb.extract(&a, &[]);
            r.sane();
            sb.no_temporaries();
            let _ = name;
        }
        // A symlink already in the destination (a second extraction into
        // a tree someone else controls) is replaced, never followed.
        let mut sb = Sandbox::new(who);
        let o = sb.o();
        std::os::unix::fs::symlink(format!("{o}/victim"), sb.dest("s")).unwrap();
        std::os::unix::fs::symlink(&o, sb.dest("sd")).unwrap();
        if who == Who::User && is_root() {
            sh_ok(&format!(
                "chown -h {USER}: {} {}",
                s(&sb.dest("s")),
                s(&sb.dest("sd"))
            ));
        }
        let a = sb.archive(
            "pre.tar",
            &tar_of(&[file("s", b"mine"), file("sd/victim", b"pwned"), f.clone()]),
        );
        sb.extract(&a, &[]).status(1);
        assert_eq!(std::fs::read(sb.dest("s")).unwrap(), b"mine");
    }
}

/// Hard links may only point at members inside the destination, never
/// through a symlink.
#[test]
fn hard_links_stay_inside() {
    for who in modes("hard_links_stay_inside") {
        let cases = |o: &str| -> Vec<(&str, Members, i32)> {
            vec![
                (
                    "to a parent path",
                    vec![link("h", Kind::HardLink, "../outside/victim")],
                    1,
                ),
                (
                    "to an absolute path (stripped: not found)",
                    vec![link("h", Kind::HardLink, &format!("{o}/victim"))],
                    1,
                ),
                (
                    "through an absolute symlink",
                    vec![
                        link("l", Kind::Symlink, o),
                        link("h", Kind::HardLink, "l/victim"),
                    ],
                    1,
                ),
                (
                    "through a relative symlink chain",
                    vec![
                        link("a", Kind::Symlink, "b"),
                        link("b", Kind::Symlink, "../outside"),
                        link("h", Kind::HardLink, "a/dir/inner"),
                    ],
                    1,
                ),
                (
                    "to a directory replaced by a symlink",
                    vec![
                        file("d/t", b"t"),
                        link("d", Kind::Symlink, o),
                        link("h", Kind::HardLink, "d/victim"),
                    ],
                    1,
                ),
                (
                    "then a file of the same name (last wins, target untouched)",
                    vec![
                        link("h", Kind::HardLink, "../outside/victim"),
                        file("h", b"mine"),
                    ],
                    0,
                ),
                (
                    "to a symlink: links the symlink itself",
                    vec![
                        link("s", Kind::Symlink, &format!("{o}/victim")),
                        link("h", Kind::HardLink, "s"),
                    ],
                    0,
                ),
            ]
        };
        for i in 0..cases("").len() {
            let mut sb = Sandbox::new(who);
            let (name, entries, code) = cases(&sb.o()).swap_remove(i);
            let a = sb.archive("hl.tar", &tar_of(&entries));
            let r = sb.extract(&a, &[]);
            r.status(code);
            if code == 1 {
                assert!(r.stderr.contains("h"), "{name}: {}", r.stderr);
            }
            sb.no_temporaries();
        }
        let mut sb = Sandbox::new(who);
        let o = sb.o();
        let a = sb.archive(
            "hs.tar",
            &tar_of(&[
                link("s", Kind::Symlink, &format!("{o}/victim")),
                link("h", Kind::HardLink, "s"),
            ]),
        );
        sb.extract(&a, &[]).succeeds();
        assert!(
            std::fs::symlink_metadata(sb.dest("h"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}

/// A FIFO or device — from the archive or already in the destination — is
/// replaced by a later regular file of the same name without ever being
/// opened (opening a FIFO for writing would block forever).
#[test]
fn fifos_and_devices_are_replaced_never_opened() {
    for who in modes("fifos_and_devices_are_replaced_never_opened") {
        let mut entries = vec![special("p", Kind::Fifo, 0, 0), file("p", b"data")];
        if who == Who::Root {
            entries.extend([
                special("c", Kind::Char, 1, 3),
                file("c", b"char"),
                special("b", Kind::Block, 7, 0),
                file("b", b"block"),
            ]);
        }
        let mut sb = Sandbox::new(who);
        let a = sb.archive("fifo.tar", &tar_of(&entries));
        sb.extract(&a, &[]).succeeds();
        for (n, want) in [("p", &b"data"[..]), ("c", b"char"), ("b", b"block")] {
            if who == Who::User && (n == "c" || n == "b") {
                continue;
            }
            let md = std::fs::symlink_metadata(sb.dest(n)).unwrap();
            assert!(md.is_file(), "{n} is {:?}", md.file_type());
            assert_eq!(std::fs::read(sb.dest(n)).unwrap(), want, "{n}");
        }
        sb.no_temporaries();

        // FIFOs already in the destination, nobody reading them.
        let mut sb = Sandbox::new(who);
        for n in ["p", "q", "r", "h"] {
            sh_ok(&format!("mkfifo {}", s(&sb.dest(n))));
        }
        if who == Who::User && is_root() {
            sh_ok(&format!("chown -R {USER}: {}", s(&sb.dest)));
        }
        let a = sb.archive(
            "prefifo.tar",
            &tar_of(&[
                file("p", b"data"),
                file("q/x", b"x"),
                dir("r", 0o755),
                link("hl", Kind::HardLink, "h"),
            ]),
        );
        let r = sb.extract(&a, &[]);
        r.status(1).says("q/x");
        assert_eq!(std::fs::read(sb.dest("p")).unwrap(), b"data");
        assert!(std::fs::symlink_metadata(sb.dest("r")).unwrap().is_dir());
        sb.no_temporaries();
    }
}

// ---------------------------------------------------------------------------
// Lying sizes and headers

/// pax size lies, negative and base-256 sizes, huge claimed sizes, a 4 GiB
/// global header: errors (or, for a valid base-256 size, success), no
/// allocation from the claimed number, no hang.
#[test]
fn lying_sizes() {
    for who in modes("lying_sizes") {
        let mut cases: Vec<(&str, Vec<u8>, bool)> = Vec::new();
        // pax size larger than the data.
        let mut t = Vec::new();
        pax(&mut t, b'x', &[("size", b"1000000")]);
        put(&mut t, &raw(b"f", b'0', 10), &[b'a'; 10]);
        eoa(&mut t);
        cases.push(("pax size larger than the data", t, false));
        // pax size smaller than the data: the rest is read as headers.
        let mut t = Vec::new();
        pax(&mut t, b'x', &[("size", b"3")]);
        put(&mut t, &raw(b"f", b'0', 1500), &[b'z'; 1500]);
        eoa(&mut t);
        cases.push(("pax size smaller than the data", t, false));
        for (name, v) in [
            ("pax size not a number", &b"12abc"[..]),
            ("pax size negative", b"-1"),
            ("pax size over 2^63", b"18446744073709551615"),
            ("pax size over 2^64", b"99999999999999999999999"),
            ("pax size empty", b""),
        ] {
            let mut t = Vec::new();
            pax(&mut t, b'x', &[("size", v)]);
            put(&mut t, &raw(b"f", b'0', 0), b"");
            eoa(&mut t);
            cases.push((name, t, false));
        }
        // pax size of 2^63-1 with a little data: truncated, streamed.
        let mut t = Vec::new();
        pax(&mut t, b'x', &[("size", b"9223372036854775807")]);
        put(&mut t, &raw(b"f", b'0', 0), &[b'a'; 5000]);
        cases.push(("pax size 2^63-1", t, false));
        // Negative base-256 size.
        let mut h = raw(b"f", b'0', 0);
        h[124..136].fill(0xff);
        seal(&mut h);
        let mut t = Vec::new();
        put(&mut t, &h, b"");
        eoa(&mut t);
        cases.push(("negative base-256 size", t, false));
        // Base-256 size of 2^62, 8 GiB octal: claimed, not there.
        for (name, field) in [
            ("base-256 size 2^62", {
                let mut f = [0u8; 12];
                f[0] = 0x80;
                f[4] = 0x40;
                f
            }),
            ("octal size 8 GiB", *b"77777777777\0"),
        ] {
            let mut h = raw(b"f", b'0', 0);
            h[124..136].copy_from_slice(&field);
            seal(&mut h);
            let mut t = Vec::new();
            put(&mut t, &h, &[b'q'; 3000]);
            cases.push((name, t, false));
        }
        // Meta members claiming 4 GiB: global, extended, long name.
        for (name, flag) in [
            ("4 GiB global header", b'g'),
            ("4 GiB extended header", b'x'),
            ("4 GiB GNU long name", b'L'),
        ] {
            let mut h = raw(b"meta", flag, 0);
            h[124..136].copy_from_slice(b"40000000000\0");
            seal(&mut h);
            let mut t = Vec::new();
            put(&mut t, &h, &[b'1'; 4096]);
            put(&mut t, &raw(b"f", b'0', 0), b"");
            eoa(&mut t);
            cases.push((name, t, false));
        }
        // A valid base-256 size (GNU): accepted.
        let mut h = raw(b"b256", b'0', 0);
        h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        seal(&mut h);
        let mut t = Vec::new();
        put(&mut t, &h, b"hello");
        // Directories, links and FIFOs ignore their size field.
        let mut h = raw(b"d/", b'5', 0);
        h[124..136].copy_from_slice(b"77777777777\0");
        seal(&mut h);
        put(&mut t, &h, b"");
        eoa(&mut t);
        cases.push(("valid base-256 size, huge directory size", t, true));

        for (name, bytes, ok) in cases {
            let mut sb = Sandbox::new(who);
            let a = sb.archive("size.tar", &bytes);
            let r = sb.extract(&a, &[]);
            if ok {
                r.succeeds();
                assert_eq!(std::fs::read(sb.dest("b256")).unwrap(), b"hello", "{name}");
            } else {
                r.fails();
            }
            // Nothing under its final name is partial (the 3 bytes a pax
            // size of 3 announces are the whole member).
            if let Ok(m) = std::fs::symlink_metadata(sb.dest("f")) {
                let whole = if name == "pax size smaller than the data" {
                    3
                } else {
                    0
                };
                assert!(
                    !m.is_file() || m.len() == whole,
                    "{name}: truncated file left as f"
                );
            }
            sb.no_temporaries();
        }
    }
}

/// Bad checksums, non-numeric and oversized IDs, huge names.
#[test]
fn malformed_headers() {
    for who in modes("malformed_headers") {
        let mut cases: Vec<(&str, Vec<u8>, i32, &str)> = Vec::new();
        let mut h = raw(b"f", b'0', 1);
        h[148] ^= 1;
        let mut t = Vec::new();
        put(&mut t, &h, b"x");
        eoa(&mut t);
        cases.push(("bad checksum first", t, 2, "checksum"));
        let mut t = Vec::new();
        put(&mut t, &raw(b"ok", b'0', 2), b"ok");
        let mut h = raw(b"f", b'0', 1);
        h[0] = b'g';
        put(&mut t, &h, b"x");
        eoa(&mut t);
        cases.push(("bad checksum second", t, 2, "checksum"));
        for (name, recs, code, msg) in [
            ("uid=12abc", vec![("uid", &b"12abc"[..])], 2, "12abc"),
            ("gid=12abc", vec![("gid", &b"12abc"[..])], 2, "12abc"),
            (
                "uid over 2^64",
                vec![("uid", &b"99999999999999999999"[..])],
                2,
                "uid",
            ),
            (
                "uid 2^32",
                vec![("uid", &b"4294967296"[..])],
                1,
                "4294967296",
            ),
            (
                "uid 2^32-1",
                vec![("uid", &b"4294967295"[..])],
                1,
                "4294967295",
            ),
            (
                "gid 2^64-1",
                vec![("gid", &b"18446744073709551615"[..])],
                1,
                "18446744073709551615",
            ),
            ("mtime=12abc", vec![("mtime", &b"12abc"[..])], 2, "12abc"),
            ("NUL in path", vec![("path", &b"a\0b"[..])], 2, "NUL"),
        ] {
            let mut t = Vec::new();
            pax(&mut t, b'x', &recs);
            put(&mut t, &raw(b"f", b'0', 1), b"x");
            eoa(&mut t);
            cases.push((name, t, code, msg));
        }
        let mut h = raw(b"f", b'0', 1);
        h[108..116].copy_from_slice(b"12abc\0\0\0");
        seal(&mut h);
        let mut t = Vec::new();
        put(&mut t, &h, b"x");
        eoa(&mut t);
        cases.push(("octal uid field 12abc", t, 2, "12abc"));
        let mut h = raw(b"f", b'0', 1);
        h[108..116].copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 0]);
        seal(&mut h);
        let mut t = Vec::new();
        put(&mut t, &h, b"x");
        eoa(&mut t);
        cases.push(("base-256 uid 2^32", t, 1, "4294967296"));
        // A 1 MiB name: pax path, GNU long name, pax linkpath.
        let big = vec![b'n'; 1 << 20];
        let mut t = Vec::new();
        pax(&mut t, b'x', &[("path", &big)]);
        put(&mut t, &raw(b"f", b'0', 1), b"x");
        eoa(&mut t);
        cases.push(("1 MiB pax path", t, 2, "longer than"));
        let mut t = Vec::new();
        put(&mut t, &raw(b"././@LongLink", b'L', big.len() as u64), &big);
        put(&mut t, &raw(b"f", b'0', 1), b"x");
        eoa(&mut t);
        cases.push(("1 MiB GNU long name", t, 2, "longer than"));
        let mut t = Vec::new();
        pax(&mut t, b'x', &[("linkpath", &big)]);
        put(&mut t, &raw(b"l", b'2', 0), b"");
        eoa(&mut t);
        cases.push(("1 MiB link target", t, 2, "longer than"));

        for (name, bytes, code, msg) in cases {
            let mut sb = Sandbox::new(who);
            let a = sb.archive("hdr.tar", &bytes);
            let r = sb.extract(&a, &[]);
            r.status(code).says(msg);
            if name == "bad checksum second" {
                assert_eq!(std::fs::read(sb.dest("ok")).unwrap(), b"ok");
            }
            sb.no_temporaries();
        }
    }
}

/// A file 3 000 directories deep (a path of 6 001 bytes, over PATH_MAX)
/// with no entries for its directories; and a file 660 directories of ten
/// bytes deep (6 601 bytes) with an entry for each directory. (Entries for
/// 3 000 one-letter directories would cost each extraction seconds of
/// lookups and make the 30 s hang guard a timing.)
#[test]
fn paths_deeper_than_path_max() {
    for who in modes("paths_deeper_than_path_max") {
        let deep = "d/".repeat(3000);
        let mut sb = Sandbox::new(who);
        let a = sb.archive("deep.tar", &tar_of(&[file(&format!("{deep}f"), b"bottom")]));
        sb.extract(&a, &[]).succeeds();
        assert_eq!(read_deep(&sb.dest, &format!("{deep}f")), b"bottom");

        let level = "directory/";
        let deep = level.repeat(660);
        let mut entries: Vec<(Entry, Vec<u8>)> =
            (1..=660).map(|i| dir(&level.repeat(i), 0o750)).collect();
        entries.push(file(&format!("{deep}f"), b"bottom"));
        let mut sb = Sandbox::new(who);
        let a = sb.archive("deepdirs.tar", &tar_of(&entries));
        sb.extract(&a, &[]).succeeds();
        assert_eq!(read_deep(&sb.dest, &format!("{deep}f")), b"bottom");
        assert_eq!(
            sb.dest("directory").metadata().unwrap().mode() & 0o7777,
            0o750
        );
    }
}

/// 2 000 members of one name: the last wins, whatever kinds come before it.
#[test]
fn two_thousand_duplicates_last_wins() {
    for who in modes("two_thousand_duplicates_last_wins") {
        // 2 000 regular files of one name.
        let entries: Vec<(Entry, Vec<u8>)> = (0..2000)
            .map(|i| file("dup", format!("version {i}").as_bytes()))
            .collect();
        let mut sb = Sandbox::new(who);
        let a = sb.archive("dup.tar", &tar_of(&entries));
        sb.extract(&a, &[]).succeeds();
        assert_eq!(std::fs::read(sb.dest("dup")).unwrap(), b"version 1999");
        sb.no_temporaries();

        // A directory entry repeated with other modes: the last one's.
        let mut entries: Vec<(Entry, Vec<u8>)> = (0..2000)
            .map(|i| dir("m", 0o700 + (i % 8) as u32))
            .collect();
        entries.push(dir("m", 0o751));
        let mut sb = Sandbox::new(who);
        let a = sb.archive("dupdirs.tar", &tar_of(&entries));
        sb.extract(&a, &[]).succeeds();
        assert_eq!(sb.dest("m").metadata().unwrap().mode() & 0o7777, 0o751);
    }
}

/// 2 000 members of one name, every kind in turn, then a regular file:
/// the file wins, with no error about the earlier kinds.
#[test]
fn duplicates_of_every_kind_last_wins() {
    for who in modes("duplicates_of_every_kind_last_wins") {
        let mut sb = Sandbox::new(who);
        let o = sb.o();
        // Every kind in turn; the last is a file. And a directory whose
        // last entry sets its mode.
        let mut entries = Vec::new();
        for i in 0..2000 {
            entries.push(match i % 5 {
                0 => file("x", b"old"),
                1 => link("x", Kind::Symlink, &format!("{o}/victim")),
                2 => dir("x", 0o755),
                3 => special("x", Kind::Fifo, 0, 0),
                _ => link("x", Kind::HardLink, "y"),
            });
            if i == 0 {
                entries.push(file("y", b"y"));
            }
            entries.push(dir("m", 0o700 + (i % 8) as u32));
        }
        entries.push(file("x", b"last"));
        entries.push(dir("m", 0o751));
        let a = sb.archive("dupkinds.tar", &tar_of(&entries));
        sb.extract(&a, &[]).succeeds();
        assert!(std::fs::symlink_metadata(sb.dest("x")).unwrap().is_file());
        assert_eq!(std::fs::read(sb.dest("x")).unwrap(), b"last");
        assert_eq!(sb.dest("m").metadata().unwrap().mode() & 0o7777, 0o751);
        sb.no_temporaries();
    }
}

/// A directory's files are spread over workers in runs of siblings (256
/// at a time): a name that comes again in the next run (an appended
/// archive) still ends with its last content, whichever worker got the
/// first one.
#[test]
fn repeated_names_in_later_runs_last_wins() {
    for who in modes("repeated_names_in_later_runs_last_wins") {
        for _ in 0..5 {
            let mut sb = Sandbox::new(who);
            let names: Vec<String> = (0..256).map(|i| format!("d/f{i:03}")).collect();
            let mut entries = vec![dir("d", 0o755)];
            for round in ["first", "second"] {
                for n in &names {
                    entries.push(file(n, format!("{round} {n}").as_bytes()));
                }
            }
            let a = sb.archive("again.tar", &tar_of(&entries));
            sb.extract(&a, &[]).succeeds();
            for n in &names {
                assert_eq!(
                    std::fs::read(sb.dest(n)).unwrap(),
                    format!("second {n}").as_bytes(),
                    "{n}"
                );
            }
            sb.no_temporaries();
        }
    }
}

/// A member that changes kind from a FIFO, file or symlink to a directory
/// with children: extracted in archive order, the directory replaces the
/// earlier member and holds the child.
#[test]
fn kind_change_to_directory_follows_archive_order() {
    for who in modes("kind_change_to_directory_follows_archive_order") {
        for _ in 0..20 {
            let mut sb = Sandbox::new(who);
            let a = sb.archive(
                "kinds.tar",
                &tar_of(&[
                    special("q", Kind::Fifo, 0, 0),
                    dir("q", 0o755),
                    file("q/x", b"x"),
                    file("f", b"f"),
                    dir("f", 0o755),
                    file("f/y", b"y"),
                    link("l", Kind::Symlink, "."),
                    dir("l", 0o755),
                    file("l/z", b"z"),
                ]),
            );
            sb.extract(&a, &[]).succeeds();
            assert_eq!(std::fs::read(sb.dest("q/x")).unwrap(), b"x");
            assert_eq!(std::fs::read(sb.dest("f/y")).unwrap(), b"y");
            assert_eq!(std::fs::read(sb.dest("l/z")).unwrap(), b"z");
            sb.no_temporaries();
        }
    }
}

/// A file whose name becomes a directory tens of thousands of entries
/// later, when the reader has long forgotten the file (it remembers only
/// what the workers may not have applied): the directory replaces it, and
/// its 600 children, spread over workers, all land in it. Likewise a name
/// that comes again that late: the last one wins.
#[test]
fn kind_change_long_after_the_file_was_applied() {
    for who in modes("kind_change_long_after_the_file_was_applied") {
        let mut sb = Sandbox::new(who);
        let mut entries = vec![file("q", b"file"), file("again", b"first")];
        for d in 0..40 {
            entries.push(dir(&format!("fill{d:02}"), 0o755));
            for f in 0..1000 {
                entries.push(file(&format!("fill{d:02}/{f:04}"), b""));
            }
        }
        entries.push(dir("q", 0o755));
        for c in 0..600 {
            entries.push(file(&format!("q/c{c:03}"), b"c"));
        }
        entries.push(file("again", b"last"));
        let a = sb.archive("late.tar", &tar_of(&entries));
        sb.extract(&a, &[]).succeeds();
        for c in 0..600 {
            assert_eq!(std::fs::read(sb.dest(&format!("q/c{c:03}"))).unwrap(), b"c");
        }
        assert_eq!(std::fs::read(sb.dest("again")).unwrap(), b"last");
        sb.no_temporaries();
    }
}

/// Read a file whose path is longer than PATH_MAX, one component at a time.
fn read_deep(root: &Path, rel: &str) -> Vec<u8> {
    use rustix::fs::{Mode, OFlags, openat};
    let comps: Vec<&str> = rel.split('/').collect();
    let mut fd = openat(
        rustix::fs::CWD,
        root,
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .unwrap();
    for c in &comps[..comps.len() - 1] {
        fd = openat(
            &fd,
            *c,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .unwrap();
    }
    let f = openat(
        &fd,
        comps[comps.len() - 1],
        OFlags::RDONLY | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(f), &mut out).unwrap();
    out
}

// ---------------------------------------------------------------------------
// Ownership

/// An archive's global header may state maps for any label (provenance);
/// they never choose the target owners. Labels the reading side does not
/// define are an error naming the context; labels it does define use its map.
#[test]
fn an_archive_map_never_chooses_the_target_owners() {
    let planted: &[(&str, &[u8])] = &[
        ("ALIENTAR.version", b"1"),
        ("ALIENTAR.context.rootless.uidmap", b"0:4242:100"),
        ("ALIENTAR.context.rootless.gidmap", b"0:4242:100"),
        ("ALIENTAR.context.host.uidmap", b"0:4242:100"),
        ("ALIENTAR.context.host.gidmap", b"0:4242:100"),
        ("ALIENTAR.context.evil.uidmap", b"0:4242:100"),
        ("ALIENTAR.context.evil.gidmap", b"0:4242:100"),
    ];
    let labelled = |path: &str, label: &str| {
        let (mut e, d) = file(path, b"x");
        e.uid = 5;
        e.gid = 5;
        e.label = Some(label.into());
        (e, d)
    };
    let archive = |entries: &[(Entry, Vec<u8>)]| {
        let mut t = Vec::new();
        pax(&mut t, b'g', planted);
        let body = tar_of(entries);
        t.extend_from_slice(&body);
        t
    };
    for who in modes("an_archive_map_never_chooses_the_target_owners") {
        // Unknown label: an error naming it, nothing owned by the planted map.
        let mut sb = Sandbox::new(who);
        let a = sb.archive("evil.tar", &archive(&[labelled("e", "evil")]));
        let r = sb.extract(&a, &[]);
        if who == Who::Root {
            r.fails().says("evil");
        } else {
            r.sane();
        }
        for p in walk(&sb.dest) {
            let uid = std::fs::symlink_metadata(&p).unwrap().uid();
            assert!(
                !(4242..4342).contains(&uid),
                "{}: owner {uid} from the archive's map",
                s(&p)
            );
        }
        // `host` is defined here (identity): uid 5 stays 5, not 4247.
        let mut sb = Sandbox::new(who);
        let a = sb.archive("host.tar", &archive(&[labelled("h", "host")]));
        sb.extract(&a, &[]).succeeds();
        let uid = std::fs::metadata(sb.dest("h")).unwrap().uid();
        if who == Who::Root {
            assert_eq!(uid, 5, "host context: identity");
        }
        assert_ne!(uid, 4247);
        // `list` with the label's context shows the reader's map too.
        let out = alien(
            who,
            &[
                "list",
                "-v",
                "--numeric-owner",
                "-f",
                &a,
                "--context",
                "host",
            ],
        );
        out.succeeds();
        assert!(!out.stdout.contains("4247"), "{}", out.stdout);
    }
    // As the test user with a user namespace: `rootless` means the
    // user's own subordinate range, never the archive's.
    if is_root() && sh(&format!("id -u {USER}")).status.success() && have("newuidmap") {
        let sub: u32 = sh_ok(&format!(
            "awk -F: '$1 == \"{USER}\" {{ print $2; exit }}' /etc/subuid"
        ))
        .trim()
        .parse()
        .unwrap_or(0);
        if sub > 0 {
            let mut sb = Sandbox::new(Who::User);
            let a = sb.archive("rl.tar", &archive(&[labelled("r", "rootless")]));
            let d = s(&sb.dest);
            sb.top = sb.top_names();
            let r = alien(
                Who::User,
                &[
                    "extract",
                    "-f",
                    &a,
                    "-C",
                    &d,
                    "--owners",
                    "userns",
                    "--no-progress",
                ],
            );
            r.succeeds();
            sb.check_outside(&r.what);
            let uid = std::fs::metadata(sb.dest("r")).unwrap().uid();
            assert_eq!(uid, sub + 4, "rootless uid 5 → the user's subuid range");
        }
    } else {
        skip(
            "an_archive_map_never_chooses_the_target_owners (userns part)",
            "needs root, alientar-test and newuidmap",
        );
    }
}

/// A setuid/setgid file whose owner had to be squashed (`--unmapped
/// overflow`) loses those bits; `--owners none` drops them always.
#[test]
fn squashed_owner_loses_setuid() {
    for who in modes("squashed_owner_loses_setuid") {
        let (mut e, d) = file("su", b"#!/bin/sh\n");
        e.uid = 70000;
        e.gid = 70000;
        e.mode = 0o6755;
        let (mut e2, d2) = file("sg", b"#!/bin/sh\n");
        e2.uid = 5;
        e2.gid = 5;
        e2.mode = 0o4755;
        let mut sb = Sandbox::new(who);
        let a = sb.archive("su.tar", &tar_of(&[(e, d), (e2, d2)]));
        sb.extract(&a, &["--map", "0:100000:65536", "--unmapped", "overflow"])
            .succeeds();
        let md = std::fs::metadata(sb.dest("su")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o755, "setuid and setgid dropped");
        let md2 = std::fs::metadata(sb.dest("sg")).unwrap();
        if who == Who::Root {
            assert_eq!((md.uid(), md.gid()), (65534, 65534));
            assert_eq!(md2.uid(), 100005);
            assert_eq!(md2.mode() & 0o7777, 0o4755, "a mapped owner keeps setuid");
        } else {
            assert_eq!(md2.mode() & 0o7777, 0o755, "--owners none drops setuid");
        }
    }
}

// ---------------------------------------------------------------------------
// Resource bombs (each found while writing these tests)

/// Compress what `gen` writes with the `zstd` program (fast even for
/// gigabytes of repetitive input); `None` without it.
fn zstd_stream(produce: impl FnOnce(&mut dyn std::io::Write) + Send + 'static) -> Option<Vec<u8>> {
    if !have("zstd") {
        skip("a compressed bomb", "zstd is not installed");
        return None;
    }
    let mut child = Command::new("zstd")
        .args(["-q", "-1", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
    let writer = std::thread::spawn(move || {
        produce(&mut stdin);
        drop(stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    Some(out.stdout)
}

/// Small (or highly compressible) archives whose headers would cost far
/// more memory or time than their size, in the reader. Regressions: each
/// of these used over 256 MiB or over 30 s before `tar::read` bounded them.
#[test]
fn header_bombs_are_bounded() {
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // 3 million tiny pax records in one extended header (used 287 MB).
    let mut t = Vec::new();
    let recs = b"5 a=\n".repeat(3 << 20);
    put(&mut t, &raw(b"x", b'x', recs.len() as u64), &recs);
    put(&mut t, &raw(b"f", b'0', 0), b"");
    eoa(&mut t);
    cases.push(("tiny pax records", t));
    // A 15 MiB global comment, then 20 000 members (each got a copy: a hang).
    let mut t = Vec::new();
    pax(&mut t, b'g', &[("comment", &vec![b'c'; 15 << 20])]);
    for i in 0..20_000 {
        put(&mut t, &raw(format!("f{i}").as_bytes(), b'0', 0), b"");
    }
    eoa(&mut t);
    cases.push(("huge global comment, many members", t));
    // A million distinct global keys (merged quadratically: a hang).
    let mut recs = Vec::new();
    for i in 0..1_000_000 {
        push_record(&mut recs, &format!("k{i:x}"), b"");
    }
    let mut t = Vec::new();
    put(&mut t, &raw(b"g", b'g', recs.len() as u64), &recs);
    put(&mut t, &raw(b"f", b'0', 0), b"");
    eoa(&mut t);
    cases.push(("a million global keys", t));

    for who in modes("header_bombs_are_bounded") {
        for (name, bytes) in &cases {
            for zst in [false, true] {
                let mut sb = Sandbox::new(who);
                let a = if zst {
                    sb.archive("bomb.tar.zst", &zstd::bulk::compress(bytes, 1).unwrap())
                } else {
                    sb.archive("bomb.tar", bytes)
                };
                let r = sb.extract(&a, &[]);
                r.sane();
                assert!(r.code.is_some(), "{name}");
                sb.no_temporaries();
            }
        }
    }
}

/// Compressible archives whose members carry large metadata: extraction
/// must keep memory bounded whatever the metadata per member (the queue to
/// the workers counts only data bytes; directory entries, hard links and
/// error messages are kept whole until the end).
#[test]
fn extract_memory_is_bounded_with_large_metadata() {
    let xattrs = zstd_stream(|w| {
        let mut recs = Vec::new();
        push_record(
            &mut recs,
            "SCHILY.xattr.user.big",
            &vec![b'v'; (1 << 20) - 100],
        );
        for i in 0..1500 {
            let mut t = Vec::new();
            put(&mut t, &raw(b"x", b'x', recs.len() as u64), &recs);
            put(&mut t, &raw(format!("f{i}").as_bytes(), b'0', 0), b"");
            w.write_all(&t).unwrap();
        }
        w.write_all(&[0; 1024]).unwrap();
    });
    let dirs = zstd_stream(|w| {
        let mut recs = Vec::new();
        push_record(
            &mut recs,
            "SCHILY.xattr.user.big",
            &vec![b'v'; (1 << 20) - 100],
        );
        for i in 0..1500 {
            let mut t = Vec::new();
            put(&mut t, &raw(b"x", b'x', recs.len() as u64), &recs);
            put(&mut t, &raw(format!("d{i}/").as_bytes(), b'5', 0), b"");
            w.write_all(&t).unwrap();
        }
        w.write_all(&[0; 1024]).unwrap();
    });
    let names = zstd_stream(|w| {
        let base = format!("{}/", "a".repeat(200)).repeat(300);
        for i in 0..5000 {
            let mut t = Vec::new();
            pax(&mut t, b'x', &[("path", format!("{base}f{i}").as_bytes())]);
            put(&mut t, &raw(b"f", b'0', 0), b"");
            w.write_all(&t).unwrap();
        }
        w.write_all(&[0; 1024]).unwrap();
    });
    for who in modes("extract_memory_is_bounded_with_large_metadata") {
        for bytes in [&xattrs, &dirs, &names].into_iter().flatten() {
            let mut sb = Sandbox::new(who);
            let a = sb.archive("meta.tar.zst", bytes);
            sb.extract(&a, &[]).sane();
        }
    }
}

// ---------------------------------------------------------------------------
// Forged seek tables and indexes

/// A real zstd archive of several frames, its trailer split off.
struct Real {
    tree: tempfile::TempDir,
    bytes: Vec<u8>,
    /// (compressed, decompressed) per frame.
    frames: Vec<(u32, u32)>,
    /// Where the data frames end (the index frame starts).
    data_end: usize,
    /// Where the seek table starts.
    table_start: usize,
}

fn real_archive() -> Real {
    let tree = tempfile::tempdir().unwrap();
    chmod(tree.path(), 0o755);
    let t = tree.path().join("t");
    std::fs::create_dir_all(t.join("sub")).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..6 {
        let data: Vec<u8> = (0..1_500_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 7) as u8 + b'a'
            })
            .collect();
        std::fs::write(t.join(format!("sub/f{i}")), data).unwrap();
    }
    std::fs::write(t.join("small"), "small").unwrap();
    let a = tree.path().join("real.tar.zst");
    ok(["create", "-f", &s(&a), "-C", &s(tree.path()), "t"]);
    let bytes = std::fs::read(&a).unwrap();
    let n = bytes.len();
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(u32_at(n - 4), 0x8F92_EAB1, "seek table footer");
    let count = u32_at(n - 9) as usize;
    let table_start = n - (8 + 8 * count + 9);
    let frames: Vec<(u32, u32)> = (0..count)
        .map(|i| {
            (
                u32_at(table_start + 8 + 8 * i),
                u32_at(table_start + 12 + 8 * i),
            )
        })
        .collect();
    let data_end: usize = frames.iter().map(|f| f.0 as usize).sum();
    assert!(frames.len() >= 2, "want several frames: {frames:?}");
    Real {
        tree,
        bytes,
        frames,
        data_end,
        table_start,
    }
}

fn seek_table(frames: &[(u32, u32)], count: u32, desc: u8) -> Vec<u8> {
    let mut p = Vec::new();
    for &(c, d) in frames {
        p.extend_from_slice(&c.to_le_bytes());
        p.extend_from_slice(&d.to_le_bytes());
    }
    p.extend_from_slice(&count.to_le_bytes());
    p.push(desc);
    p.extend_from_slice(&0x8F92_EAB1u32.to_le_bytes());
    let mut out = 0x184D_2A5Eu32.to_le_bytes().to_vec();
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&p);
    out
}

fn index_frame(payload: &[u8], claimed: Option<u32>) -> Vec<u8> {
    let mut out = 0x184D_2A5Bu32.to_le_bytes().to_vec();
    out.extend_from_slice(&claimed.unwrap_or(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn index_payload(body: &[u8]) -> Vec<u8> {
    let mut p = b"ALIENTAR-INDEX".to_vec();
    p.extend_from_slice(&1u16.to_le_bytes());
    p.extend_from_slice(&zstd::bulk::compress(body, 3).unwrap());
    p
}

/// Forged seek tables and indexes appended to a real archive: the reader
/// falls back to streaming (the tree comes out identical) or fails
/// cleanly; it never trusts them into a wrong tree, a panic or a blow-up.
#[test]
fn forged_seek_tables_and_indexes() {
    let r = real_archive();
    let data = &r.bytes[..r.data_end];
    let index = &r.bytes[r.data_end..r.table_start];
    let fr = &r.frames;
    let mut shifted = fr.clone();
    shifted[0].0 -= 100;
    shifted[1].0 += 100;
    let mut past = fr.clone();
    past[0].0 += 1_000_000;
    let mut huge_d = fr.clone();
    huge_d[0].1 = u32::MAX;
    let mut off_d = fr.clone();
    off_d[0].1 -= 512;
    let mut zero_c = fr.clone();
    zero_c.insert(1, (0, 4096));
    let mut x: u32 = 12345;
    let garbage: Vec<u8> = (0..4000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let mut bomb = b"ALIENTAR-INDEX".to_vec();
    bomb.extend_from_slice(&1u16.to_le_bytes());
    bomb.extend_from_slice(&zstd_rle(500 << 20, 0));
    // Version 3: one member whose chunk claims 500 MiB, 400 chunks of 4 MiB
    // (more than the chunks may hold together), and 2^32-1 members.
    let v3 = |head: &[u8], chunk: &[u8], n: usize| {
        let mut p = b"ALIENTAR-INDEX".to_vec();
        p.extend_from_slice(&3u16.to_le_bytes());
        p.extend_from_slice(head);
        for _ in 0..n {
            p.push(0);
            let mut len = chunk.len();
            while len >= 0x80 {
                p.push(len as u8 | 0x80);
                len >>= 7;
            }
            p.push(len as u8);
            p.extend_from_slice(chunk);
        }
        p
    };
    let bomb3 = v3(&[0, 1, 0], &zstd_rle(500 << 20, 0), 1);
    let many3 = v3(&[0, 1, 0], &zstd_rle(4 << 20, 0), 400);
    let lying3 = v3(&[0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0], &[], 0);
    let mut lying_count = Vec::new();
    lying_count.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // count 2^32-1
    lying_count.push(0);
    lying_count.resize(256, 0);

    // (name, bytes, must the streamed result be identical?)
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("original", r.bytes.clone(), true),
        ("no trailer", data.to_vec(), true),
        (
            "table: sizes past EOF",
            [data, index, &seek_table(&past, past.len() as u32, 0)].concat(),
            true,
        ),
        (
            "table: count 2^32-1",
            [data, index, &seek_table(fr, u32::MAX, 0)].concat(),
            true,
        ),
        (
            "table: count 2^20",
            [data, index, &seek_table(fr, 1 << 20, 0)].concat(),
            true,
        ),
        (
            "table: decompressed size 4 GiB",
            [data, index, &seek_table(&huge_d, huge_d.len() as u32, 0)].concat(),
            true,
        ),
        (
            "table: decompressed size off by 512",
            [data, index, &seek_table(&off_d, off_d.len() as u32, 0)].concat(),
            false,
        ),
        (
            "table: compressed sizes shifted",
            [data, index, &seek_table(&shifted, shifted.len() as u32, 0)].concat(),
            false,
        ),
        (
            "table: a zero-size frame",
            [data, index, &seek_table(&zero_c, zero_c.len() as u32, 0)].concat(),
            true,
        ),
        (
            "table: checksum flag, no checksums",
            [data, index, &seek_table(fr, fr.len() as u32, 0x80)].concat(),
            true,
        ),
        (
            "table: garbage with a footer",
            [data, index, &garbage, &seek_table(&[], 0, 0)[8..]].concat(),
            true,
        ),
        (
            "table: footer only",
            [data, &0x8F92_EAB1u32.to_le_bytes()[..]].concat(),
            true,
        ),
        (
            "index: past EOF",
            [
                data,
                &index_frame(&index[8..], Some(u32::MAX)),
                &seek_table(fr, fr.len() as u32, 0),
            ]
            .concat(),
            true,
        ),
        (
            "index: garbage",
            [
                data,
                &index_frame(&garbage, None),
                &seek_table(fr, fr.len() as u32, 0),
            ]
            .concat(),
            true,
        ),
        (
            "index: 500 MiB of zeros in 16 KB",
            [
                data,
                &index_frame(&bomb, None),
                &seek_table(fr, fr.len() as u32, 0),
            ]
            .concat(),
            true,
        ),
        (
            "index: count 2^32-1",
            [
                data,
                &index_frame(&index_payload(&lying_count), None),
                &seek_table(fr, fr.len() as u32, 0),
            ]
            .concat(),
            true,
        ),
        (
            "index v3: a chunk of 500 MiB in 16 KB",
            [
                data,
                &index_frame(&bomb3, None),
                &seek_table(fr, fr.len() as u32, 0),
            ]
            .concat(),
            true,
        ),
        (
            "index v3: 1.6 GiB of chunks in 100 KB",
            [
                data,
                &index_frame(&many3, None),
                &seek_table(fr, fr.len() as u32, 0),
            ]
            .concat(),
            true,
        ),
        (
            "index v3: count 2^32-1",
            [
                data,
                &index_frame(&lying3, None),
                &seek_table(fr, fr.len() as u32, 0),
            ]
            .concat(),
            true,
        ),
        ("index and table: garbage", [data, &garbage].concat(), true),
    ];
    let want_list = ok(["list", "-f", &s(&r.tree.path().join("real.tar.zst"))]);
    let want_tree = whole_seconds(snapshot(&r.tree.path().join("t")));
    for who in modes("forged_seek_tables_and_indexes") {
        for (name, bytes, identical) in &cases {
            let mut sb = Sandbox::new(who);
            let a = sb.archive("forged.tar.zst", bytes);
            let run = sb.extract(&a, &[]);
            run.sane();
            if *identical {
                assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
            }
            if run.code == Some(0) {
                let mut got = snapshot(&sb.dest.join("t"));
                let mut want = want_tree.clone();
                for m in got.values_mut().chain(want.values_mut()) {
                    (m.uid, m.gid) = (0, 0);
                }
                assert_same(&want, &got);
            } else {
                run.fails();
            }
            let l = alien(who, &["list", "-f", &a, "--no-progress"]);
            l.sane();
            if *identical {
                assert_eq!(l.code, Some(0), "{name}: {}", l.stderr);
                assert_eq!(l.stdout, want_list, "{name}: listing");
            }
            sb.no_temporaries();
        }
    }
}

#[allow(dead_code)]
fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

// ---------------------------------------------------------------------------
// The shared corpus, and sparse members

/// Sparse members of tens of gigabytes (or more) of holes: listed by the
/// corpus sweep, extracted by `sparse_holes_are_not_written` into a small
/// tmpfs (so that a regression writing the holes cannot fill the disk).
const HUGE_SPARSE: [&str; 4] = [
    "go/gnu-sparse-big.tar",
    "go/pax-sparse-big.tar",
    "tar-rs/sparse-large.tar",
    "libarchive/unZ/test_read_format_gtar_sparse_skip_entry.tar",
];

/// Every file of the shared corpus (`../shared/corpus` or
/// `$ALIENTAR_CORPUS`) lists and extracts without a panic, a hang or a
/// blow-up (tests/corpus.rs checks what each one must contain).
#[test]
fn corpus_lists_and_extracts_within_limits() {
    let Some(root) = corpus_dir("corpus_lists_and_extracts_within_limits") else {
        return;
    };
    let who = modes("corpus_lists_and_extracts_within_limits")[0];
    let mut n = 0;
    for p in walk(&root) {
        if !p.is_file() || p.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let rel = s(p.strip_prefix(&root).unwrap());
        let mut sb = Sandbox::new(who);
        let a = sb.archive("corpus.tar", &std::fs::read(&p).unwrap());
        if HUGE_SPARSE.contains(&rel.as_str()) {
            alien(who, &["list", "-v", "-f", &a, "--no-progress"]).sane();
            continue;
        }
        let r = sb.extract(&a, &[]);
        r.sane();
        if r.code != Some(0) {
            assert!(r.stderr.contains("alientar:"), "{rel}: {}", r.stderr);
        }
        n += 1;
    }
    assert!(n > 100, "only {n} corpus files");
}

/// A 3-byte sparse member (GNU 1.0 pax format) claiming 1 TiB of holes.
fn one_tib_of_holes() -> Vec<u8> {
    let mut t = Vec::new();
    pax(
        &mut t,
        b'x',
        &[
            ("GNU.sparse.size", b"1099511627776"),
            ("GNU.sparse.numblocks", b"1"),
            ("GNU.sparse.map", b"500000000000,3"),
            ("GNU.sparse.name", b"huge"),
        ],
    );
    put(&mut t, &raw(b"GNUSparseFile.0/huge", b'0', 3), b"abc");
    eoa(&mut t);
    t
}

/// A sparse member is extracted with holes: a file of 1 TiB of holes (a
/// 3 KB archive) and the corpus' 60 GB ones take no time and no space.
/// Extracted into a 64 MiB tmpfs, so the bug cannot fill the disk.
#[test]
fn sparse_holes_are_not_written() {
    if !is_root() {
        return skip(
            "sparse_holes_are_not_written",
            "needs root to mount a tmpfs",
        );
    }
    let mut archives: Vec<(String, Vec<u8>)> = vec![("1 TiB of holes".into(), one_tib_of_holes())];
    if let Some(root) = corpus_dir("sparse_holes_are_not_written (corpus archives)") {
        for rel in &HUGE_SPARSE[..2] {
            archives.push((rel.to_string(), std::fs::read(root.join(rel)).unwrap()));
        }
    }
    for (name, bytes) in archives {
        let mut sb = Sandbox::new(Who::Root);
        let mnt = sb.dest.clone();
        let out = sh(&format!("mount -t tmpfs -o size=64m tmpfs {}", s(&mnt)));
        if !out.status.success() {
            return skip("sparse_holes_are_not_written", "cannot mount a tmpfs");
        }
        struct Umount(PathBuf);
        impl Drop for Umount {
            fn drop(&mut self) {
                let _ = sh(&format!("umount -l {}", s(&self.0)));
            }
        }
        let _guard = Umount(mnt);
        let a = sb.archive("sparse.tar", &bytes);
        let r = sb.extract(&a, &[]);
        assert_eq!(r.code, Some(0), "{name}: {}", r.stderr);
        for p in walk(&sb.dest) {
            let md = std::fs::symlink_metadata(&p).unwrap();
            assert!(
                md.blocks() < 64 << 10,
                "{name}: {} uses {} blocks",
                s(&p),
                md.blocks()
            );
        }
    }
}

/// `remap` copies a sparse member without expanding its holes (or refuses
/// it): a 3 KB archive claiming 1 TiB of holes must not mean 1 TiB of output.
#[test]
fn remap_does_not_expand_sparse_holes() {
    let t = one_tib_of_holes();
    let who = modes("remap_does_not_expand_sparse_holes")[0];
    let mut sb = Sandbox::new(who);
    let a = sb.archive("holes.tar", &t);
    for out in ["/dev/null", &s(&sb.dest.join("out.tar.zst"))] {
        alien(
            who,
            &[
                "remap",
                "-f",
                &a,
                "-o",
                out,
                "--map",
                "0:0:1",
                "--no-progress",
            ],
        )
        .sane();
    }
    alien(who, &["check", "-f", &a, "--no-progress"]).sane();
}
