//! Shared helpers for the end-to-end tests: a command builder, tree
//! builders and a tree snapshot to compare extracted trees with originals.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::hash::{DefaultHasher, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

// The unit tests' helpers, shared: `noise`.
#[path = "../../src/testutil.rs"]
mod testutil;

/// docs/guide.md's blocks, run as written.
pub mod guide;

/// Running user namespaces and the test user, for the live-context tests.
pub mod live;

/// Rootless podman for the test user, in storage of its own.
pub mod podman;
#[allow(unused_imports)] // (not every test file uses it)
pub use testutil::{noise, zstd_rle};

/// The alientar binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_alientar"))
}

/// Run alientar with `args`; returns the output.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(bin())
        .args(args)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .expect("run alientar")
}

/// Run and assert success; returns stdout as a string.
pub fn ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = run(&args);
    assert!(
        out.status.success(),
        "alientar {:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        args,
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a shell command line; returns the output.
pub fn sh(cmd: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .output()
        .expect("run sh")
}

/// Run a shell command and assert success; returns stdout.
pub fn sh_ok(cmd: &str) -> String {
    let out = sh(cmd);
    assert!(
        out.status.success(),
        "`{cmd}` failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Is this program on PATH?
pub fn have(cmd: &str) -> bool {
    sh(&format!("command -v {cmd} >/dev/null 2>&1"))
        .status
        .success()
}

/// Are we root?
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A test (or part of one) is skipped because a prerequisite is missing:
/// say so where a reader of `cargo test` sees it, and fail when `CI` is set
/// (`.ci/run` installs every prerequisite, so a skip there is a defect).
pub fn skip(test: &str, why: &str) {
    announce_skip(test, why);
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false") {
        panic!("{test} skipped in CI: {why}");
    }
}

/// A test is skipped for a reason that is not a missing prerequisite (the
/// optional shared corpus, a race that did not happen this time): said
/// visibly, never a failure.
pub fn skip_optional(test: &str, why: &str) {
    announce_skip(test, why);
}

/// Write the skip straight to the process's standard error: libtest
/// captures `eprintln!` of a passing test, so a skip printed that way is
/// never seen under plain `cargo test`.
fn announce_skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "*** SKIPPED {test}: {why} ***");
}

/// The shared tar corpus: `$ALIENTAR_CORPUS`, else `../shared/corpus`
/// beside the crate. `None` (said visibly) when it is absent.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    let p = std::env::var_os("ALIENTAR_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if p.is_dir() {
        Some(p)
    } else {
        skip_optional(
            test,
            &format!(
                "tar corpus not found at {} (set ALIENTAR_CORPUS)",
                p.display()
            ),
        );
        None
    }
}

/// Set a file's mtime with nanoseconds, not following symlinks.
pub fn set_mtime(p: &Path, sec: i64, nsec: i64) {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
    let t = Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    utimensat(
        CWD,
        p,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap_or_else(|e| panic!("utimensat {}: {e}", p.display()));
}

/// lchown.
pub fn lchown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("lchown {}: {e}", p.display()));
}

