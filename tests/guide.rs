//! docs/guide.md, run as written. Each shell block preceded by
//! `<!-- guide-test: NAME WHO -->` is run with `sh -e` and the alientar
//! under test first on `PATH`, as root (`WHO` = `root`) or as the test user
//! `alientar-test` dropped to with `runuser` (`WHO` = `user`), in a scratch
//! directory standing for the user's home. The tests set up what the guide
//! assumes (a rootless container's storage), run the blocks in order, and
//! check what the guide says they do (the disk-image blocks of section (g)
//! are run by tests/images.rs, on a Debian tree). They need root, the test user with
//! `/etc/subuid` and `/etc/subgid` ranges, and `newuidmap`; without them
//! they say loudly that they are skipped.

mod common;

use common::guide::*;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const U: &str = TEST_USER;

#[test]
fn guide_blocks_are_tagged() {
    let b = blocks();
    for name in [
        "a-backup",
        "a-restore-user",
        "a-restore-root",
        "b-image",
        "b-oci",
        "b-base",
        "c-userns",
        "c-xattr",
        "d-live",
        "e-image",
        "f-full",
        "f-nightly",
        "f-restore",
        // Run by tests/images.rs, on a Debian tree.
        "g-mmdebstrap",
        "g-squashfs",
        "g-ext4",
    ] {
        assert!(b.contains_key(name), "docs/guide.md lacks the block {name}");
    }
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md"))
        .unwrap();
    assert!(text.contains(
        "## What alientar does that GNU tar, bsdtar, fakeroot and `podman unshare tar` do not"
    ));
    let table = text.lines().filter(|l| l.starts_with('|')).count();
    assert!(table >= 8, "comparison table has {table} lines");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(readme.contains("docs/guide.md") && readme.contains("docs/format.md"));
    // The README's uses link to their recipes, and every link finds its heading.
    let anchors: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(slug)
        .collect();
    let links: Vec<&str> = readme
        .split("docs/guide.md#")
        .skip(1)
        .map(|r| {
            r.split(|c: char| c == ')' || c.is_whitespace())
                .next()
                .unwrap()
        })
        .collect();
    for l in &links {
        assert!(
            anchors.iter().any(|a| a == l),
            "README links to #{l}, not a heading of the guide: {anchors:?}"
        );
    }
    for section in ["a-", "b-", "c-", "d-", "e-", "f-", "g-"] {
        assert!(
            links.iter().any(|l| l.starts_with(section)),
            "README does not link the guide's ({section}) section"
        );
    }
    // Installing from the source uses the Cargo.lock the tests ran with.
    for (doc, body) in [("README.md", &readme), ("docs/guide.md", &text)] {
        for l in body
            .lines()
            .filter(|l| l.contains("cargo install") && l.contains("--path"))
        {
            assert!(l.contains("--locked"), "{doc}: {l}");
        }
    }
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped,
/// spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A scratch directory the test user can reach.
fn scratch() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    chmod(t.path(), 0o755);
    t
}

fn owned_dir(u: &User, p: &Path) -> PathBuf {
    std::fs::create_dir_all(p).unwrap();
    lchown(p, u.uid, u.gid);
    p.to_path_buf()
}

