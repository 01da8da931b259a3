//! End-to-end tests of the `alientar` binary against real trees and real
//! peers (GNU tar, bsdtar, zstd). Parts that need root (owners, device
//! nodes) say loudly when they are skipped; CI runs as root.

mod common;

use common::*;
use std::path::Path;

use alientar::internals::tar::{encode_entry, end_of_archive, pad};
use alientar::{Entry, Kind, Time};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A tree with every kind of entry survives create → extract unchanged.
#[test]
fn roundtrip_preserves_types_modes_owners_times_links_devices_xattrs() {
    let tmp = tempfile::tempdir().unwrap();
    let t = make_tree(tmp.path());
    // With nanoseconds kept, and with the default whole-second mtimes.
    for (name, ns) in [("a.tar.zst", true), ("a.tar", false)] {
        let archive = tmp.path().join(name);
        let (file, dir) = (s(&archive), s(tmp.path()));
        let mut args = vec!["create", "-f", &file, "-C", &dir, "t"];
        if ns {
            args.push("--nanoseconds");
        }
        ok(args);
        let dest = tmp.path().join(format!("out-{name}"));
        std::fs::create_dir(&dest).unwrap();
        let sink = if is_root() { "chown" } else { "none" };
        ok([
            "extract",
            "-f",
            &s(&archive),
            "-C",
            &s(&dest),
            "--owners",
            sink,
        ]);
        let mut want = if ns {
            snapshot(&t)
        } else {
            whole_seconds(snapshot(&t))
        };
        let mut got = snapshot(&dest.join("t"));
        if !is_root() {
            skip(
                "owner part of roundtrip",
                "not root: owners and setuid are not compared",
            );
            for m in want.values_mut().chain(got.values_mut()) {
                m.uid = 0;
                m.gid = 0;
                m.mode &= !0o6000;
            }
        }
        assert_same(&want, &got);
    }
    if is_root() {
        let snap = snapshot(&t);
        assert_eq!(
            snap["run/fifo"].uid, 3_000_000,
            "IDs over 2097151 survive (pax uid)"
        );
        assert_eq!(snap["dev/null"].rdev, rustix::fs::makedev(1, 3));
    }
}

/// GNU tar and bsdtar read our zstd archive: same entries, same numeric
/// owners, and GNU tar extracts the same tree.
#[test]
fn peers_list_and_extract_our_archives() {
    if !have("tar") || !have("bsdtar") || !have("zstd") {
        return skip(
            "peers_list_and_extract_our_archives",
            "GNU tar, bsdtar or zstd missing (apt-get install tar libarchive-tools zstd)",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = make_tree(tmp.path());
    let a = tmp.path().join("a.tar.zst");
    // With sub-second mtimes: the peers read the pax `mtime` records too.
    ok([
        "create",
        "-f",
        &s(&a),
        "-C",
        &s(tmp.path()),
        "t",
        "--nanoseconds",
    ]);
    sh_ok(&format!("zstd -qt {}", s(&a)));
    let ours = ok(["list", "-v", "--numeric-owner", "-f", &s(&a)]);
    let gnu = sh_ok(&format!("tar --numeric-owner -tvf {}", s(&a)));
    assert_eq!(
        ours, gnu,
        "alientar list -v must match GNU tar -tv line for line"
    );
    // bsdtar: mode, uid, gid, size columns and names.
    let bsd = sh_ok(&format!("bsdtar --numeric-owner -tvf {}", s(&a)));
    let norm_bsd: Vec<String> = bsd
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {}/{} {} {}", f[0], f[2], f[3], f[4], f[8])
        })
        .collect();
    let norm_gnu: Vec<String> = gnu
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {} {}", f[0], f[1], f[2], f[5])
        })
        .collect();
    assert_eq!(norm_bsd, norm_gnu);
    if is_root() {
        let dest = tmp.path().join("gnu-out");
        std::fs::create_dir(&dest).unwrap();
        sh_ok(&format!(
            "tar --zstd --xattrs --xattrs-include='*' -xpf {} -C {}",
            s(&a),
            s(&dest)
        ));
        assert_same(&snapshot(&t), &snapshot(&dest.join("t")));
    } else {
        skip("GNU tar extraction comparison", "not root");
    }
}

