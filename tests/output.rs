//! Where `create` and `remap` put the archive: written into what `-f`
//! names when that is not a regular file (devices, FIFOs, `/dev/stdout`),
//! at a symlink's target, with the old archive's mode, owner, ACL and hard
//! links kept; compressed as the name or `-z`/`-J`/`-j` says; stale
//! temporaries of killed runs removed. Special files are made in a scratch
//! directory, never on the machine's own /dev.

mod common;

use common::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A small tree to archive: `tmp/tree` with two files.
fn tree(tmp: &Path) -> PathBuf {
    let t = tmp.join("tree");
    std::fs::create_dir_all(t.join("d")).unwrap();
    std::fs::write(t.join("d/hello"), "hello\n").unwrap();
    std::fs::write(t.join("big"), "x".repeat(100_000)).unwrap();
    t
}

/// `alientar create -f archive -C tree .` with `extra` options; asserts success.
fn create(archive: &Path, t: &Path, extra: &[&str]) {
    let mut args = vec![
        "create",
        "-f",
        archive.to_str().unwrap(),
        "-C",
        t.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(".");
    ok(args);
}

/// The members alientar lists in `archive`.
fn members(archive: &Path) -> String {
    ok(["list", "-f", &s(archive)])
}

fn assert_holds_tree(archive: &Path) {
    let l = members(archive);
    assert!(
        l.contains("./d/hello\n") && l.contains("./big\n"),
        "{}: {l}",
        archive.display()
    );
}

/// Wait for `child` at most `secs`; kill it (it is ours) and fail otherwise.
fn wait_or_kill(child: &mut std::process::Child, secs: u64, what: &str) {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "{what} failed: {st}");
            return;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still waiting after {secs} s: nothing was written into the FIFO");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `-f` a character device (1:3, made in a scratch directory): it is
/// written into and stays a device, as with GNU tar.
#[test]
fn char_device_target_is_written_into_not_replaced() {
    if !is_root() {
        return skip(
            "char_device_target_is_written_into_not_replaced",
            "needs root for mknod",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let null = tmp.path().join("null");
    sh_ok(&format!("mknod '{}' c 1 3", null.display()));
    if std::fs::OpenOptions::new().write(true).open(&null).is_err() {
        return skip(
            "char_device_target_is_written_into_not_replaced",
            "device nodes cannot be opened here (nodev mount)",
        );
    }
    for name in [&null, &tmp.path().join("null.tar.gz")] {
        if name != &null {
            std::os::unix::fs::symlink("null", name).unwrap();
        }
        create(name, &t, &[]);
        let m = std::fs::metadata(&null).unwrap();
        assert!(
            m.file_type().is_char_device(),
            "{} is no longer a device",
            null.display()
        );
        assert_eq!(m.rdev(), libc_makedev(1, 3));
    }
    assert!(
        std::fs::symlink_metadata(tmp.path().join("null.tar.gz"))
            .unwrap()
            .is_symlink()
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
}

fn libc_makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
}

/// `-f` a FIFO with a reader: the reader gets the archive, which lists.
#[test]
fn fifo_target_gets_the_archive_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let fifo = tmp.path().join("fifo");
    sh_ok(&format!("mkfifo '{}'", fifo.display()));
    let got = tmp.path().join("got.tar");
    let mut reader = std::process::Command::new("cat")
        .arg(&fifo)
        .stdout(std::fs::File::create(&got).unwrap())
        .spawn()
        .unwrap();
    let out = run(["create", "-f", &s(&fifo), "-C", &s(&t), "."]);
    // Whatever happened, the reader must not wait forever.
    if !out.status.success() {
        let _ = reader.kill();
        let _ = reader.wait();
        panic!(
            "create -f FIFO failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wait_or_kill(&mut reader, 10, "cat FIFO");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_holds_tree(&got);
}

/// `-f` a symlink to a regular file: the symlink stays, its target (in
/// another directory) holds the archive; a dangling symlink's target is
/// created.
#[test]
fn symlink_target_gets_the_archive_and_the_link_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    std::fs::create_dir_all(tmp.path().join("real")).unwrap();
    std::fs::create_dir_all(tmp.path().join("links")).unwrap();
    let real = tmp.path().join("real/a.tar");
    std::fs::write(&real, "old").unwrap();
    let link = tmp.path().join("links/a.tar");
    std::os::unix::fs::symlink("../real/a.tar", &link).unwrap();
    create(&link, &t, &[]);
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("../real/a.tar")
    );
    assert_holds_tree(&real);
    let dangling = tmp.path().join("links/new.tar");
    std::os::unix::fs::symlink("../real/new.tar", &dangling).unwrap();
    create(&dangling, &t, &[]);
    assert!(std::fs::symlink_metadata(&dangling).unwrap().is_symlink());
    assert_holds_tree(&tmp.path().join("real/new.tar"));
    // Nothing else left in either directory.
    let names = |d: &str| {
        let mut v: Vec<String> = std::fs::read_dir(tmp.path().join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("real"), ["a.tar", "new.tar"]);
    assert_eq!(names("links"), ["a.tar", "new.tar"]);
}

/// A 0600 archive owned by the test user, rewritten by root: still 0600,
/// still the user's.
#[test]
fn rewritten_archive_keeps_mode_and_owner() {
    let Some(u) = test_user("rewritten_archive_keeps_mode_and_owner") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let a = tmp.path().join("a.tar");
    std::fs::write(&a, "old").unwrap();
    chmod(&a, 0o600);
    lchown(&a, u.uid, u.gid);
    create(&a, &t, &[]);
    let m = std::fs::metadata(&a).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o600, u.uid, u.gid));
    assert_holds_tree(&a);
}

/// The old archive's ACL is the new one's.
#[test]
fn rewritten_archive_keeps_its_acl() {
    if !have("setfacl") || !have("getfacl") {
        return skip(
            "rewritten_archive_keeps_its_acl",
            "setfacl/getfacl missing (apt-get install acl)",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let a = tmp.path().join("a.tar.gz");
    std::fs::write(&a, "old").unwrap();
    chmod(&a, 0o640);
    if !sh(&format!("setfacl -m u:12345:rw '{}'", a.display()))
        .status
        .success()
    {
        return skip(
            "rewritten_archive_keeps_its_acl",
            "no ACLs on this filesystem",
        );
    }
    let before = sh_ok(&format!("getfacl -cn '{}'", a.display()));
    assert!(before.contains("user:12345:rw-"), "{before}");
    create(&a, &t, &[]);
    assert_eq!(sh_ok(&format!("getfacl -cn '{}'", a.display())), before);
    assert_holds_tree(&a);
}

/// A hard-linked archive is rewritten in place: both names still show the
/// same (new) archive.
#[test]
fn hard_linked_archive_stays_hard_linked() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let a = tmp.path().join("a.tar");
    let b = tmp.path().join("b.tar");
    std::fs::write(&a, "old archive, longer than nothing ".repeat(10_000)).unwrap();
    std::fs::hard_link(&a, &b).unwrap();
    let ino = std::fs::metadata(&a).unwrap().ino();
    create(&a, &t, &[]);
    let (ma, mb) = (
        std::fs::metadata(&a).unwrap(),
        std::fs::metadata(&b).unwrap(),
    );
    assert_eq!((ma.ino(), mb.ino(), ma.nlink()), (ino, ino, 2));
    assert_holds_tree(&b);
    // Truncated to the new archive: nothing of the old one after it.
    assert_eq!(ma.len() % 512, 0);
    assert!(!std::fs::read(&b).unwrap().windows(3).any(|w| w == b"old"));
}

/// As the ordinary test user, `-f /dev/null` and `-f /dev/stdout` work
/// (the user cannot replace either; before, both failed with "Permission
/// denied" on the temporary in /dev).
#[test]
fn ordinary_user_writes_to_dev_null_and_dev_stdout() {
    let Some(_u) = test_user("ordinary_user_writes_to_dev_null_and_dev_stdout") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o777);
    let t = tree(tmp.path());
    sh_ok(&format!("chmod -R a+rX '{}'", t.display()));
    let bin = bin();
    let u = TEST_USER;
    let run_as = |cmd: &str| sh(&format!("cd /tmp && runuser -u {u} -- sh -c '{cmd}'"));
    let out = run_as(&format!(
        "{} create -f /dev/null -C {} .",
        bin.display(),
        t.display()
    ));
    assert!(
        out.status.success(),
        "-f /dev/null: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Standard output a pipe made by root (not reopenable by the user),
    // then a pipe made by the user, then a file of the user's.
    let dst = tmp.path().join("out.tar");
    for cmd in [
        format!(
            "{} create -f /dev/stdout -C {} .",
            bin.display(),
            t.display()
        ),
        format!(
            "{} create -f /dev/stdout -C {} . | cat",
            bin.display(),
            t.display()
        ),
        format!(
            "{} create -f /dev/stdout -C {} . > {}; cat {}",
            bin.display(),
            t.display(),
            dst.display(),
            dst.display()
        ),
    ] {
        let out = run_as(&cmd);
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = tmp.path().join("got.tar");
        std::fs::write(&got, &out.stdout).unwrap();
        assert_holds_tree(&got);
    }
}

/// Magic bytes of each compressor.
fn magic_of(p: &Path) -> &'static str {
    let b = std::fs::read(p).unwrap();
    match b.as_slice() {
        [0x1f, 0x8b, ..] => "gzip",
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => "xz",
        [b'B', b'Z', b'h', ..] => "bzip2",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => "zstd",
        _ if b.len() > 262 && &b[257..262] == b"ustar" => "tar",
        _ => "unknown",
    }
}

/// Each compressed name is compressed accordingly, and GNU tar and alientar
/// both list it.
#[test]
fn compressed_names_are_compressed() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    for (name, want) in [
        ("a.tar.gz", "gzip"),
        ("a.tgz", "gzip"),
        ("a.tar.xz", "xz"),
        ("a.txz", "xz"),
        ("a.tar.bz2", "bzip2"),
        ("a.tbz2", "bzip2"),
        ("a.tbz", "bzip2"),
        ("a.tar.zst", "zstd"),
        ("a.tar", "tar"),
    ] {
        let a = tmp.path().join(name);
        create(&a, &t, &[]);
        assert_eq!(magic_of(&a), want, "{name}");
        assert_holds_tree(&a);
        if have("tar") {
            let l = sh_ok(&format!("tar -tf '{}'", a.display()));
            assert!(l.contains("./d/hello\n"), "GNU tar -tf {name}: {l}");
        }
    }
}