fn owner(p: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// Rootless podman's storage for the test user with HOME = `home`: a small image
/// (root's files, group 42's `etc/shadow`, a setuid `su`, uid 1000's private
/// `home/app`) imported with `podman import`, so podman lays it out with
/// its own storage driver (`vfs` where overlay is unavailable) and shifts
/// the owners itself. Returns the layer's folder relative to the storage
/// root (`vfs/dir/ID` or `overlay/ID/diff`).
fn rootless_storage(home: &Path, tmp: &Path) -> String {
    let img = tmp.join("image");
    for d in ["etc", "usr/bin", "home/app"] {
        std::fs::create_dir_all(img.join(d)).unwrap();
    }
    std::fs::write(img.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(img.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(img.join("usr/bin/su"), "#!/bin/sh\n").unwrap();
    std::fs::write(img.join("home/app/notes"), "private\n").unwrap();
    lchown(&img.join("etc/shadow"), 0, 42);
    lchown(&img.join("home/app"), 1000, 1000);
    lchown(&img.join("home/app/notes"), 1000, 1000);
    chmod(&img.join("etc/shadow"), 0o640);
    chmod(&img.join("usr/bin/su"), 0o4755);
    chmod(&img.join("home/app"), 0o700);
    chmod(&img.join("home/app/notes"), 0o600);
    let tarball = tmp.join("image.tar");
    sh_ok(&format!("tar -C {} -cf {} .", s(&img), s(&tarball)));
    chmod(&tarball, 0o644);
    let out = Command::new("runuser")
        .args(["-u", U, "--", "env"])
        .arg(format!("HOME={}", home.display()))
        .args(["podman", "import", &s(&tarball), "localhost/guide:1"])
        .current_dir(home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "podman import as {U}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let storage = home.join(STORAGE);
    let shadow = walk(&storage)
        .into_iter()
        .find(|p| p.ends_with("etc/shadow"))
        .expect("podman stored the image's etc/shadow");
    let layer = shadow.parent().unwrap().parent().unwrap();
    s(layer.strip_prefix(&storage).unwrap())
}

/// Where rootless podman keeps its storage under HOME.
const STORAGE: &str = ".local/share/containers/storage";

/// (a): back up rootless storage as its user; restore it as another user
/// and, as root, through another subordinate range, checked with `diff`.
#[test]
fn guide_a_backup_and_restore_rootless_storage() {
    let Some(u) = test_user("guide_a_backup_and_restore_rootless_storage") else {
        return;
    };
    if !have("zstd") {
        // Not needed by alientar; only to be sure the archive is what GNU tar reads.
        skip("guide_a (zstd -t check)", "zstd missing");
    }
    if !have("podman") {
        return skip(
            "guide_a_backup_and_restore_rootless_storage",
            "podman missing (apt-get install podman)",
        );
    }
    let tmp = scratch();
    let home = owned_dir(&u, &tmp.path().join("home"));
    let layer = rootless_storage(&home, tmp.path());
    let in_storage = |home: &Path| home.join(STORAGE).join(&layer);
    // The user cannot read the container user's file without a namespace.
    assert!(
        !sh(&format!(
            "runuser -u {U} -- cat {}/home/app/notes",
            s(&in_storage(&home))
        ))
        .status
        .success()
    );

    let out = run_block("a-backup", &home, &home);
    assert!(out.contains("all owners map"), "{out}");
    assert!(
        out.contains("-rw-r----- 0/42") && out.contains("etc/shadow [rootless]"),
        "{out}"
    );
    let backup = home.join("containers-backup.tar.zst");
    let listing = ok(["list", "-v", "-f", &s(&backup)]);
    assert!(
        listing.contains("-rw------- 1000/1000") && listing.contains("home/app/notes [rootless]"),
        "the unreadable file is in the archive, in the container's view:\n{listing}"
    );
    assert!(listing.contains("-rwsr-xr-x 0/0"), "{listing}");
    if have("zstd") {
        sh_ok(&format!("zstd -qt {}", s(&backup)));
    }

    // The user restores it in another home: the label means this user's rootless map.
    let home2 = owned_dir(&u, &tmp.path().join("home2"));
    std::fs::copy(&backup, home2.join("containers-backup.tar.zst")).unwrap();
    lchown(&home2.join("containers-backup.tar.zst"), u.uid, u.gid);
    run_block("a-restore-user", &home2, &home2);
    let l2 = in_storage(&home2);
    assert_eq!(
        owner(&l2.join("etc/shadow")),
        (u.uid, u.sub_gid + 41, 0o640)
    );
    assert_eq!(owner(&l2.join("usr/bin/su")), (u.uid, u.gid, 0o4755));
    assert_eq!(
        owner(&l2.join("home/app/notes")),
        (u.sub_uid + 999, u.sub_gid + 999, 0o600)
    );

    // Root on the new machine, with bob's range 300000 and uid 2001.
    let newhost = tmp.path().join("newhost");
    std::fs::create_dir(&newhost).unwrap();
    std::fs::copy(&backup, newhost.join("containers-backup.tar.zst")).unwrap();
    let out = run_block("a-restore-root", &newhost, &newhost);
    assert!(out.trim_end().ends_with("identical"), "{out}");
    let l3 = newhost.join("restore").join(&layer);
    assert!(
        out.contains("2001 300041"),
        "ls -ln shows the new owners: {out}"
    );
    assert_eq!(owner(&l3.join("etc/shadow")), (2001, 300041, 0o640));
    assert_eq!(owner(&l3.join("home/app/notes")), (300999, 300999, 0o600));
    assert_eq!(owner(&l3.join("usr/bin/su")), (2001, 2001, 0o4755));
    // What the guide says diff prints after a change.
    lchown(&l3.join("etc/shadow"), 0, 300041);
    let out = run([
        "diff",
        "-f",
        &s(&newhost.join("containers-backup.tar.zst")),
        "-C",
        &s(&newhost.join("restore")),
        "--map",
        "0:2001:1,1:300000:65536",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{layer}/etc/shadow: Uid differs (archive 2001, disk 0)\n")
    );
}

/// (b) an image built as an ordinary user from a tree and an mtree spec;
/// (c) restored into rootless storage with the userns and xattr sinks,
/// and archived back from the xattrs unchanged.
#[test]
fn guide_b_image_and_c_restore_into_rootless_storage() {
    let Some(u) = test_user("guide_b_image_and_c_restore_into_rootless_storage") else {
        return;
    };
    if !have("tar") || !have("zstd") {
        return skip(
            "guide_b_image_and_c_restore_into_rootless_storage",
            "GNU tar or zstd missing (apt-get install tar zstd)",
        );
    }
    let tmp = scratch();
    let home = owned_dir(&u, &tmp.path().join("home"));

    let out = run_block("b-image", &home, &home);
    for line in [
        "-rw-r----- 0/42",
        "-rwsr-xr-x 0/0",
        "crw-rw-rw- 0/0             1,3",
    ] {
        assert!(out.contains(line), "no '{line}' in:\n{out}");
    }
    let image = home.join("rootfs.tar.zst");
    let json = ok(["list", "--json", "-f", &s(&image)]);
    let entries: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for e in &entries {
        let (path, uid, gid) = (e["path"].as_str().unwrap(), &e["uid"], &e["gid"]);
        let want_gid = if path == "./etc/shadow" { 42 } else { 0 };
        assert_eq!(
            (uid.as_u64(), gid.as_u64()),
            (Some(0), Some(want_gid)),
            "{path}"
        );
    }
    let tar = sh_ok(&format!(
        "tar --numeric-owner -tvf {} ./dev/null ./etc/shadow ./usr/bin/su",
        s(&image)
    ));
    assert!(
        tar.contains("crw-rw-rw- 0/0") && tar.contains("-rw-r----- 0/42"),
        "{tar}"
    );

    // (c) userns sink.
    run_block("c-userns", &home, &home);
    let ct = home.join("ct/userns");
    assert_eq!(
        owner(&ct.join("etc/shadow")),
        (u.uid, u.sub_gid + 41, 0o640)
    );
    assert_eq!(owner(&ct.join("usr/bin/su")), (u.uid, u.gid, 0o4755));
    let null = std::fs::symlink_metadata(ct.join("dev/null")).unwrap();
    assert!(null.is_file() && null.mode() & 0o7777 == 0, "placeholder");
    // (c) xattr sink and back.
    if !have("getfattr") {
        return skip(
            "guide_c (xattr part)",
            "getfattr missing (apt-get install attr)",
        );
    }
    let out = run_block("c-xattr", &home, &home);
    assert!(
        out.contains("user.containers.override_stat=\"0:42:0640:file\""),
        "{out}"
    );
    assert!(out.contains("same owners, modes, types and times"), "{out}");
    assert!(out.contains("the tree holds the archive"), "{out}");
    let x = home.join("ct/xattr");
    assert_eq!(owner(&x.join("etc/shadow")).0, u.uid, "owned by the user");
}

/// (b) the image as an OCI image, copied into podman's storage with
/// skopeo: podman's namespace shows root's and shadow's etc/shadow; an
/// image built on it holds a second layer with just what changed.
#[test]
fn guide_b_oci_image_into_podman() {
    let t = "guide_b_oci_image_into_podman";
    let Some(u) = test_user(t) else { return };
    if !have("skopeo") {
        return skip(t, "skopeo missing (apt-get install skopeo)");
    }
    let Some(pm) = common::podman::Podman::new(t, &u) else {
        return;
    };
    run_block_env("b-image", &pm.home, &pm.home, &pm.env());
    let out = run_block_env("b-oci", &pm.home, &pm.home, &pm.env());
    let line = out.lines().last().unwrap_or_default();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        (f.first(), f.get(2), f.get(3)),
        (Some(&"-rw-r-----"), Some(&"0"), Some(&"42")),
        "{out}"
    );
    let index = std::fs::read_to_string(pm.home.join("images/index.json")).unwrap();
    assert!(
        index.contains("\"org.opencontainers.image.ref.name\":\"rootfs\""),
        "{index}"
    );
    // On top of it, a layer with just what changed.
    let out = run_block_env("b-base", &pm.home, &pm.home, &pm.env());
    let second: Vec<&str> = out
        .split("# layer 2/2 ")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"))
        .lines()
        .skip(1)
        .collect();
    assert_eq!(
        second,
        [
            "./",
            "./etc/",
            "./etc/.wh.passwd",
            "./etc/hostname",
            "./etc/shadow"
        ],
        "{out}"
    );
}

/// (d): a running rootless container backed up and restored through its
/// user namespace, its namespace listed by `contexts --live`.
#[test]
fn guide_d_live_container() {
    let t = "guide_d_live_container";
    let Some(u) = test_user(t) else { return };
    let Some(pm) = common::podman::Podman::new(t, &u) else {
        return;
    };
    let Some(rootfs) = pm.rootfs_archive(t) else {
        return;
    };
    pm.import(&rootfs, "localhost/guide:rootfs");
    pm.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "localhost/guide:rootfs",
        "sleep",
        "1000",
    ]);
    let out = run_block_env("d-live", &pm.home, &pm.home, &pm.env());
    let pause = pm.pause_pid().expect("podman's pause process").to_string();
    assert!(
        out.lines()
            .any(|l| l.starts_with(&pause) && l.contains("rootless") && l.contains("catatonit")),
        "{out}"
    );
    assert!(
        out.contains("-rw-r----- 0/42") && out.contains("etc/shadow [rootless]"),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with("root shadow /srv/etc/shadow"),
        "{out}"
    );
}

/// (e): an image podman saved as an OCI layout, listed, checked and
/// restored as the test user; `podman run --rootfs` sees its owners.
#[test]
fn guide_e_saved_image() {
    let t = "guide_e_saved_image";
    let Some(u) = test_user(t) else { return };
    let Some(pm) = common::podman::Podman::new(t, &u) else {
        return;
    };
    let Some(rootfs) = pm.rootfs_archive(t) else {
        return;
    };
    pm.import(&rootfs, "localhost/guide:rootfs");
    let out = run_block_env("e-image", &pm.home, &pm.home, &pm.env());
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("-rw-r----- 0/42") && lines[0].contains("etc/shadow"),
        "{out}"
    );
    assert_eq!(lines[1], "all owners map", "{out}");
    assert_eq!(
        &lines[2..],
        ["root shadow 640 /etc/shadow", "root root 4755 /usr/bin/su"],
        "{out}"
    );
}

/// (f): a nightly incremental backup of rootless storage (a full archive,
/// an increment after changes, one after none) and its restore, which
/// equals the storage.
#[test]
fn guide_f_nightly_incremental_backup() {
    let t = "guide_f_nightly_incremental_backup";
    let Some(u) = test_user(t) else { return };
    if !have("podman") {
        return skip(t, "podman missing (apt-get install podman)");
    }
    let tmp = scratch();
    let home = owned_dir(&u, &tmp.path().join("home"));
    let layer = rootless_storage(&home, tmp.path());
    let driver = layer.split('/').next().unwrap().to_owned();
    let storage = home.join(STORAGE);
    let l = storage.join(&layer);
    // A change in the second or two before an archive is found again by
    // the next one: let the import settle.
    let settle = || std::thread::sleep(std::time::Duration::from_millis(2100));
    settle();
    run_block("f-full", &home, &home);
    // The container changes its files (as it would, running).
    std::fs::write(l.join("etc/new.conf"), "new\n").unwrap();
    lchown(&l.join("etc/new.conf"), u.sub_uid + 41, u.sub_gid + 41);
    sh_ok(&format!(
        "echo 'app:x:1000:1000::/home/app:/bin/sh' >> {}",
        s(&l.join("etc/passwd"))
    ));
    std::fs::remove_file(l.join("home/app/notes")).unwrap();
    settle();
    let out = run_block("f-nightly", &home, &home);
    for want in [
        format!("A ./{layer}/etc/new.conf"),
        format!("M ./{layer}/etc/passwd"),
        format!("D ./{layer}/home/app/notes"),
    ] {
        let want = want.replace("./", "");
        assert!(out.lines().any(|x| x == want), "no '{want}' in:\n{out}");
    }
    assert!(!out.contains("usr/bin/su"), "{out}");
    settle();
    let out = run_block("f-nightly", &home, &home);
    assert!(!out.contains("etc/"), "nothing changed:\n{out}");
    run_block("f-restore", &home, &home);
    // Times to the second, as archived; the top folder has the label.
    let mut want = whole_seconds(snapshot(&storage.join(&driver)));
    let mut got = snapshot(&home.join("restored").join(&driver));
    want.remove("");
    got.remove("");
    assert_same(&want, &got);
}