/// chmod (not for symlinks).
pub fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Build a small tree with every kind of entry alientar must carry:
/// `root/t/...`. Owners and devices need root; without it those parts are
/// left out. Returns the tree's top directory.
pub fn make_tree(root: &Path) -> PathBuf {
    let t = root.join("t");
    let mk = |p: &str| std::fs::create_dir_all(t.join(p)).unwrap();
    mk("etc");
    mk("usr/bin");
    mk("run");
    mk("dev");
    mk(&"deep/".repeat(60));
    std::fs::write(t.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(t.join("etc/empty"), "").unwrap();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(t.join("usr/bin/su"), &big).unwrap();
    std::fs::hard_link(t.join("usr/bin/su"), t.join("usr/bin/su-link")).unwrap();
    std::os::unix::fs::symlink("usr/bin", t.join("bin")).unwrap();
    std::os::unix::fs::symlink("x".repeat(300), t.join("long-target")).unwrap();
    let long_name = format!(
        "{}/{}",
        "deep/".repeat(60).trim_end_matches('/'),
        "f".repeat(200)
    );
    std::fs::write(t.join(&long_name), "deep\n").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        t.join("run/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    xattr::set(t.join("etc/empty"), "user.note", b"hello\0bytes").unwrap();
    chmod(&t.join("etc/shadow"), 0o640);
    chmod(&t.join("usr/bin/su"), 0o4755);
    if is_root() {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            t.join("dev/null"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            t.join("dev/sda"),
            rustix::fs::FileType::BlockDevice,
            rustix::fs::Mode::from_raw_mode(0o660),
            rustix::fs::makedev(8, 0),
        )
        .unwrap();
        chmod(&t.join("dev/null"), 0o666);
        chmod(&t.join("dev/sda"), 0o660);
        lchown(&t.join("etc/shadow"), 0, 42);
        lchown(&t.join("run/fifo"), 3_000_000, 4_000_000);
        lchown(&t.join("bin"), 7, 8);
        chmod(&t.join("usr/bin/su"), 0o4755);
    }
    // Nanosecond mtimes everywhere, deepest first so directories keep theirs.
    let mut all: Vec<PathBuf> = walk(&t);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in all.iter().enumerate() {
        set_mtime(p, 1_600_000_000 + i as i64, 123_456_789 - i as i64);
    }
    t
}

/// Every path under (and including) `root`.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let p = out[i].clone();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            let mut kids: Vec<PathBuf> = std::fs::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            kids.sort();
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// What a test compares about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub size: u64,
    pub content: u64,
    pub target: Option<Vec<u8>>,
    pub rdev: u64,
    pub nlink: u64,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Snapshot a tree: relative path → metadata (and a content hash).
pub fn snapshot(root: &Path) -> BTreeMap<String, Meta> {
    let mut out = BTreeMap::new();
    for p in walk(root) {
        let md = std::fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let mut content = 0;
        if md.is_file() {
            let mut h = DefaultHasher::new();
            h.write(&std::fs::read(&p).unwrap());
            content = h.finish();
        }
        let target = md.file_type().is_symlink().then(|| {
            std::fs::read_link(&p)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec()
        });
        let mut xattrs: Vec<(String, Vec<u8>)> = xattr::list(&p)
            .map(|names| {
                names
                    .filter_map(|n| Some((n.to_str()?.to_owned(), xattr::get(&p, &n).ok()??)))
                    .collect()
            })
            .unwrap_or_default();
        xattrs.sort();
        out.insert(
            rel,
            Meta {
                kind: md.mode() & 0o170000,
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                mtime: (md.mtime(), md.mtime_nsec()),
                size: if md.is_dir() { 0 } else { md.size() },
                content,
                target,
                rdev: md.rdev(),
                nlink: if md.is_dir() { 0 } else { md.nlink() },
                xattrs,
            },
        );
    }
    out
}

/// Assert two snapshots are equal, printing the first differences.
pub fn assert_same(a: &BTreeMap<String, Meta>, b: &BTreeMap<String, Meta>) {
    let mut diffs = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => diffs.push(format!("missing: {k}")),
            Some(w) if w != v => diffs.push(format!("differs: {k}\n   want {v:?}\n   got  {w:?}")),
            _ => {}
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            diffs.push(format!("extra: {k}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(15)].join("\n")
    );
}

/// `snap` as an archive made without `--nanoseconds` keeps it: mtimes
/// rounded down to whole seconds.
pub fn whole_seconds(mut snap: BTreeMap<String, Meta>) -> BTreeMap<String, Meta> {
    for m in snap.values_mut() {
        m.mtime.1 = 0;
    }
    snap
}

/// The dedicated ordinary user `.ci/run` creates, with subordinate ranges.
pub const TEST_USER: &str = "alientar-test";

/// The test user's IDs and first subordinate IDs.
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub sub_uid: u32,
    pub sub_gid: u32,
}

/// The test user, or `None` after saying loudly why `test` is skipped (not
/// root, no such user, no subordinate ranges, no newuidmap).
pub fn test_user(test: &str) -> Option<User> {
    if !is_root() {
        skip(test, "needs root to drop privileges to the test user");
        return None;
    }
    let id = sh(&format!("id -u {TEST_USER} && id -g {TEST_USER}"));
    if !id.status.success() {
        skip(
            test,
            "no user alientar-test with /etc/subuid ranges (.ci/run creates it)",
        );
        return None;
    }
    if !have("newuidmap") {
        skip(test, "newuidmap missing (apt-get install uidmap)");
        return None;
    }
    let out = String::from_utf8_lossy(&id.stdout).into_owned();
    let mut it = out.split_whitespace().map(|s| s.parse::<u32>().unwrap());
    let (uid, gid) = (it.next().unwrap(), it.next().unwrap());
    let first = |file: &str| -> Option<u32> {
        std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && (f[0] == TEST_USER || f[0] == uid.to_string()))
                .then(|| f[1].parse().ok())
                .flatten()
        })
    };
    let (Some(sub_uid), Some(sub_gid)) = (first("/etc/subuid"), first("/etc/subgid")) else {
        skip(
            test,
            "alientar-test has no /etc/subuid or /etc/subgid range",
        );
        return None;
    };
    Some(User {
        uid,
        gid,
        sub_uid,
        sub_gid,
    })
}

/// Copy `t` to `dst` stored the way rootless podman stores it: id 0 →
/// `own`, id N → `sub` + N − 1, for uids and gids (each a pair (own, sub));
/// modes (setuid) and nanosecond mtimes kept, hard links shifted once.
pub fn shifted_copy(t: &Path, dst: &Path, uids: (u32, u32), gids: (u32, u32)) {
    sh_ok(&format!("cp -a {} {}", t.display(), dst.display()));
    let shift = |(own, sub): (u32, u32), id: u32| if id == 0 { own } else { sub + id - 1 };
    let mut all = walk(dst);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let mut seen = std::collections::HashSet::new();
    for p in all {
        let md = std::fs::symlink_metadata(&p).unwrap();
        if !seen.insert(md.ino()) {
            continue;
        }
        lchown(&p, shift(uids, md.uid()), shift(gids, md.gid()));
        if !md.file_type().is_symlink() {
            chmod(&p, md.mode() & 0o7777);
        }
        set_mtime(&p, md.mtime(), md.mtime_nsec());
    }
}