/// `-z`, `-J`, `-j` and `--zstd` choose the compressor whatever the name;
/// `--no-compress` wins over the name; `-a` is accepted; `--level` applies
/// to the compressor chosen.
#[test]
fn compression_options_choose_the_compressor() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let a = tmp.path().join("x.tar");
    for (opts, want) in [
        (&["-z"][..], "gzip"),
        (&["--gzip", "--level", "9"][..], "gzip"),
        (&["-J"][..], "xz"),
        (&["--xz", "--level", "0"][..], "xz"),
        (&["-j"][..], "bzip2"),
        (&["--bzip2"][..], "bzip2"),
        (&["--zstd"][..], "zstd"),
        (&["-a"][..], "tar"),
        (&["--auto-compress"][..], "tar"),
    ] {
        create(&a, &t, opts);
        assert_eq!(magic_of(&a), want, "{opts:?}");
        assert_holds_tree(&a);
    }
    let gz = tmp.path().join("x.tar.gz");
    create(&gz, &t, &["--no-compress"]);
    assert_eq!(magic_of(&gz), "tar");
    create(&gz, &t, &["-a"]);
    assert_eq!(magic_of(&gz), "gzip");
    // Two compressors, or a level the compressor has not: an error naming it.
    let out = run(["create", "-f", &s(&a), "-z", "-J", "-C", &s(&t), "."]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = run([
        "create",
        "-f",
        &s(&a),
        "-z",
        "--level",
        "12",
        "-C",
        &s(&t),
        ".",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("gzip") && err.contains("1 to 9"), "{err}");
}

/// remap's output is compressed by its name too.
#[test]
fn remap_output_is_compressed_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let a = tmp.path().join("a.tar");
    create(&a, &t, &["--unmapped", "keep"]);
    for (name, want) in [("b.tar.gz", "gzip"), ("b.txz", "xz"), ("b.tbz2", "bzip2")] {
        let b = tmp.path().join(name);
        ok([
            "remap",
            "-f",
            &s(&a),
            "-o",
            &s(&b),
            "--map",
            "0:0:4294967295",
        ]);
        assert_eq!(magic_of(&b), want, "{name}");
        assert_holds_tree(&b);
    }
    let b = tmp.path().join("c.tar");
    ok([
        "remap",
        "-f",
        &s(&a),
        "-o",
        &s(&b),
        "-j",
        "--map",
        "0:0:4294967295",
    ]);
    assert_eq!(magic_of(&b), "bzip2");
}