/// We read GNU tar (gzip, pax and gnu formats) and bsdtar archives of the
/// same tree: same listing as GNU tar prints, same tree on extract; `-f -`.
#[test]
fn reads_gnu_tar_and_bsdtar_archives() {
    if !have("tar") || !have("bsdtar") {
        return skip(
            "reads_gnu_tar_and_bsdtar_archives",
            "GNU tar or bsdtar missing",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = make_tree(tmp.path());
    let d = s(tmp.path());
    for (name, cmd) in [
        (
            "gnu.tgz",
            format!("tar --format=gnu -C {d} -czf {d}/gnu.tgz t"),
        ),
        (
            "pax.tar.xz",
            format!("tar --xattrs --format=pax -C {d} -cJf {d}/pax.tar.xz t"),
        ),
        (
            "pax.tar.bz2",
            format!("tar --xattrs --format=pax -C {d} -cjf {d}/pax.tar.bz2 t"),
        ),
        (
            "bsd.tar",
            format!("bsdtar --format=pax -C {d} -cf {d}/bsd.tar t"),
        ),
    ] {
        sh_ok(&cmd);
        let a = format!("{d}/{name}");
        let gnu = sh_ok(&format!("tar --numeric-owner -tvf {a}"));
        let ours = ok(["list", "-v", "--numeric-owner", "-f", &a]);
        assert_eq!(ours, gnu, "{name}: listing differs from GNU tar's");
        let piped = sh_ok(&format!("cat {a} | {} list -f -", bin().display()));
        assert_eq!(piped, ok(["list", "-f", &a]), "{name}: -f - differs");
        let dest = tmp.path().join(format!("out-{name}"));
        std::fs::create_dir(&dest).unwrap();
        ok([
            "extract",
            "-f",
            &a,
            "-C",
            &s(&dest),
            "--owners",
            if is_root() { "chown" } else { "none" },
        ]);
        let mut want = snapshot(&t);
        let mut got = snapshot(&dest.join("t"));
        for m in want.values_mut().chain(got.values_mut()) {
            if !is_root() {
                m.uid = 0;
                m.gid = 0;
                m.mode &= !0o6000;
            }
            if name.starts_with("gnu") {
                // The gnu format has no nanoseconds and no xattrs.
                m.mtime.1 = 0;
                m.xattrs.clear();
            }
        }
        assert_same(&want, &got);
    }
}

/// The foundation's main job: a rootless-stored tree archived in the
/// context view with a label, restored through the map or in host view.
#[test]
fn rootless_context_create_and_extract() {
    if !is_root() {
        return skip(
            "rootless_context_create_and_extract",
            "needs root to build a shifted tree",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = make_tree(tmp.path());
    let shifted = tmp.path().join("shifted");
    shifted_copy(&t, &shifted, (1001, 100_000), (1001, 100_000));
    let a = s(&tmp.path().join("r.tar.zst"));
    let map = "0:1001:1,1:100000:65536";
    // The fifo's 3000000:4000000 is outside this map: it must fail, naming the ID, and write nothing.
    let out = run([
        "create",
        "-f",
        &a,
        "-C",
        &s(&shifted),
        "--context",
        "rootless",
        "--map",
        map,
        ".",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("run/fifo") && err.contains("uid 3099999"),
        "{err}"
    );
    assert!(!Path::new(&a).exists(), "no archive may be written");
    // Overflow: stored as 65534.
    ok([
        "create",
        "-f",
        &a,
        "-C",
        &s(&shifted),
        "--context",
        "rootless",
        "--map",
        map,
        "--unmapped",
        "overflow",
        ".",
    ]);
    let json = ok([
        "list",
        "--json",
        "-f",
        &a,
        "run/fifo",
        "etc/shadow",
        "usr/bin/su",
    ]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by = |p: &str| {
        lines
            .iter()
            .find(|v| v["path"] == p)
            .unwrap_or_else(|| panic!("{p} in {json}"))
            .clone()
    };
    assert_eq!(
        (
            by("./run/fifo")["uid"].as_u64(),
            by("./run/fifo")["gid"].as_u64()
        ),
        (Some(65534), Some(65534))
    );
    let shadow = by("./etc/shadow");
    assert_eq!(
        (
            shadow["uid"].as_u64(),
            shadow["gid"].as_u64(),
            shadow["mode"].as_str()
        ),
        (Some(0), Some(42), Some("0640"))
    );
    assert_eq!(shadow["context"], "rootless");
    let su = by("./usr/bin/su");
    assert_eq!(
        (su["uid"].as_u64(), su["mode"].as_str()),
        (Some(0), Some("4755"))
    );
    // Host view in the listing.
    let host = ok(["list", "--json", "--map", map, "-f", &a, "etc/shadow"]);
    let v: serde_json::Value = serde_json::from_str(host.lines().next().unwrap()).unwrap();
    assert_eq!(
        (v["host_uid"].as_u64(), v["host_gid"].as_u64()),
        (Some(1001), Some(100041))
    );
    // The archive's label is declared once, in the global header: GNU tar
    // restores no label xattr on its files (tests/labels.rs has more).
    if have("tar") {
        let g = tmp.path().join("gnu");
        std::fs::create_dir(&g).unwrap();
        sh_ok(&format!(
            "tar --zstd --xattrs -xf {a} -C {} ./etc/shadow",
            s(&g)
        ));
        assert_eq!(
            xattr::get(g.join("etc/shadow"), "user.alientar.context").unwrap(),
            None
        );
    }
    // Extract through the same map: the shifted owners come back.
    let x = tmp.path().join("x");
    std::fs::create_dir(&x).unwrap();
    ok(["extract", "-f", &a, "-C", &s(&x), "--map", map]);
    let got = snapshot(&x);
    assert_eq!(
        (got["etc/shadow"].uid, got["etc/shadow"].gid),
        (1001, 100041)
    );
    assert_eq!(
        (
            got["usr/bin/su"].uid,
            got["usr/bin/su"].gid,
            got["usr/bin/su"].mode
        ),
        (1001, 1001, 0o4755)
    );
    // Host view: 0:42.
    let h = tmp.path().join("h");
    std::fs::create_dir(&h).unwrap();
    ok(["extract", "-f", &a, "-C", &s(&h), "--map", "host"]);
    let got = snapshot(&h);
    assert_eq!((got["etc/shadow"].uid, got["etc/shadow"].gid), (0, 42));
    assert_eq!((got["usr/bin/su"].uid, got["usr/bin/su"].mode), (0, 0o4755));
    // The label persists on the top directory only: `--map host` names a
    // context, which counts as `--context host`, the context the owners
    // were restored as (the entries' own is `rootless`).
    assert_eq!(
        xattr::get(&h, "user.alientar.context").unwrap().as_deref(),
        Some(&b"host"[..])
    );
    assert!(
        xattr::get(h.join("etc"), "user.alientar.context")
            .unwrap()
            .is_none()
    );
}

/// An `XDG_CONFIG_HOME` under `root` whose alientar/contexts.toml is `toml`.
fn user_contexts(root: &Path, toml: &str) -> std::path::PathBuf {
    let cfg = root.join("cfg");
    std::fs::create_dir_all(cfg.join("alientar")).unwrap();
    std::fs::write(cfg.join("alientar/contexts.toml"), toml).unwrap();
    cfg
}

/// Run alientar with the user contexts in `cfg` (from [`user_contexts`]).
fn run_in(cfg: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .env("XDG_CONFIG_HOME", cfg)
        .output()
        .unwrap()
}

/// As [`run_in`], which must succeed; its standard output.
fn ok_in(cfg: &Path, args: &[&str]) -> String {
    let out = run_in(cfg, args);
    assert!(
        out.status.success(),
        "alientar {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A context defined in the user's contexts.toml is shown and used.
#[test]
fn user_context_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = user_contexts(
        tmp.path(),
        "[hpa-backups]\nuidmap = \"0:200000:65536\"\ngidmap = \"0:300000:65536\"\n",
    );
    let text = ok_in(&cfg, &["contexts", "hpa-backups"]);
    assert!(
        text.contains("0:200000:65536") && text.contains("0:300000:65536"),
        "{text}"
    );
    let list = run_in(&cfg, &["contexts"]);
    let text = String::from_utf8_lossy(&list.stdout);
    for c in ["host", "rootless", "subuid", "hpa-backups"] {
        assert!(text.contains(c), "{c} missing from:\n{text}");
    }
    if !is_root() {
        return skip("user_context_file extract part", "needs root to chown");
    }
    // An archive with etc/shadow 0:42, extracted through the context.
    let a = tmp.path().join("a.tar");
    let mut e = Entry::new("etc/shadow", Kind::File);
    e.mode = 0o640;
    e.gid = 42;
    e.size = 3;
    e.label = Some("hpa-backups".into());
    let mut buf = Vec::new();
    encode_entry(&e, &mut buf);
    buf.extend_from_slice(b"x:\n");
    pad(&mut buf, 3);
    end_of_archive(&mut buf);
    std::fs::write(&a, &buf).unwrap();
    let dest = tmp.path().join("d");
    std::fs::create_dir(&dest).unwrap();
    ok_in(
        &cfg,
        &[
            "extract",
            "-f",
            &s(&a),
            "-C",
            &s(&dest),
            "--context",
            "hpa-backups",
        ],
    );
    let m = snapshot(&dest);
    assert_eq!((m["etc/shadow"].uid, m["etc/shadow"].gid), (200000, 300042));
    // Without --context, the entry's own label picks the same context.
    let dest2 = tmp.path().join("d2");
    std::fs::create_dir(&dest2).unwrap();
    ok_in(&cfg, &["extract", "-f", &s(&a), "-C", &s(&dest2)]);
    assert_eq!(snapshot(&dest2)["etc/shadow"].uid, 200000);
    // A label the registry does not know is a clear error.
    let out = run(["extract", "-f", &s(&a), "-C", &s(&dest2)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no context named 'hpa-backups'"));
}

fn archive_of(entries: &[(Entry, &[u8])]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (e, data) in entries {
        encode_entry(e, &mut buf);
        buf.extend_from_slice(data);
        pad(&mut buf, data.len() as u64);
    }
    end_of_archive(&mut buf);
    buf
}

fn file(path: &str, data: &'static [u8]) -> (Entry, &'static [u8]) {
    let mut e = Entry::new(path, Kind::File);
    e.mode = 0o644;
    e.size = data.len() as u64;
    e.mtime = Time {
        sec: 1_700_000_000,
        nsec: 0,
    };
    (e, data)
}

fn link(path: &str, kind: Kind, target: &str) -> (Entry, &'static [u8]) {
    let mut e = Entry::new(path, kind);
    e.mode = 0o777;
    e.link = Some(target.as_bytes().to_vec());
    (e, b"")
}

/// Hostile names and links never write outside the destination.
#[test]
#[allow(clippy::type_complexity)]
fn extraction_never_escapes_the_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim"), "original").unwrap();
    let o = s(&outside);
    let cases: Vec<(&str, Vec<(Entry, &[u8])>)> = vec![
        ("dotdot", vec![file("../outside/victim", b"pwned")]),
        (
            "deep dotdot",
            vec![file("a/b/../../../outside/victim", b"pwned")],
        ),
        (
            "absolute symlink then write through it",
            vec![link("l", Kind::Symlink, &o), file("l/victim", b"pwned")],
        ),
        (
            "relative symlink then write through it",
            vec![
                link("l", Kind::Symlink, "../outside"),
                file("l/victim", b"pwned"),
            ],
        ),
        (
            "symlink chain",
            vec![
                link("a", Kind::Symlink, "b"),
                link("b", Kind::Symlink, "../outside"),
                file("a/victim", b"pwned"),
            ],
        ),
        (
            "hard link to outside",
            vec![
                link("h", Kind::HardLink, "../outside/victim"),
                file("h", b"pwned"),
            ],
        ),
        (
            "hard link through symlink",
            vec![
                link("l", Kind::Symlink, &o),
                link("h", Kind::HardLink, "l/victim"),
                file("h", b"pwned"),
            ],
        ),
        (
            "symlink replacing a file, then the file again",
            vec![
                file("f", b"x"),
                link("f", Kind::Symlink, &format!("{o}/victim")),
                file("f", b"pwned"),
            ],
        ),
        (
            "dir replaced by symlink",
            vec![
                file("d/x", b"x"),
                link("d", Kind::Symlink, &o),
                file("d/victim", b"pwned"),
            ],
        ),
    ];
    for (name, entries) in cases {
        let dest = tmp.path().join("dest");
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir(&dest).unwrap();
        let a = tmp.path().join("evil.tar");
        std::fs::write(&a, archive_of(&entries)).unwrap();
        let out = run(["extract", "-f", &s(&a), "-C", &s(&dest), "--owners", "none"]);
        assert_eq!(
            std::fs::read_to_string(outside.join("victim")).unwrap(),
            "original",
            "case {name}: wrote outside"
        );
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            1,
            "case {name}: created outside"
        );
        assert!(out.status.code() != Some(101), "case {name}: panicked");
    }
    // Leading '/' is stripped with one warning; '.' restores the destination's metadata.
    let dest = tmp.path().join("dest2");
    std::fs::create_dir(&dest).unwrap();
    let mut dot = Entry::new(".", Kind::Dir);
    dot.mode = 0o751;
    dot.mtime = Time {
        sec: 1_500_000_000,
        nsec: 5,
    };
    let a = tmp.path().join("abs.tar");
    std::fs::write(
        &a,
        archive_of(&[(dot, b""), file("/etc/x", b"1"), file("/etc/y", b"2")]),
    )
    .unwrap();
    let out = run(["extract", "-f", &s(&a), "-C", &s(&dest), "--owners", "none"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("Removing leading '/'").count(), 1, "{err}");
    assert_eq!(std::fs::read_to_string(dest.join("etc/x")).unwrap(), "1");
    let m = snapshot(&dest);
    assert_eq!((m[""].mode, m[""].mtime), (0o751, (1_500_000_000, 5)));
    // A '..' member is an error naming it, exit 1, and the rest is extracted.
    let a = tmp.path().join("dd.tar");
    std::fs::write(&a, archive_of(&[file("../x", b"1"), file("ok", b"2")])).unwrap();
    let dest = tmp.path().join("dest3");
    std::fs::create_dir(&dest).unwrap();
    let out = run(["extract", "-f", &s(&a), "-C", &s(&dest), "--owners", "none"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("../x"));
    assert!(dest.join("ok").exists());
}

/// Random bytes and a missing archive give clear errors naming the file.
#[test]
fn bad_input_gives_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("random.tar");
    let bytes = noise(0x9E37_79B9_7F4A_7C15, 10_000);
    std::fs::write(&a, bytes).unwrap();
    for cmd in ["list", "extract"] {
        let out = run([cmd, "-f", &s(&a), "-C", &s(tmp.path())]
            .iter()
            .take(if cmd == "list" { 3 } else { 5 }));
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("random.tar") && err.contains("checksum"),
            "{cmd}: {err}"
        );
    }
    let out = run(["list", "-f", "/nonexistent/a.tar"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/a.tar"));
    // Truncated archive: entries before the damage are complete, then an error naming the member.
    let mut data = archive_of(&[file("one", b"first"), file("two", &[7u8; 5000])]);
    data.truncate(512 * 4);
    let a = tmp.path().join("trunc.tar");
    std::fs::write(&a, &data).unwrap();
    let dest = tmp.path().join("d");
    std::fs::create_dir(&dest).unwrap();
    let out = run(["extract", "-f", &s(&a), "-C", &s(&dest), "--owners", "none"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated") && err.contains("two"), "{err}");
    assert_eq!(std::fs::read(dest.join("one")).unwrap(), b"first");
    assert!(
        !dest.join("two").exists(),
        "no truncated file under its final name"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporaries left behind: {leftovers:?}");
}

/// `create -f -` writes to stdout, `list -f -` reads stdin, and `list --json`
/// always has a `context` key.
#[test]
fn stdin_stdout_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    make_tree(tmp.path());
    let out = sh_ok(&format!(
        "{b} create --zstd -f - -C {d} t | {b} list --json -f -",
        b = bin().display(),
        d = s(tmp.path())
    ));
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["path"], "t");
    assert!(first.get("context").is_some() && first["context"].is_null());
    assert!(out.lines().count() > 10);
    let with_label = sh_ok(&format!(
        "{b} create -f - -C {d} --context hpa --map 0:0:4294967295 t/etc | {b} list --json -f -",
        b = bin().display(),
        d = s(tmp.path())
    ));
    assert!(
        with_label
            .lines()
            .all(|l| l.contains("\"context\":\"hpa\"")),
        "{with_label}"
    );
}

/// With `ALIENTAR_TEST_ROOTFS` pointing at a directory made by
/// `scripts/make-rootfs.sh`: a real Debian root filesystem round-trips,
/// GNU tar and bsdtar agree with our listing, and the rootless-stored copy
/// maps as the foundation issue requires.
#[test]
fn debian_rootfs() {
    let Some(dir) = std::env::var_os("ALIENTAR_TEST_ROOTFS") else {
        return skip(
            "debian_rootfs",
            "set ALIENTAR_TEST_ROOTFS to the output of scripts/make-rootfs.sh",
        );
    };
    if !is_root() {
        return skip("debian_rootfs", "needs root");
    }
    let dir = Path::new(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let a = s(&tmp.path().join("A.tar.zst"));
    ok(["create", "-f", &a, "-C", &s(dir), "rootfs"]);
    sh_ok(&format!("zstd -qt {a}"));
    let ours = ok(["list", "-v", "--numeric-owner", "-f", &a]);
    assert!(
        ours.lines().count() > 5000,
        "a minbase tree has thousands of entries"
    );
    assert_eq!(ours, sh_ok(&format!("tar --numeric-owner -tvf {a}")));
    let bsd = sh_ok(&format!("bsdtar --numeric-owner -tvf {a}"));
    assert_eq!(bsd.lines().count(), ours.lines().count());
    let x = tmp.path().join("x");
    std::fs::create_dir(&x).unwrap();
    ok(["extract", "-f", &a, "-C", &s(&x)]);
    assert_same(
        &whole_seconds(snapshot(&dir.join("rootfs"))),
        &snapshot(&x.join("rootfs")),
    );
    // The rootless-stored copy, made by make-rootfs.sh for some user; the
    // shift it used is in shift.txt (UID SUBUID_START GID SUBGID_START).
    let shift: Vec<u32> = std::fs::read_to_string(dir.join("shift.txt"))
        .unwrap_or_else(|_| "1001 100000 1001 100000".into())
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let map_u = format!("0:{}:1,1:{}:65536", shift[0], shift[1]);
    let map_g = format!("0:{}:1,1:{}:65536", shift[2], shift[3]);
    let s_a = s(&tmp.path().join("S.tar.zst"));
    ok([
        "create",
        "-f",
        &s_a,
        "-C",
        &s(&dir.join("rootfs-shifted")),
        "--context",
        "rootless",
        "--uid-map",
        &map_u,
        "--gid-map",
        &map_g,
        ".",
    ]);
    let l = ok([
        "list",
        "-v",
        "--numeric-owner",
        "-f",
        &s_a,
        "etc/shadow",
        "usr/bin/su",
    ]);
    assert!(
        l.contains("-rw-r----- 0/42") && l.contains("-rwsr-xr-x 0/0"),
        "{l}"
    );
    let y = tmp.path().join("y");
    std::fs::create_dir(&y).unwrap();
    ok([
        "extract",
        "-f",
        &s_a,
        "-C",
        &s(&y),
        "--uid-map",
        &map_u,
        "--gid-map",
        &map_g,
    ]);
    let mut want = whole_seconds(snapshot(&dir.join("rootfs-shifted")));
    let mut got = snapshot(&y);
    for m in [&mut want, &mut got] {
        m.get_mut("").unwrap().xattrs.clear(); // the label lands on the top directory
    }
    assert_same(&want, &got);
}

/// As an ordinary user: list and extract with `--owners none` (owners
/// dropped, setuid dropped with them, device nodes skipped with one warning,
/// exit 0), and `auto` chooses that too.
#[test]
fn ordinary_user_extracts_with_owners_none() {
    if !is_root() {
        return skip(
            "ordinary_user_extracts_with_owners_none",
            "needs root to drop privileges to the test user",
        );
    }
    if !sh(&format!("id {TEST_USER}")).status.success() {
        return skip(
            "ordinary_user_extracts_with_owners_none",
            "no user alientar-test (.ci/run creates it)",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let t = make_tree(tmp.path());
    let a = s(&tmp.path().join("a.tar.zst"));
    ok(["create", "-f", &a, "-C", &s(tmp.path()), "t"]);
    chmod(Path::new(&a), 0o644);
    for sink in ["none"] {
        let dest = tmp.path().join(format!("dest-{sink}"));
        std::fs::create_dir(&dest).unwrap();
        sh_ok(&format!("chown {TEST_USER}: {}", s(&dest)));
        let out = sh(&format!(
            "runuser -u {TEST_USER} -- {} extract -f {a} -C {} --owners {sink}",
            bin().display(),
            s(&dest)
        ));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{sink}: {err}");
        assert_eq!(
            err.matches("device nodes not created").count(),
            1,
            "{sink}: one warning for all devices: {err}"
        );
        let uid = sh_ok(&format!("id -u {TEST_USER}"))
            .trim()
            .parse::<u32>()
            .unwrap();
        let mut want = whole_seconds(snapshot(&t));
        let got = snapshot(&dest.join("t"));
        want.retain(|k, _| !k.starts_with("dev/"));
        for (k, m) in want.iter_mut() {
            m.uid = uid;
            m.gid = got[k].gid;
            m.mode &= !0o6000;
        }
        let mut got_nodev = got.clone();
        got_nodev.retain(|k, _| !k.starts_with("dev/") || k == "dev");
        want.insert("dev".into(), got["dev"].clone());
        assert_same(&want, &got_nodev);
        assert_eq!(
            got["usr/bin/su"].mode, 0o755,
            "setuid dropped with the owner"
        );
    }
    let listing = sh_ok(&format!(
        "runuser -u {TEST_USER} -- {} list -v -f {a}",
        bin().display()
    ));
    assert!(listing.contains("t/etc/shadow"));
}

/// `list` reads only the index of a seekable archive; what it prints is
/// exactly what streaming the archive prints, and a damaged index (or seek
/// table) makes it stream instead.
#[test]
fn index_listing_equals_streaming() {
    if !have("zstd") {
        return skip("index_listing_equals_streaming", "zstd missing");
    }
    let tmp = tempfile::tempdir().unwrap();
    make_tree(tmp.path());
    let a = s(&tmp.path().join("a.tar.zst"));
    ok([
        "create",
        "-f",
        &a,
        "-C",
        &s(tmp.path()),
        "--context",
        "rootless",
        "--map",
        "0:0:4294967295",
        "t",
    ]);
    let streamed = sh_ok(&format!(
        "zstd -dc {a} | {} list --json -f -",
        bin().display()
    ));
    for args in [vec!["list", "--json"], vec!["list", "-v"], vec!["list"]] {
        let mut full = args.clone();
        full.extend(["-f", &a]);
        let via_index = ok(&full);
        let mut st = args.clone();
        st.extend(["-f", "-"]);
        let via_stream = sh_ok(&format!(
            "zstd -dc {a} | {} {}",
            bin().display(),
            st.join(" ")
        ));
        assert_eq!(via_index, via_stream, "{args:?}");
    }
    assert!(streamed.lines().count() > 10);
    // Damage a byte inside the index frame (just before the seek table).
    let mut bytes = std::fs::read(&a).unwrap();
    let n = bytes.len();
    let table = 8 + 8 * u32::from_le_bytes(bytes[n - 9..n - 5].try_into().unwrap()) as usize + 9;
    bytes[n - table - 5] ^= 0x55;
    let b = s(&tmp.path().join("b.tar.zst"));
    std::fs::write(&b, &bytes).unwrap();
    assert_eq!(
        ok(["list", "--json", "-f", &b]),
        streamed,
        "a damaged index falls back to streaming"
    );
    sh_ok(&format!("zstd -qt {b}"));
}

/// Archive order is the sorted pre-order walk GNU tar makes with
/// `--sort=name` (names compared bytewise, each directory followed by what
/// is below it), for wide directories read in parallel and for a chain
/// deeper than the parallel walk goes (walked one directory at a time).
#[test]
fn create_order_is_gnu_tar_sort_name_order() {
    if !have("tar") {
        skip("create_order_is_gnu_tar_sort_name_order", "GNU tar missing");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("t");
    // Names whose bytewise order differs from a locale's: upper case, dots,
    // dashes, a name that is a prefix of another, UTF-8.
    let names = ["B", "a", "a.b", "a-b", "ab", "Z9", "é", "a0", "_x"];
    for d in ["", "a", "a/a.b", "ab"] {
        for n in names {
            let p = t.join(d).join(n);
            if n.starts_with('a') && d.len() < 4 {
                std::fs::create_dir_all(&p).unwrap();
            } else {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, n).unwrap();
            }
        }
    }
    // A 40-deep chain with a file and a symlink at every level.
    let mut p = t.join("deep");
    for i in 0..40 {
        p = p.join(format!("d{i}"));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("f"), "x").unwrap();
        std::os::unix::fs::symlink("f", p.join("l")).unwrap();
    }
    let archive = tmp.path().join("o.tar.zst");
    ok(["create", "-f", &s(&archive), "-C", &s(&t), "."]);
    let ours = ok(["list", "-f", &s(&archive)]);
    let ours: Vec<&str> = ours
        .lines()
        .map(|l| l.split(" [").next().unwrap().trim_end_matches('/'))
        .collect();
    let gnu = sh_ok(&format!(
        "tar --sort=name -cf - -C '{}' . | tar -tf - | sed 's,/$,,'",
        t.display()
    ));
    let gnu: Vec<&str> = gnu.lines().collect();
    assert_eq!(ours.len(), gnu.len(), "entry counts");
    assert!(ours.len() > 150, "the tree has {} entries", ours.len());
    for (i, (a, b)) in ours.iter().zip(&gnu).enumerate() {
        assert_eq!(a, b, "entry {i} differs: alientar {a}, GNU tar {b}");
    }
}

/// Labels found on disk while the archive is already being written still
/// reach the global header (made when the walk ends), in label order, and
/// every entry carries its inherited label; the archive being written
/// inside the tree is not archived.
#[test]
fn labels_on_disk_reach_the_global_header_and_the_output_is_not_archived() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = user_contexts(
        tmp.path(),
        "[zeta]\nuidmap = \"0:200000:65536\"\ngidmap = \"0:300000:65536\"\n\
         [alpha]\nuidmap = \"0:400000:1000\"\ngidmap = \"0:500000:1000\"\n",
    );
    let t = tmp.path().join("t");
    // Enough files for many frames, so the header is made while later
    // frames wait; the labelled trees come late in archive order.
    for d in ["a", "m", "z"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    let noise: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    for i in 0..40 {
        std::fs::write(t.join("a").join(format!("f{i:02}")), &noise).unwrap();
    }
    std::fs::write(t.join("m/file"), "m").unwrap();
    std::fs::write(t.join("z/file"), "z").unwrap();
    for (d, l) in [("m", "zeta"), ("z", "alpha")] {
        if xattr::set(t.join(d), "user.alientar.context", l.as_bytes()).is_err() {
            return skip(
                "labels_on_disk_reach_the_global_header",
                "no user xattrs on this filesystem",
            );
        }
    }
    let archive = t.join("out.tar.zst");
    ok_in(
        &cfg,
        &[
            "create",
            "-f",
            &s(&archive),
            "--numeric-owner",
            "--unmapped",
            "keep",
            "-C",
            &s(&t),
            ".",
        ],
    );
    let list = ok(["list", "-v", "-f", &s(&archive)]);
    assert!(
        !list.contains("alientar-tmp"),
        "the output was archived:\n{list}"
    );
    assert!(list.contains(" ./m/file [zeta]\n"), "{list}");
    assert!(list.contains(" ./z/file [alpha]\n"), "{list}");
    assert!(list.contains(" ./a/f39\n"), "{list}");
    // The global header (first member) names both contexts' maps (the pax
    // writer sorts records by key).
    let head = sh_ok(&format!(
        "zstd -dc '{}' | head -c 1024 | tr '\\0' '\\n' | grep ALIENTAR",
        archive.display()
    ));
    let want = "ALIENTAR.context.alpha.gidmap=0:500000:1000\n\
                ALIENTAR.context.alpha.uidmap=0:400000:1000\n\
                ALIENTAR.context.zeta.gidmap=0:300000:65536\n\
                ALIENTAR.context.zeta.uidmap=0:200000:65536\n\
                ALIENTAR.version=1";
    let got: Vec<&str> = head
        .lines()
        .map(|l| l.split_once(' ').map_or(l, |x| x.1))
        .collect();
    assert_eq!(got.join("\n"), want, "global header:\n{head}");
    // Readers agree: GNU tar lists it, zstd verifies every frame, check
    // reads the index.
    sh_ok(&format!("zstd -tq '{}'", archive.display()));
    if have("tar") {
        let gnu = sh_ok(&format!("tar -tf '{}' | wc -l", archive.display()));
        assert_eq!(gnu.trim(), list.lines().count().to_string());
    }
}

/// The same tree makes the same archive, byte for byte, whatever the number
/// of threads and however the walk and the compression interleave: frames
/// are cut where the entries say, not where the timing does.
#[test]
fn the_same_tree_makes_the_same_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("t");
    // 24 MiB that do not compress in 96 files, and 600 small ones: more than
    // the small frames at the start and the end, and full frames between.
    for i in 0..96u64 {
        let d = t.join(format!("big{}", i % 3));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("f{i:02}")), noise(i + 1, 256 << 10)).unwrap();
    }
    for i in 0..600u64 {
        let d = t.join(format!("small{}", i % 6));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join(format!("s{i:03}")),
            format!("file {i}\n").repeat(i as usize % 90),
        )
        .unwrap();
    }
    let mut archives = Vec::new();
    for threads in ["", "1", "4", ""] {
        let a = tmp.path().join(format!("a{}.tar.zst", archives.len()));
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["create", "-f", &s(&a), "-C", &s(tmp.path()), "t"])
            .env_remove("XDG_CONFIG_HOME");
        if threads.is_empty() {
            cmd.env_remove("RAYON_NUM_THREADS");
        } else {
            cmd.env("RAYON_NUM_THREADS", threads);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        archives.push((threads, std::fs::read(&a).unwrap()));
    }
    let (_, first) = &archives[0];
    // The seek table's frame count (the 4 bytes before its descriptor and
    // magic): the layout has frames of every kind.
    let n = first.len();
    let frames = u32::from_le_bytes(first[n - 9..n - 5].try_into().unwrap());
    assert!(frames > 20, "{frames} frames");
    for (threads, a) in &archives[1..] {
        assert!(
            a == first,
            "RAYON_NUM_THREADS={threads:?}: {} bytes against {}",
            a.len(),
            first.len()
        );
    }
}

/// Messages about an owner outside the map say where the map came from:
/// the options given (`--uid-map and --gid-map`, `--map`), the context,
/// or both; never an option that was not given.
#[test]
fn unmapped_owner_messages_name_the_maps_origin() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("t");
    std::fs::create_dir(&t).unwrap();
    std::fs::write(t.join("f"), "x").unwrap();
    if is_root() {
        lchown(&t.join("f"), 5000, 5000);
    }
    let uid = std::fs::metadata(t.join("f")).unwrap().uid();
    let a = s(&tmp.path().join("a.tar"));
    let far = format!("0:{}:1", uid + 1);
    let cases: [(&[&str], &str); 4] = [
        (
            &["--uid-map", &far, "--gid-map", &far],
            "(given with --uid-map and --gid-map)",
        ),
        (&["--map", &far], "(given with --map)"),
        (
            &["--map", &far, "--context", "img"],
            "(context img, map given with --map)",
        ),
        (
            &["--uid-map", &far, "--gid-map", &far, "--context", "img"],
            "(context img, map given with --uid-map and --gid-map)",
        ),
    ];
    for (opts, want) in cases {
        let mut args = vec!["create", "--no-userns", "-f", &a, "-C"];
        let dir = s(&t);
        args.push(&dir);
        args.extend_from_slice(opts);
        args.push("f");
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{opts:?}: {err}");
        assert!(err.contains(want), "{opts:?}: want {want}: {err}");
        let b = s(&tmp.path().join("b.tar"));
        ok(["create", "-f", &b, "-C", &dir, "f"]);
        let mut args = vec!["list", "-f", &b];
        args.extend_from_slice(opts);
        let err = String::from_utf8_lossy(&run(&args).stderr).into_owned();
        assert!(err.contains(want), "list {opts:?}: want {want}: {err}");
    }
}
