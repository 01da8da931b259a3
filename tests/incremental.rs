//! Incremental archives (`create --incremental`, `--incremental-from`):
//! a chain of a full archive and three increments over a copy of the
//! Debian root filesystem (`ALIENTAR_TEST_ROOTFS`), with files added,
//! changed (one with its size and time kept), removed, renamed, re-owned
//! inside the context and replaced by directories and back; the chain
//! restored step by step equals the tree at each step
//! (`scripts/treecmp.py`), as root and as the test user with `--owners
//! userns`. Also what `list` marks, what an unchanged tree's increment
//! holds, GNU tar and bsdtar reading an increment, and deletions that
//! would leave the destination.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const U: &str = TEST_USER;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// The Debian root filesystem of the fixtures, or `None` after saying why
/// `test` is skipped.
fn rootfs(test: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("ALIENTAR_TEST_ROOTFS") else {
        skip(
            test,
            "set ALIENTAR_TEST_ROOTFS to the output of scripts/make-rootfs.sh",
        );
        return None;
    };
    Some(PathBuf::from(dir))
}

/// The changes made to the tree `T` before each increment, as shell
/// scripts run as root in it. `$OWN` is an owner inside the context (42:42
/// in the context's view, as the host stores it), `$SUB` a second one.
const STEPS: [&str; 3] = [
    // 1: added, changed, changed keeping size and time, removed (a file
    // and a tree), renamed (a file and a directory), re-owned, chmod, a
    // file replaced by a directory and a directory by a file, a symlink
    // retargeted, a new hard link, an xattr.
    r#"
    mkdir -p srv/new/deep && echo hello > srv/new/deep/file && echo two > srv/new/file2
    printf 'changed\n' >> etc/hostname
    m=$(stat -c %y etc/issue); printf 'X' | dd of=etc/issue bs=1 count=1 conv=notrunc 2>/dev/null
    touch -d "$m" etc/issue
    rm etc/motd
    rm -r usr/share/doc/apt
    mv etc/debian_version etc/debian_version.renamed
    mv usr/share/doc/bash usr/share/doc/bash-renamed
    chown "$OWN" etc/adduser.conf
    chmod 600 etc/host.conf
    rm etc/ld.so.conf && mkdir etc/ld.so.conf && echo inside > etc/ld.so.conf/inside
    rm -r etc/ld.so.conf.d && echo now-a-file > etc/ld.so.conf.d
    ln -sfn ../usr/lib/os-release.elsewhere etc/os-release
    ln etc/passwd etc/passwd.hardlink
    setfattr -n user.test -v one etc/group
    "#,
    // 2: a directory replaced by a symlink and a symlink by a directory,
    // a hard link removed, a FIFO added, a file grown, a directory
    // re-owned, an xattr changed.
    r#"
    rm -r etc/ld.so.conf && ln -s somewhere etc/ld.so.conf
    rm etc/os-release && mkdir etc/os-release && echo in > etc/os-release/file
    rm etc/passwd.hardlink
    mkfifo run/newfifo
    echo more >> srv/new/file2
    chown "$SUB" srv/new
    setfattr -n user.test -v two etc/group
    "#,
    // 3: one file renamed over another, one truncated.
    r#"
    mv srv/new/file2 srv/new/deep/file
    : > etc/adduser.conf
    "#,
];

/// Run step `i`'s changes in `t`, with `own`/`sub` for `$OWN`/`$SUB`;
/// what they make is then owned by `root` (the context's root as the host
/// sees it) when it is not the host's root.
fn change(t: &Path, i: usize, (own, sub, root): (&str, &str, &str)) {
    let fix = if root == "0:0" {
        String::new()
    } else {
        format!("find . -uid 0 -exec chown -h {root} {{}} +")
    };
    sh_ok(&format!(
        "set -e; cd {} && OWN={own} SUB={sub} && {} \n {fix}",
        s(t),
        STEPS[i]
    ));
    // A change made in the second before the next archive starts is
    // stored by the one after too (the state time's margin): let it pass,
    // so that the listings below hold just what changed.
    std::thread::sleep(std::time::Duration::from_millis(2100));
}