/// A compressor that fails when it finishes (the filesystem is full then:
/// xz holds its output until the end) is an error naming the archive, and
/// no archive is left under the final name.
#[test]
fn failed_finish_leaves_no_archive() {
    if !is_root() {
        return skip(
            "failed_finish_leaves_no_archive",
            "needs root to mount a small tmpfs",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("tree");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(t.join("noise"), noise(7, 3 << 20)).unwrap();
    let small = tmp.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    if !sh(&format!(
        "mount -t tmpfs -o size=1m tmpfs '{}'",
        small.display()
    ))
    .status
    .success()
    {
        return skip(
            "failed_finish_leaves_no_archive",
            "cannot mount a tmpfs here",
        );
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = sh(&format!("umount '{}'", self.0.display()));
        }
    }
    let _guard = Unmount(small.clone());
    for name in ["a.tar.xz", "a.tar.gz", "a.tar.bz2", "a.tar"] {
        let a = small.join(name);
        let out = run(["create", "-f", &s(&a), "-C", &s(&t), "."]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{name}: a full filesystem went unnoticed"
        );
        assert!(
            err.contains(&s(&a)) && err.contains("No space left"),
            "{name}: {err}"
        );
        let left: Vec<_> = std::fs::read_dir(&small)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{name}: left behind {left:?}");
    }
}

/// A killed run's temporary (`.NAME.alientar-tmp-PID`, PID dead) is
/// removed by the next create to NAME; a live process's is kept.
#[test]
fn stale_temporaries_of_dead_processes_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = tmp.path().join(format!(".a.tar.alientar-tmp-{dead}"));
    let live = tmp
        .path()
        .join(format!(".a.tar.alientar-tmp-{}", std::process::id()));
    let other = tmp.path().join(format!(".b.tar.alientar-tmp-{dead}"));
    for p in [&stale, &live, &other] {
        std::fs::write(p, "partial").unwrap();
    }
    create(&tmp.path().join("a.tar"), &t, &[]);
    assert!(
        !stale.exists(),
        "the dead process's temporary is still there"
    );
    assert!(live.exists(), "a live process's temporary was removed");
    assert!(other.exists(), "another archive's temporary was removed");
}