/// `treecmp.py A B` (`--no-root`: without the top directory's metadata);
/// panics with its report when the trees differ.
fn assert_trees_equal(a: &Path, b: &Path, what: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/treecmp.py");
    let out = sh(&format!(
        "python3 {} {} {} --no-root",
        s(&script),
        s(a),
        s(b)
    ));
    assert!(
        out.status.success(),
        "{what}: the trees differ:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How a chain is made and restored: as root, or as U.
trait Runner {
    fn alientar(&self, args: &str) -> String;
}

struct Root;

impl Runner for Root {
    fn alientar(&self, args: &str) -> String {
        let out = sh(&format!("{} {args}", bin().display()));
        assert!(
            out.status.success(),
            "alientar {args} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

struct AsUser;

impl Runner for AsUser {
    fn alientar(&self, args: &str) -> String {
        let out = sh(&format!(
            "cd /tmp && runuser -u {U} -- {} {args}",
            bin().display()
        ));
        assert!(
            out.status.success(),
            "as {U}: alientar {args} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Make the chain over `t` (its full archive, then an increment after
/// each step) with `opts`, restore it step by step into `restored` with
/// `xopts`, and compare with a copy of `t` taken at each step. Returns the
/// archives.
fn chain(
    r: &dyn Runner,
    t: &Path,
    work: &Path,
    (opts, xopts): (&str, &str),
    owners: (&str, &str, &str),
) -> Vec<PathBuf> {
    let restored = work.join("restored");
    let mut archives = vec![work.join("full.tar.zst")];
    r.alientar(&format!(
        "create --incremental --nanoseconds {opts} -f {} -C {} .",
        s(&archives[0]),
        s(t)
    ));
    let snap = |i: usize| {
        let p = work.join(format!("snap{i}"));
        sh_ok(&format!("cp -a {} {}", s(t), s(&p)));
        p
    };
    let mut snaps = vec![snap(0)];
    for i in 0..STEPS.len() {
        change(t, i, owners);
        let a = work.join(format!("inc{}.tar.zst", i + 1));
        r.alientar(&format!(
            "create --nanoseconds {opts} -f {} --incremental-from {} -C {} .",
            s(&a),
            s(&archives[i]),
            s(t)
        ));
        archives.push(a);
        snaps.push(snap(i + 1));
    }
    for (i, a) in archives.iter().enumerate() {
        r.alientar(&format!("extract {xopts} -f {} -C {}", s(a), s(&restored)));
        assert_trees_equal(
            &snaps[i],
            &restored,
            &format!("the chain restored up to {i}"),
        );
    }
    archives
}

/// `list` of an increment, as lines.
fn listing(a: &Path) -> Vec<String> {
    ok(["list", "-f", &s(a)])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A copy of the root filesystem in `work/tree`, as root, changed no later
/// than two seconds ago (see [`change`]).
fn copy_rootfs(from: &Path, work: &Path) -> PathBuf {
    let t = work.join("tree");
    sh_ok(&format!("cp -a {} {}", s(from), s(&t)));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    t
}

/// As root over the Debian tree: the chain restores each step exactly;
/// `list` marks what each increment adds, changes and deletes; an
/// increment of an unchanged tree holds no member and is small.
#[test]
fn chain_over_debian_rootfs_as_root() {
    const T: &str = "chain_over_debian_rootfs_as_root";
    if !is_root() {
        return skip(T, "needs root (owners, device nodes)");
    }
    if !have("setfattr") {
        return skip(T, "setfattr missing (apt-get install attr)");
    }
    let Some(dir) = rootfs(T) else { return };
    let work = tempfile::tempdir().unwrap();
    let t = copy_rootfs(&dir.join("rootfs"), work.path());
    std::fs::create_dir(work.path().join("restored")).unwrap();
    let a = chain(&Root, &t, work.path(), ("", ""), ("42:42", "7:8", "0:0"));
    let l = listing(&a[1]);
    for want in [
        "A ./srv/new/deep/file",
        "M ./etc/hostname",
        "M ./etc/issue",
        "D ./etc/motd",
        "D ./usr/share/doc/apt",
        "D ./etc/debian_version",
        "A ./etc/debian_version.renamed",
        "A ./usr/share/doc/bash-renamed/",
        "M ./etc/adduser.conf",
        "M ./etc/host.conf",
        "M ./etc/ld.so.conf/",
        "A ./etc/ld.so.conf/inside",
        "M ./etc/ld.so.conf.d",
        "M ./etc/os-release",
        "M ./etc/passwd",
        "A ./etc/passwd.hardlink",
        "M ./etc/group",
    ] {
        assert!(l.iter().any(|x| x == want), "{want} not in {l:#?}");
    }
    // Only what changed, and the directories that hold it.
    assert!(l.len() < 80, "{l:#?}");
    assert!(!l.iter().any(|x| x.contains("usr/bin/")), "{l:#?}");
    // Children are deleted before their directory.
    let pos = |n: &str| l.iter().position(|x| x == n).unwrap();
    assert!(pos("D ./usr/share/doc/apt/changelog.gz") < pos("D ./usr/share/doc/apt"));
    // Nothing changed: no member, the whole state in the index.
    let none = work.path().join("none.tar.zst");
    ok([
        "create",
        "--nanoseconds",
        "-f",
        &s(&none),
        "--incremental-from",
        &s(&a[3]),
        "-C",
        &s(&t),
        ".",
    ]);
    assert_eq!(listing(&none), Vec::<String>::new());
    let size = std::fs::metadata(&none).unwrap().len();
    assert!(size < 100_000, "an increment of nothing is {size} bytes");
    // ...and it is PREV enough for the next one.
    sh_ok(&format!("echo new > {}/srv/after", s(&t)));
    let next = work.path().join("next.tar.zst");
    ok([
        "create",
        "--nanoseconds",
        "-f",
        &s(&next),
        "--incremental-from",
        &s(&none),
        "-C",
        &s(&t),
        ".",
    ]);
    assert_eq!(listing(&next), ["M ./srv/", "A ./srv/after"]);
}

/// As the test user, over the tree stored the way rootless podman stores
/// it: created with `--map rootless` (inside a user namespace), restored
/// with `--owners userns`; each step exactly, owners inside the context
/// included.
#[test]
fn chain_over_debian_rootfs_as_user() {
    const T: &str = "chain_over_debian_rootfs_as_user";
    let Some(u) = test_user(T) else { return };
    if !have("setfattr") {
        return skip(T, "setfattr missing (apt-get install attr)");
    }
    let Some(dir) = rootfs(T) else { return };
    let shifted = dir.join("rootfs-shifted");
    let md = std::fs::symlink_metadata(&shifted).unwrap();
    if std::os::unix::fs::MetadataExt::uid(&md) != u.uid {
        return skip(T, "rootfs-shifted was made for another uid");
    }
    let work = tempfile::tempdir().unwrap();
    chmod(work.path(), 0o755);
    let t = copy_rootfs(&shifted, work.path());
    // No namespace of the user's may make device nodes: not part of this.
    sh_ok(&format!(
        "find {} -type c -delete -o -type b -delete",
        s(&t)
    ));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let restored = work.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    for p in [work.path(), &restored] {
        std::os::unix::fs::lchown(p, Some(u.uid), Some(u.gid)).unwrap();
    }
    // Owner 42 and 7:8 inside the context, as the host stores them.
    let own = format!("{0}:{0}", u.sub_uid + 41);
    let sub = format!("{}:{}", u.sub_uid + 6, u.sub_gid + 7);
    let opts = ("--map rootless", "--owners userns --map rootless");
    let root = format!("{}:{}", u.uid, u.gid);
    let a = chain(&AsUser, &t, work.path(), opts, (&own, &sub, &root));
    let l = listing(&a[1]);
    assert!(l.contains(&"M ./etc/adduser.conf".to_string()), "{l:#?}");
    let v = ok(["list", "-v", "-f", &s(&a[1]), "./etc/adduser.conf"]);
    assert!(v.contains(" 42/42 ") || v.contains("/42 "), "{v}");
}

/// GNU tar and bsdtar read an increment: its members come out (the listing
/// headers, pax global headers, are ignored without a word), over an
/// empty directory and, GNU tar with --recursive-unlink, over the restored
/// full archive.
#[test]
fn other_tars_read_an_increment() {
    const T: &str = "other_tars_read_an_increment";
    for tool in ["tar", "bsdtar", "zstd"] {
        if !have(tool) {
            return skip(T, &format!("{tool} missing"));
        }
    }
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t");
    sh_ok(&format!(
        "mkdir -p {0}/d/sub {0}/gone && echo a > {0}/a && echo b > {0}/d/b && echo g > {0}/gone/g",
        s(&t)
    ));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let full = work.path().join("full.tar.zst");
    ok([
        "create",
        "--incremental",
        "-f",
        &s(&full),
        "-C",
        &s(&t),
        ".",
    ]);
    sh_ok(&format!(
        "echo changed > {0}/d/b && rm -r {0}/gone && echo gone-now-a-file > {0}/gone",
        s(&t)
    ));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let inc = work.path().join("inc.tar.zst");
    ok([
        "create",
        "-f",
        &s(&inc),
        "--incremental-from",
        &s(&full),
        "-C",
        &s(&t),
        ".",
    ]);
    for (tool, extra) in [("tar", ""), ("bsdtar", "")] {
        let e = work.path().join(format!("{tool}-empty"));
        std::fs::create_dir(&e).unwrap();
        let out = sh(&format!("{tool} {extra} -xf {} -C {}", s(&inc), s(&e)));
        assert!(out.status.success(), "{tool}: {out:?}");
        assert!(out.stderr.is_empty(), "{tool} said: {out:?}");
        assert_eq!(std::fs::read(e.join("d/b")).unwrap(), b"changed\n");
        assert_eq!(std::fs::read(e.join("gone")).unwrap(), b"gone-now-a-file\n");
        assert!(!e.join("a").exists(), "{tool}: a is not in the increment");
    }
    let over = work.path().join("over");
    std::fs::create_dir(&over).unwrap();
    ok(["extract", "-f", &s(&full), "-C", &s(&over)]);
    let out = sh(&format!(
        "tar --recursive-unlink -xf {} -C {}",
        s(&inc),
        s(&over)
    ));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read(over.join("gone")).unwrap(),
        b"gone-now-a-file\n"
    );
}

/// Deleted names are removed beneath the destination only: never through
/// a symlink the destination holds (its target outside survives), never
/// the destination itself, never above it.
#[test]
fn deletions_stay_beneath_the_destination() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t");
    sh_ok(&format!(
        "mkdir -p {0}/d/x && echo 1 > {0}/d/x/f && echo 2 > {0}/top",
        s(&t)
    ));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let full = work.path().join("full.tar.zst");
    ok([
        "create",
        "--incremental",
        "-f",
        &s(&full),
        "-C",
        &s(&t),
        ".",
    ]);
    sh_ok(&format!("rm -r {0}/d/x {0}/top", s(&t)));
    let inc = work.path().join("inc.tar.zst");
    ok([
        "create",
        "-f",
        &s(&inc),
        "--incremental-from",
        &s(&full),
        "-C",
        &s(&t),
        ".",
    ]);
    let l = listing(&inc);
    assert!(l.contains(&"D ./d/x/f".to_string()), "{l:#?}");
    // The destination holds d as a symlink to a directory outside.
    let outside = work.path().join("outside");
    sh_ok(&format!(
        "mkdir -p {0}/x && echo keep > {0}/x/f",
        s(&outside)
    ));
    let dest = work.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("d")).unwrap();
    std::fs::write(dest.join("top"), "2\n").unwrap();
    let out = run(["extract", "-f", &s(&inc), "-C", &s(&dest)]);
    assert!(outside.join("x/f").exists(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("symlink"), "{err}");
    assert!(!dest.join("top").exists());
    // A hand-made increment deleting `.`, `..` and `/etc` deletes nothing.
    let evil = work.path().join("evil.tar");
    sh_ok(&format!(
        "python3 - {} <<'EOF'\n{}\nEOF",
        s(&evil),
        EVIL_INCREMENT
    ));
    let victim = work.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("keep"), "k").unwrap();
    let dest2 = victim.join("dest");
    std::fs::create_dir(&dest2).unwrap();
    std::fs::write(dest2.join("keep"), "k").unwrap();
    let out = run(["extract", "-f", &s(&evil), "-C", &s(&dest2)]);
    assert!(victim.join("keep").exists() && dest2.join("keep").exists());
    assert!(std::path::Path::new("/etc/passwd").exists());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("deletes the destination itself"), "{err}");
    assert!(err.contains(".."), "{err}");
}

/// A tar stream whose listing header deletes `.`, `../keep` and `/etc`.
const EVIL_INCREMENT: &str = r#"
import sys, tarfile, io
def rec(k, v):
    body = k.encode() + b'=' + v + b'\n'
    n = len(body) + 1
    while len(str(n)) + 1 + len(body) != n: n = len(str(n)) + 1 + len(body)
    return str(n).encode() + b' ' + body
def hdr(name, flag, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.type = flag
    return ti.tobuf(format=tarfile.USTAR_FORMAT) + data + b'\0' * ((512 - len(data) % 512) % 512)
g = rec('ALIENTAR.version', b'1') + rec('ALIENTAR.incremental', b'increment')
d = rec('ALIENTAR.deleted', b'.\0../keep\0/etc\0./\0')
ti = tarfile.TarInfo('x'); ti.size = 0
out = hdr('alientar.global', b'g', g) + hdr('alientar.incremental', b'g', d) + ti.tobuf(format=tarfile.USTAR_FORMAT) + b'\0' * 1024
open(sys.argv[1], 'wb').write(out)
"#;

/// PREV of every kind: a chain's full archive without an index (read
/// whole, its state time from its global header), an archive not made for
/// a chain (a warning), an increment without an index (refused: it holds
/// only what it changed); `list --json` says what each member is; remap
/// refuses an increment.
#[test]
fn previous_archives_of_every_kind() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t");
    sh_ok(&format!(
        "mkdir -p {0}/d && echo a > {0}/a && echo b > {0}/d/b",
        s(&t)
    ));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let a = |n: &str| s(&work.path().join(n));
    let create = |args: &[&str]| {
        let mut v = vec!["create"];
        v.extend_from_slice(args);
        v.extend_from_slice(&["-C", t.to_str().unwrap(), "."]);
        run(v)
    };
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    for (full, flag) in [
        ("chain.tar", "--incremental"),
        ("plain.tar.zst", "--numeric-owner"),
    ] {
        let o = create(&["-f", &a(full), flag]);
        assert!(o.status.success(), "{o:?}");
    }
    std::fs::write(t.join("a"), "changed\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let o = create(&[
        "-f",
        &a("i1.tar.zst"),
        "--incremental-from",
        &a("chain.tar"),
    ]);
    assert!(o.status.success() && stderr(&o).is_empty(), "{o:?}");
    assert_eq!(listing(&work.path().join("i1.tar.zst")), ["M ./", "M ./a"]);
    let o = create(&[
        "-f",
        &a("i2.tar.zst"),
        "--incremental-from",
        &a("plain.tar.zst"),
    ]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        stderr(&o).contains("was not made with --incremental"),
        "{o:?}"
    );
    // An increment without an index: made, with a warning; refused as PREV.
    std::fs::write(t.join("d/b"), "B\n").unwrap();
    let o = create(&["-f", &a("i3.tar"), "--incremental-from", &a("i1.tar.zst")]);
    assert!(o.status.success(), "{o:?}");
    assert!(stderr(&o).contains("no entry index"), "{o:?}");
    let o = create(&["-f", &a("i4.tar.zst"), "--incremental-from", &a("i3.tar")]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        stderr(&o).contains("is an increment without an entry index"),
        "{o:?}"
    );
    // What list says of each member, from the index and from the stream.
    for (name, changed) in [("i1.tar.zst", "./a"), ("i3.tar", "")] {
        let json = ok(["list", "--json", "-f", &a(name)]);
        assert!(json.lines().count() >= 2, "{name}: {json}");
        for l in json.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let want = if v["path"] == changed || v["path"] == "." || name == "i3.tar" {
                "changed"
            } else {
                "added"
            };
            assert_eq!(v["change"], want, "{name}: {l}");
        }
    }
    let o = run([
        "remap",
        "-f",
        &a("i1.tar.zst"),
        "-o",
        &a("re.tar.zst"),
        "--map",
        "0:1:1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stderr(&o).contains("is an increment"), "{o:?}");
    assert!(!work.path().join("re.tar.zst").exists());
}

/// An increment restored with `--owners xattr` keeps the records of what
/// it does not touch: the owners of a directory's other symlinks (kept on
/// the directory) survive an increment that changes one of them, and
/// `create --from-xattrs` of the restored tree gives every owner back.
#[test]
fn xattr_sink_keeps_what_increments_leave() {
    const T: &str = "xattr_sink_keeps_what_increments_leave";
    if !is_root() {
        return skip(T, "needs root (to own symlinks as others)");
    }
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t");
    sh_ok(&format!(
        "mkdir -p {0}/d && ln -s x {0}/d/s1 && ln -s y {0}/d/s2 && echo f > {0}/d/f \
         && chown -h 5:5 {0}/d/s1 && chown -h 6:6 {0}/d/s2 && chown 7:7 {0}/d/f",
        s(&t)
    ));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let a = |n: &str| s(&work.path().join(n));
    ok([
        "create",
        "--incremental",
        "-f",
        &a("full.tar.zst"),
        "-C",
        &s(&t),
        ".",
    ]);
    sh_ok(&format!(
        "ln -sfn z {0}/d/s2 && chown -h 6:6 {0}/d/s2 && echo g >> {0}/d/f",
        s(&t)
    ));
    ok([
        "create",
        "-f",
        &a("inc.tar.zst"),
        "--incremental-from",
        &a("full.tar.zst"),
        "-C",
        &s(&t),
        ".",
    ]);
    let l = listing(&work.path().join("inc.tar.zst"));
    assert!(!l.iter().any(|x| x.contains("s1")), "{l:#?}");
    let dest = work.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    for n in ["full.tar.zst", "inc.tar.zst"] {
        ok(["extract", "--owners", "xattr", "-f", &a(n), "-C", &s(&dest)]);
    }
    ok([
        "create",
        "--from-xattrs",
        "-f",
        &a("back.tar.zst"),
        "-C",
        &s(&dest),
        ".",
    ]);
    let v = ok(["list", "-v", "--numeric-owner", "-f", &a("back.tar.zst")]);
    for (name, owner) in [
        ("./d/s1 -> x", "5/5"),
        ("./d/s2 -> z", "6/6"),
        ("./d/f", "7/7"),
    ] {
        let line = v
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name}: {v}"));
        assert!(
            line.contains(&format!(" {owner} ")),
            "{name} should be {owner}: {line}"
        );
    }
}

/// What `--exclude` and the like leave out of an increment is not deleted
/// (GNU tar's `--listed-incremental` marks it present, not dumped): a
/// name excluded by pattern, a directory excluded with what is below it,
/// a cache's contents. Restoring the chain keeps them; the next increment
/// that walks them stores them as new. A name really gone is deleted.
#[test]
fn exclusions_are_not_deletions() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t");
    sh_ok(&format!(
        "mkdir -p {0}/d {0}/cache && cd {0} && echo a > a && echo b > b.log && echo x > d/x \
         && echo gone > gone && echo data > cache/data \
         && printf 'Signature: 8a477f597d28d172789f06886806bc55\\n' > cache/CACHEDIR.TAG",
        s(&t)
    ));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let a = |n: &str| s(&work.path().join(n));
    let create = |args: &[&str]| {
        let mut v = vec!["create"];
        v.extend_from_slice(args);
        v.extend_from_slice(&["-C", t.to_str().unwrap(), "."]);
        let o = run(v);
        assert!(o.status.success(), "{o:?}");
    };
    create(&["-f", &a("full.tar.zst"), "--incremental"]);
    std::fs::remove_file(t.join("gone")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    create(&[
        "-f",
        &a("i1.tar.zst"),
        "--incremental-from",
        &a("full.tar.zst"),
        "--exclude",
        "*.log",
        "--exclude",
        "./d",
        "--exclude-caches",
    ]);
    assert_eq!(
        listing(&work.path().join("i1.tar.zst")),
        ["D ./gone", "M ./"]
    );
    let r = work.path().join("r");
    std::fs::create_dir(&r).unwrap();
    for n in ["full.tar.zst", "i1.tar.zst"] {
        ok(["extract", "-f", &a(n), "-C", r.to_str().unwrap()]);
    }
    for kept in ["b.log", "d/x", "cache/data", "cache/CACHEDIR.TAG"] {
        assert!(r.join(kept).exists(), "{kept} was deleted");
    }
    assert!(!r.join("gone").exists());
    // Walked again: stored as new, as the increment's state lacks them.
    create(&[
        "-f",
        &a("i2.tar.zst"),
        "--incremental-from",
        &a("i1.tar.zst"),
    ]);
    let got = listing(&work.path().join("i2.tar.zst"));
    for want in ["A ./b.log", "A ./d/", "A ./d/x", "A ./cache/data"] {
        assert!(got.iter().any(|l| l == want), "no {want} in {got:?}");
    }
    assert!(!got.iter().any(|l| l.starts_with("D ")), "{got:?}");
}

/// The names an increment deletes pass through the reading commands'
/// member selection as members do: `list` and `extract` with `--exclude`
/// leave an excluded deleted name out (extract keeps it on disk), and
/// `--strip-components` strips them (a name with no more components is
/// not listed).
#[test]
fn deleted_names_follow_member_selection() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t");
    sh_ok(&format!(
        "mkdir -p {0}/sub && cd {0} && echo 1 > one && echo 2 > two && echo 3 > sub/three",
        s(&t)
    ));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let a = |n: &str| s(&work.path().join(n));
    let create = |args: &[&str]| {
        let mut v = vec!["create"];
        v.extend_from_slice(args);
        v.extend_from_slice(&["-C", t.to_str().unwrap(), "."]);
        let o = run(v);
        assert!(o.status.success(), "{o:?}");
    };
    create(&["-f", &a("full.tar.zst"), "--incremental"]);
    sh_ok(&format!("cd {} && rm one two sub/three", s(&t)));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    create(&[
        "-f",
        &a("i1.tar.zst"),
        "--incremental-from",
        &a("full.tar.zst"),
    ]);
    let inc = a("i1.tar.zst");
    let all = listing(&work.path().join("i1.tar.zst"));
    for want in ["D ./one", "D ./two", "D ./sub/three"] {
        assert!(all.iter().any(|l| l == want), "no {want} in {all:?}");
    }
    let got = ok(["list", "-f", &inc, "--exclude", "./one"]);
    assert!(!got.contains("D ./one"), "{got}");
    assert!(got.contains("D ./two"), "{got}");
    let got = ok([
        "list",
        "-f",
        &inc,
        "--strip-components",
        "2",
        "--show-transformed-names",
    ]);
    assert_eq!(got.lines().collect::<Vec<_>>(), ["D three"], "{got}");
    let r = work.path().join("r");
    std::fs::create_dir(&r).unwrap();
    ok([
        "extract",
        "-f",
        &a("full.tar.zst"),
        "-C",
        r.to_str().unwrap(),
    ]);
    ok([
        "extract",
        "-f",
        &inc,
        "-C",
        r.to_str().unwrap(),
        "--exclude",
        "./one",
    ]);
    assert!(
        r.join("one").exists(),
        "an excluded deleted name was deleted"
    );
    assert!(!r.join("two").exists() && !r.join("sub/three").exists());
}

/// An image is no link of a chain: `create --oci` refuses `--incremental`
/// and `--incremental-from`, and an image (`oci:DIR`) is refused as PREV,
/// saying why; nothing is written.
#[test]
fn images_and_increments_do_not_mix() {
    let work = tempfile::tempdir().unwrap();
    let t = work.path().join("t");
    sh_ok(&format!("mkdir -p {0} && echo a > {0}/a", s(&t)));
    let a = |n: &str| s(&work.path().join(n));
    let dir = t.to_str().unwrap();
    let o = run(["create", "--oci", &a("img:t"), "-C", dir, "."]);
    assert!(o.status.success(), "{o:?}");
    ok([
        "create",
        "-f",
        &a("full.tar.zst"),
        "--incremental",
        "-C",
        dir,
        ".",
    ]);
    let (full, img2) = (a("full.tar.zst"), a("img2:t"));
    for extra in [vec!["--incremental"], vec!["--incremental-from", &full]] {
        let mut v = vec!["create", "--oci", &img2, "-C", dir, "."];
        v.extend(extra);
        let o = run(v);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("cannot be used with"), "{err}");
        assert!(!work.path().join("img2").exists());
    }
    let prev = format!("oci:{}:t", a("img"));
    let o = run([
        "create",
        "-f",
        &a("i1.tar.zst"),
        "--incremental-from",
        &prev,
        "-C",
        dir,
        ".",
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("an image records no state"), "{err}");
    assert!(!work.path().join("i1.tar.zst").exists());
}
