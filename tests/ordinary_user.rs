//! An ordinary user ("U", the test user `alientar-test` with a subordinate
//! range) creates and restores trees owned by foreign IDs: the `userns`,
//! `xattr` and `manifest` sinks, `create --from-xattrs`/`--from-manifest`,
//! automatic user namespaces on create, `check`, `remap`, ACL and
//! capability IDs. The tests run as root and drop to U with `runuser`;
//! they skip loudly when either is missing. CI (`.ci/run`) has both.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const U: &str = TEST_USER;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// Run alientar as U; returns the output.
fn as_user(args: &str) -> std::process::Output {
    sh(&format!(
        "cd /tmp && runuser -u {U} -- {} {args}",
        bin().display()
    ))
}

fn as_user_ok(args: &str) -> String {
    let out = as_user(args);
    assert!(
        out.status.success(),
        "as {U}: alientar {args} failed ({:?}):\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temporary directory U can use.
fn shared_tmp() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    chmod(t.path(), 0o755);
    t
}

fn user_dir(u: &User, p: &Path) -> PathBuf {
    std::fs::create_dir_all(p).unwrap();
    std::os::unix::fs::lchown(p, Some(u.uid), Some(u.gid)).unwrap();
    p.to_path_buf()
}

/// The image tree: make_tree plus owners an image has (etc/shadow 0:42, a
/// file owned by 7:8), made as root.
fn image(root: &Path) -> PathBuf {
    let t = make_tree(root);
    lchown(&t.join("run/fifo"), 100, 101); // inside the rootless range
    std::fs::write(t.join("etc/unreadable"), "secret\n").unwrap();
    chmod(&t.join("etc/unreadable"), 0o600);
    lchown(&t.join("etc/unreadable"), 7, 8);
    set_mtime(&t.join("etc/unreadable"), 1_650_000_000, 5);
    set_mtime(&t.join("etc"), 1_650_000_001, 6);
    set_mtime(&t.join("run"), 1_650_000_002, 7);
    t
}

/// [`image`] under `tmp`, archived by root as `tmp/img.tar.zst`, which U
/// can read: the archive's path.
fn image_archive(tmp: &Path) -> String {
    let t = image(tmp);
    let a = s(&tmp.join("img.tar.zst"));
    ok(["create", "-f", &a, "-C", &s(&t), "."]);
    chmod(Path::new(&a), 0o644);
    a
}

/// The tree `t` archived by root as `tmp/NAME`, every entry labelled
/// `label` with the host's owners, readable by U: the archive's path.
fn labelled_archive(tmp: &Path, t: &Path, name: &str, label: &str) -> String {
    let a = s(&tmp.join(name));
    ok([
        "create",
        "-f",
        &a,
        "-C",
        &s(t),
        "--context",
        label,
        "--map",
        "host",
        ".",
    ]);
    chmod(Path::new(&a), 0o644);
    a
}

fn rootless(u: &User) -> String {
    format!("0:{}:1,1:{}:65536", u.uid, u.sub_uid)
}

/// `list --json` as path → object, paths normalized (`./x` → `x`).
fn listing(archive: &str) -> BTreeMap<String, serde_json::Value> {
    ok(["list", "--json", "-f", archive])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let mut p = v["path"].as_str().unwrap().to_string();
            while let Some(r) = p.strip_prefix("./") {
                p = r.to_string();
            }
            if p == "." {
                p.clear();
            }
            (p, v)
        })
        .collect()
}

fn assert_listing_eq(
    a: &BTreeMap<String, serde_json::Value>,
    b: &BTreeMap<String, serde_json::Value>,
    keys: &[&str],
) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "entry sets differ"
    );
    let mut diffs = Vec::new();
    for (p, x) in a {
        for k in keys {
            if x[k] != b[p][k] {
                diffs.push(format!("{p}: {k}: {} vs {}", x[k], b[p][k]));
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(20)].join("\n")
    );
}

const META: &[&str] = &[
    "type", "mode", "uid", "gid", "size", "mtime", "link", "devmajor", "devminor",
];

/// U backs up the podman-layout copy (some files unreadable to U) with
/// `create --map rootless`: the archive equals the original image's, entry
/// for entry; as root with the explicit map and no namespace, too.
#[test]
fn user_backs_up_rootless_storage() {
    let Some(u) = test_user("user_backs_up_rootless_storage") else {
        return;
    };
    let tmp = shared_tmp();
    let t = image(tmp.path());
    let store = tmp.path().join("store");
    shifted_copy(&t, &store, (u.uid, u.sub_uid), (u.gid, u.sub_gid));
    // U cannot read this outside a namespace.
    assert!(
        sh(&format!(
            "runuser -u {U} -- cat {}/etc/unreadable",
            s(&store)
        ))
        .status
        .code()
            != Some(0)
    );
    let want = s(&tmp.path().join("want.tar"));
    ok(["create", "-f", &want, "-C", &s(&t), "--numeric-owner", "."]);
    let got = s(&tmp.path().join("got.tar.zst"));
    user_dir(&u, &tmp.path().join("out"));
    let got = got.replace("got.tar.zst", "out/got.tar.zst");
    as_user_ok(&format!(
        "create -f {got} -C {} --map rootless .",
        s(&store)
    ));
    let (w, g) = (listing(&want), listing(&got));
    assert_listing_eq(&w, &g, META);
    assert!(
        g.values().all(|v| v["context"] == "rootless"),
        "labelled rootless"
    );
    // Contents too.
    assert_eq!(
        sh_ok(&format!("tar -xOf {want} ./etc/unreadable")),
        sh_ok(&format!("tar --zstd -xOf {got} ./etc/unreadable"))
    );
    // GNU tar run inside U's namespace stores the same owners.
    if have("unshare")
        && sh(&format!(
            "runuser -u {U} -- unshare --map-auto --map-root-user true"
        ))
        .status
        .success()
    {
        let gnu = s(&tmp.path().join("out/gnu.tar"));
        sh_ok(&format!(
            "cd {} && runuser -u {U} -- unshare --map-auto --map-root-user tar --numeric-owner -cf {gnu} .",
            s(&store)
        ));
        let gl = sh_ok(&format!(
            "tar --numeric-owner -tvf {gnu} | grep -v -e ' link to ' -e 'usr/bin/su' | awk '{{print substr($1, 2), $2, $NF}}' | sort"
        ));
        let ol = sh_ok(&format!(
            "tar --numeric-owner -tvf {got} | grep -v -e ' link to ' -e 'usr/bin/su' | awk '{{print substr($1, 2), $2, $NF}}' | sort"
        ));
        let gl: Vec<&str> = gl.lines().collect();
        let ol: Vec<&str> = ol.lines().collect();
        let only_gnu: Vec<_> = gl.iter().filter(|l| !ol.contains(l)).collect();
        let only_ours: Vec<_> = ol.iter().filter(|l| !gl.contains(l)).collect();
        assert!(
            only_gnu.is_empty() && only_ours.is_empty(),
            "owners as `podman unshare tar -c` stores them: GNU only {only_gnu:?}, ours only {only_ours:?}"
        );
    } else {
        skip(
            "podman-unshare comparison",
            "unshare --map-auto not available",
        );
    }
    // As root with the explicit map, no namespace: the same archive.
    let r = s(&tmp.path().join("root.tar"));
    ok([
        "create",
        "-f",
        &r,
        "-C",
        &s(&store),
        "--context",
        "rootless",
        "--map",
        &rootless(&u),
        ".",
    ]);
    assert_listing_eq(&w, &listing(&r), META);
}

/// U restores with `--owners userns`: on-disk owners, modes and times equal
/// what GNU tar leaves inside `unshare --map-auto --map-root-user` (which
/// fails on device nodes); ours records them and exits 0.
#[test]
fn user_restores_with_userns_like_gnu_tar_in_unshare() {
    let Some(u) = test_user("user_restores_with_userns_like_gnu_tar_in_unshare") else {
        return;
    };
    let tmp = shared_tmp();
    let a = image_archive(tmp.path());
    let ours = user_dir(&u, &tmp.path().join("ours"));
    let err = as_user_ok(&format!(
        "extract -f {a} -C {} --owners userns --map rootless",
        s(&ours)
    ));
    assert_eq!(
        err.matches("device nodes recorded").count(),
        1,
        "one warning for all devices: {err}"
    );
    let o = snapshot(&ours);
    assert_eq!(
        (o["etc/shadow"].uid, o["etc/shadow"].gid),
        (u.uid, u.sub_gid + 41)
    );
    assert_eq!((o["usr/bin/su"].uid, o["usr/bin/su"].mode), (u.uid, 0o4755));
    assert_eq!(
        o["dev/null"].mode, 0,
        "device recorded as a mode-0 placeholder"
    );
    assert_eq!(
        xattr::get(ours.join("dev/null"), "user.containers.override_stat")
            .unwrap()
            .as_deref(),
        Some(&b"0:0:0666:char-1-3"[..])
    );
    if !(have("unshare")
        && sh(&format!(
            "runuser -u {U} -- unshare --map-auto --map-root-user true"
        ))
        .status
        .success())
    {
        return skip("GNU tar comparison", "unshare --map-auto not available");
    }
    let gnu = user_dir(&u, &tmp.path().join("gnu"));
    let out = sh(&format!(
        "runuser -u {U} -- unshare --map-auto --map-root-user tar --zstd --xattrs -xpf {a} -C {}",
        s(&gnu)
    ));
    assert_eq!(
        out.status.code(),
        Some(2),
        "GNU tar fails on the device nodes"
    );
    let mut g = snapshot(&gnu);
    let mut o = o;
    for m in [&mut g, &mut o] {
        m.retain(|k, _| !k.starts_with("dev/") || k == "dev");
        m.get_mut("").unwrap().xattrs.clear();
    }
    assert_same(&g, &o);
}

/// A map the user's ranges do not cover: newuidmap and newgidmap (run side
/// by side) both refuse it, the error names both and the ranges, and
/// nothing is extracted.
#[test]
fn a_map_outside_the_users_ranges_is_refused() {
    let Some(u) = test_user("a_map_outside_the_users_ranges_is_refused") else {
        return;
    };
    let tmp = shared_tmp();
    let a = image_archive(tmp.path());
    let dest = user_dir(&u, &tmp.path().join("dest"));
    // Far above the test user's subordinate ranges (and not its own ID).
    let outside = u.sub_uid.max(u.sub_gid) + 10_000_000;
    let out = as_user(&format!(
        "extract -f {a} -C {} --owners userns --map 0:{outside}:10",
        s(&dest)
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in ["newuidmap", "newgidmap", "/etc/subuid"] {
        assert!(err.contains(want), "{want} not named: {err}");
    }
    assert_eq!(
        std::fs::read_dir(&dest).unwrap().count(),
        0,
        "nothing extracted"
    );
}

/// `--owners xattr`: everything owned by U, etc/shadow carries 0:42:0640:file;
/// `create --from-xattrs` as U with no namespace reproduces the archive.
#[test]
fn xattr_sink_roundtrip_as_user() {
    let Some(u) = test_user("xattr_sink_roundtrip_as_user") else {
        return;
    };
    let tmp = shared_tmp();
    let t = image(tmp.path());
    let a = labelled_archive(tmp.path(), &t, "img.tar.zst", "rootless");
    let d = user_dir(&u, &tmp.path().join("x"));
    as_user_ok(&format!("extract -f {a} -C {} --owners xattr", s(&d)));
    let snap = snapshot(&d);
    assert!(
        snap.values().all(|m| m.uid == u.uid),
        "every file owned by U"
    );
    assert_eq!(
        xattr::get(d.join("etc/shadow"), "user.containers.override_stat")
            .unwrap()
            .as_deref(),
        Some(&b"0:42:0640:file"[..])
    );
    user_dir(&u, &tmp.path().join("out"));
    let back = s(&tmp.path().join("out/back.tar.zst"));
    as_user_ok(&format!(
        "create --no-userns -f {back} --from-xattrs -C {} .",
        s(&d)
    ));
    let mut keys = META.to_vec();
    keys.push("context");
    // Symlinks cannot carry user xattrs: their owners come from the map (0:0 here).
    assert_listing_eq(&listing(&a), &listing(&back), &keys);
}

/// `--owners manifest=FILE`, then `bsdtar -cf x.tar @FILE` in the
/// destination gives the image's owners, modes, types and times.
#[test]
fn manifest_sink_rebuilds_with_bsdtar() {
    let Some(u) = test_user("manifest_sink_rebuilds_with_bsdtar") else {
        return;
    };
    if !have("bsdtar") {
        return skip("manifest_sink_rebuilds_with_bsdtar", "bsdtar missing");
    }
    let tmp = shared_tmp();
    let t = image(tmp.path());
    let a = s(&tmp.path().join("img.tar"));
    ok(["create", "-f", &a, "-C", &s(&t), "."]);
    chmod(Path::new(&a), 0o644);
    let d = user_dir(&u, &tmp.path().join("m"));
    let out = user_dir(&u, &tmp.path().join("out"));
    let m = s(&out.join("m.mtree"));
    as_user_ok(&format!(
        "extract -f {a} -C {} --owners manifest={m}",
        s(&d)
    ));
    assert!(
        !d.join("dev/null").exists(),
        "devices are only in the manifest"
    );
    let x = s(&out.join("x.tar"));
    sh_ok(&format!(
        "cd {} && runuser -u {U} -- bsdtar --format=pax -cf {x} @{m}",
        s(&d)
    ));
    let (w, g) = (listing(&a), listing(&x));
    let mut w2 = w.clone();
    for v in w2.values_mut() {
        if v["type"] == "hardlink" {
            v["type"] = "file".into();
            v["link"] = serde_json::Value::Null;
            v["size"] = g[v["path"].as_str().unwrap().trim_start_matches("./")]["size"].clone();
        }
    }
    let mut g2 = g.clone();
    for v in g2.values_mut() {
        if v["type"] == "hardlink" {
            v["type"] = "file".into();
            v["link"] = serde_json::Value::Null;
        }
    }
    for v in w2.values_mut().chain(g2.values_mut()) {
        if v["type"] == "file" {
            v["size"] = serde_json::Value::Null; // bsdtar picks which hard link carries the data
        }
    }
    assert_listing_eq(&w2, &g2, META);
}

/// `check` names uncovered IDs and fails; passes with the rootless map.
/// `remap` gives host owners with identical contents.
#[test]
fn check_and_remap() {
    let Some(u) = test_user("check_and_remap") else {
        return;
    };
    let tmp = shared_tmp();
    let t = image(tmp.path());
    let a = s(&tmp.path().join("img.tar.zst"));
    ok(["create", "-f", &a, "-C", &s(&t), "."]);
    chmod(Path::new(&a), 0o644);
    let out = as_user(&format!("check -f {a} --map 0:{}:1", u.uid));
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not covered") && text.contains("42"),
        "{text}"
    );
    let out = as_user(&format!("check -f {a} --map rootless"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = s(&tmp.path().join("r.tar"));
    ok(["remap", "-f", &a, "-o", &r, "--map", &rootless(&u)]);
    let l = listing(&r);
    assert_eq!(
        (
            l["etc/shadow"]["uid"].as_u64(),
            l["etc/shadow"]["gid"].as_u64()
        ),
        (Some(u64::from(u.uid)), Some(u64::from(u.sub_gid + 41)))
    );
    assert_eq!(
        sh_ok(&format!("tar -xOf {r} ./usr/bin/su | sha256sum")),
        sh_ok(&format!("sha256sum < {}/usr/bin/su", s(&t)))
    );
    // And back with --inverse.
    let back = s(&tmp.path().join("back.tar"));
    ok([
        "remap",
        "-f",
        &r,
        "-o",
        &back,
        "--map",
        &rootless(&u),
        "--inverse",
        "--context",
        "img",
    ]);
    let b = listing(&back);
    assert_eq!(
        (
            b["etc/shadow"]["uid"].as_u64(),
            b["etc/shadow"]["gid"].as_u64()
        ),
        (Some(0), Some(42))
    );
    assert_eq!(b["etc/shadow"]["context"], "img");
}

/// A tree made inside U's namespace with `setfacl -m u:6:r` and `setcap
/// cap_net_raw+ep` archives, as U and as root with the explicit map, to
/// what GNU tar --xattrs stores inside the namespace: ACL id 6, v2 capability.
#[test]
fn acl_and_capability_ids_like_gnu_tar_in_namespace() {
    let Some(u) = test_user("acl_and_capability_ids_like_gnu_tar_in_namespace") else {
        return;
    };
    if !have("setfacl") || !have("setcap") || !have("unshare") {
        return skip(
            "acl_and_capability_ids_like_gnu_tar_in_namespace",
            "setfacl, setcap or unshare missing",
        );
    }
    if !sh(&format!(
        "runuser -u {U} -- unshare --map-auto --map-root-user true"
    ))
    .status
    .success()
    {
        return skip(
            "acl_and_capability_ids_like_gnu_tar_in_namespace",
            "unshare --map-auto not available",
        );
    }
    let tmp = shared_tmp();
    let d = user_dir(&u, &tmp.path().join("w"));
    sh_ok(&format!(
        "cd {} && runuser -u {U} -- unshare --map-auto --map-root-user sh -c 'mkdir t && echo x > t/ping && setfacl -m u:6:r t/ping && setcap cap_net_raw+ep t/ping && tar --xattrs -cf gnu.tar t'",
        s(&d)
    ));
    let pax = |archive: &str| -> BTreeMap<String, Vec<u8>> {
        let out = sh_ok(&format!(
            "python3 -c \"import tarfile,sys; m=[x for x in tarfile.open('{archive}') if x.name.endswith('t/ping')][0]; [print(k, v.encode('utf-8','surrogateescape').hex()) for k,v in sorted(m.pax_headers.items()) if k.startswith('SCHILY.xattr.s')]\""
        ));
        out.lines()
            .map(|l| {
                let (k, v) = l.split_once(' ').unwrap();
                (
                    k.to_string(),
                    (0..v.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&v[i..i + 2], 16).unwrap())
                        .collect(),
                )
            })
            .collect()
    };
    if !have("python3") {
        return skip("acl comparison", "python3 missing");
    }
    let gnu = pax(&s(&d.join("gnu.tar")));
    assert_eq!(
        gnu.len(),
        2,
        "GNU tar stored the ACL and the capability: {gnu:?}"
    );
    as_user_ok(&format!(
        "create -f {}/u.tar -C {} --map rootless t",
        s(&d),
        s(&d)
    ));
    ok([
        "create",
        "-f",
        &s(&d.join("r.tar")),
        "-C",
        &s(&d),
        "--context",
        "rootless",
        "--map",
        &rootless(&u),
        "t",
    ]);
    for f in ["u.tar", "r.tar"] {
        let ours = pax(&s(&d.join(f)));
        assert_eq!(
            ours, gnu,
            "{f}: ACL and capability as GNU tar stores them in the namespace"
        );
    }
    let cap = &gnu["SCHILY.xattr.security.capability"];
    assert_eq!(cap.len(), 20, "v2 capability");
    let acl = &gnu["SCHILY.xattr.system.posix_acl_access"];
    assert!(
        acl[4..]
            .chunks(8)
            .any(|c| c[0] == 2 && u32::from_le_bytes(c[4..8].try_into().unwrap()) == 6),
        "ACL_USER entry with id 6"
    );
}

/// U builds an image from a tree U owns plus an mtree spec: the archive
/// holds exactly what the spec says, including a device that cannot exist.
#[test]
fn user_builds_image_from_tree_and_manifest() {
    let Some(u) = test_user("user_builds_image_from_tree_and_manifest") else {
        return;
    };
    let tmp = shared_tmp();
    let w = user_dir(&u, &tmp.path().join("w"));
    sh_ok(&format!(
        "cd {} && runuser -u {U} -- sh -c 'mkdir -p tree/etc tree/usr/bin tree/dev && echo root:*:1: > tree/etc/shadow && echo su > tree/usr/bin/su && chmod 755 tree/usr/bin/su'",
        s(&w)
    ));
    std::fs::write(
        w.join("spec.mtree"),
        "#mtree\n./etc/shadow uid=0 gid=42 mode=0640\n./usr/bin/su uid=0 gid=0 mode=4755\n./dev/null type=char uid=0 gid=0 mode=0666 device=native,1,3\n",
    )
    .unwrap();
    as_user_ok(&format!(
        "create --no-userns -f {w}/img.tar --context image --map 0:{}:1 --from-manifest {w}/spec.mtree -C {w}/tree .",
        u.uid,
        w = s(&w)
    ));
    let l = listing(&s(&w.join("img.tar")));
    let get = |p: &str| {
        (
            &l[p]["type"],
            l[p]["uid"].as_u64(),
            l[p]["gid"].as_u64(),
            l[p]["mode"].as_str().unwrap(),
        )
    };
    assert_eq!(
        get("etc/shadow"),
        (&"file".into(), Some(0), Some(42), "0640")
    );
    assert_eq!(
        get("usr/bin/su"),
        (&"file".into(), Some(0), Some(0), "4755")
    );
    assert_eq!(get("dev/null"), (&"char".into(), Some(0), Some(0), "0666"));
    assert_eq!(
        (
            l["dev/null"]["devmajor"].as_u64(),
            l["dev/null"]["devminor"].as_u64()
        ),
        (Some(1), Some(3))
    );
    // Everything else U owns maps to root.
    assert_eq!(
        (l["etc"]["uid"].as_u64(), l["etc"]["gid"].as_u64()),
        (Some(0), Some(0))
    );
    // GNU tar sees the same.
    let gnu = sh_ok(&format!(
        "tar --numeric-owner -tvf {}/img.tar ./dev/null ./etc/shadow",
        s(&w)
    ));
    assert!(
        gnu.contains("crw-rw-rw- 0/0") && gnu.contains("-rw-r----- 0/42"),
        "{gnu}"
    );
}

/// The acceptance on a real Debian root filesystem
/// (`ALIENTAR_TEST_ROOTFS`, made by `scripts/make-rootfs.sh` for U's uid and
/// subordinate start): U backs up the podman-layout copy, restores it with
/// the userns sink, round-trips it through the xattr sink, and checks it.
#[test]
fn debian_rootfs_as_user() {
    let Some(u) = test_user("debian_rootfs_as_user") else {
        return;
    };
    let Some(dir) = std::env::var_os("ALIENTAR_TEST_ROOTFS") else {
        return skip(
            "debian_rootfs_as_user",
            "set ALIENTAR_TEST_ROOTFS to the output of scripts/make-rootfs.sh",
        );
    };
    let dir = PathBuf::from(dir);
    let shifted = dir.join("rootfs-shifted");
    let md = std::fs::symlink_metadata(&shifted).unwrap();
    if md.uid() != u.uid {
        return skip(
            "debian_rootfs_as_user",
            "rootfs-shifted was made for another uid (make-rootfs.sh OUT UID SUBUID)",
        );
    }
    let tmp = shared_tmp();
    let out = user_dir(&u, &tmp.path().join("out"));
    let want = s(&tmp.path().join("want.tar.zst"));
    ok([
        "create",
        "-f",
        &want,
        "-C",
        &s(&dir.join("rootfs")),
        "--numeric-owner",
        ".",
    ]);
    chmod(Path::new(&want), 0o644);
    let got = s(&out.join("got.tar.zst"));
    as_user_ok(&format!(
        "create -f {got} -C {} --map rootless .",
        s(&shifted)
    ));
    let w = listing(&want);
    assert!(w.len() > 5000);
    assert_listing_eq(&w, &listing(&got), META);
    // Restore with the userns sink: owners as rootless podman stores them.
    let x = user_dir(&u, &tmp.path().join("x"));
    as_user_ok(&format!("extract -f {got} -C {} --owners userns", s(&x)));
    let mut a = whole_seconds(snapshot(&shifted));
    let mut b = snapshot(&x);
    let devs: Vec<String> = a
        .iter()
        .filter(|(_, m)| m.kind == 0o020000 || m.kind == 0o060000)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(!devs.is_empty());
    for k in &devs {
        assert_eq!(b[k].mode, 0, "{k} recorded as a placeholder");
        a.remove(k);
        b.remove(k);
    }
    b.get_mut("").unwrap().xattrs.clear();
    assert_same(&a, &b);
    // xattr sink, then create --from-xattrs with no namespace.
    let xs = user_dir(&u, &tmp.path().join("xs"));
    as_user_ok(&format!("extract -f {got} -C {} --owners xattr", s(&xs)));
    assert_eq!(
        xattr::get(xs.join("etc/shadow"), "user.containers.override_stat")
            .unwrap()
            .as_deref(),
        Some(&b"0:42:0640:file"[..])
    );
    let back = s(&out.join("back.tar.zst"));
    as_user_ok(&format!(
        "create --no-userns -f {back} --from-xattrs -C {} .",
        s(&xs)
    ));
    let mut keys = META.to_vec();
    keys.push("context");
    assert_listing_eq(&listing(&got), &listing(&back), &keys);
    // check.
    assert_eq!(
        as_user(&format!("check -f {got} --map 0:{}:1", u.uid))
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        as_user(&format!("check -f {got} --map rootless"))
            .status
            .code(),
        Some(0)
    );
}

/// A run's exit status and standard error.
fn status(out: std::process::Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `alientar ARGS` as U; its exit status and standard error.
fn as_user_status(args: &str) -> (Option<i32>, String) {
    status(as_user(args))
}

/// The case: U archives root-owned setuid programs with `--map
/// rootless`, so the walk runs in a user namespace where root shows as the
/// overflow ID. `--unmapped error` (the default) fails as it does with
/// `--no-userns`: the path named, no archive written, exit 2; `overflow`
/// and `keep` store 65534 without the setuid bit. A file of the context's
/// own nobody (host sub_uid + 65533, mapped) is stored as 65534 with its
/// setuid bit, no error: only an owner outside the map is refused.
#[test]
fn create_in_namespace_refuses_owners_outside_the_map() {
    let Some(u) = test_user("create_in_namespace_refuses_owners_outside_the_map") else {
        return;
    };
    let tmp = shared_tmp();
    let out = user_dir(&u, &tmp.path().join("out"));
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::copy("/bin/true", tree.join("bin/passwd")).unwrap();
    chmod(&tree.join("bin/passwd"), 0o4755);
    std::fs::copy("/bin/true", tree.join("bin/nobody")).unwrap();
    lchown(
        &tree.join("bin/nobody"),
        u.sub_uid + 65533,
        u.sub_gid + 65533,
    );
    chmod(&tree.join("bin/nobody"), 0o4755);
    lchown(&tree.join("bin"), u.uid, u.gid);
    lchown(&tree, u.uid, u.gid);
    let x = s(&out.join("x.tar"));
    for extra in ["", "--no-userns"] {
        let (code, err) = as_user_status(&format!(
            "create {extra} --map rootless -C {} bin -f {x}",
            s(&tree)
        ));
        assert_eq!(code, Some(2), "{extra}: {err}");
        assert!(
            err.contains("no archive written") && err.contains("bin/passwd"),
            "{extra}: {err}"
        );
        assert!(!err.contains("bin/nobody"), "{extra}: mapped: {err}");
        assert!(!Path::new(&x).exists(), "{extra}: no archive");
    }
    let (_, err) = as_user_status(&format!("create --map rootless -C {} bin -f {x}", s(&tree)));
    assert!(err.contains("outside the uid map"), "{err}");
    // The command, on the machine's own setuid programs.
    let md = std::fs::metadata("/usr/bin/passwd");
    if md
        .as_ref()
        .is_ok_and(|m| m.uid() == 0 && m.mode() & 0o4000 != 0)
    {
        let (code, err) =
            as_user_status(&format!("create --map rootless -C / usr/bin/passwd -f {x}"));
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("usr/bin/passwd"), "{err}");
        assert!(!Path::new(&x).exists());
    }
    // A map U's ranges do not cover: the refusal names the map U gave.
    let far = u.sub_uid.max(u.sub_gid) + 10_000_000;
    let (code, err) = as_user_status(&format!(
        "create --userns --map 0:{far}:10 -C {} bin -f {x}",
        s(&tree)
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("uid 0:{far}:10 gid 0:{far}:10")),
        "{err}"
    );
    for policy in ["overflow", "keep"] {
        let err = as_user_ok(&format!(
            "create --map rootless --unmapped {policy} -C {} bin -f {x}",
            s(&tree)
        ));
        assert!(err.contains("setuid"), "{policy}: one warning: {err}");
        let l = listing(&x);
        let get = |p: &str| {
            (
                l[p]["uid"].as_u64(),
                l[p]["gid"].as_u64(),
                l[p]["mode"].as_str().unwrap().to_string(),
            )
        };
        assert_eq!(
            get("bin/passwd"),
            (Some(65534), Some(65534), "0755".into()),
            "{policy}"
        );
        assert_eq!(
            get("bin/nobody"),
            (Some(65534), Some(65534), "4755".into()),
            "{policy}"
        );
        assert_eq!(get("bin"), (Some(0), Some(0), "0755".into()), "{policy}");
        std::fs::remove_file(&x).unwrap();
    }
}

/// `alientar ARGS` as U with `XDG_CONFIG_HOME` at `config`.
fn as_user_with_config(config: &Path, args: &str) -> (Option<i32>, String) {
    status(sh(&format!(
        "cd /tmp && runuser -u {U} -- env XDG_CONFIG_HOME={} {} {args}",
        s(config),
        bin().display()
    )))
}

/// An archive labelled `image`, which no registry here defines: extract
/// fails alike for root and for U (exit 2, the label named, nothing
/// written) unless `--context` or `--map` says which map to use. A label
/// whose map is not the one U's user namespace would be built from is an
/// error too, naming `--context`. An owner outside the map U's namespace is
/// built from names that map's origin, not an option U did not give.
#[test]
fn unknown_label_is_an_error_for_root_and_user() {
    let Some(u) = test_user("unknown_label_is_an_error_for_root_and_user") else {
        return;
    };
    let tmp = shared_tmp();
    let t = image(tmp.path());
    let a = labelled_archive(tmp.path(), &t, "img.tar", "image");
    let root_dest = tmp.path().join("root");
    std::fs::create_dir(&root_dest).unwrap();
    let out = run(["extract", "-f", &a, "-C", &s(&root_dest)]);
    let root_err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{root_err}");
    let dest = user_dir(&u, &tmp.path().join("user"));
    let (code, err) = as_user_status(&format!("extract -f {a} -C {}", s(&dest)));
    assert_eq!(code, Some(2), "{err}");
    for e in [&root_err, &err] {
        assert!(
            e.contains("labelled 'image'") && e.contains("no context named 'image'"),
            "{e}"
        );
    }
    for d in [&root_dest, &dest] {
        assert_eq!(
            std::fs::read_dir(d).unwrap().count(),
            0,
            "nothing extracted"
        );
    }
    for how in ["--context rootless", "--map rootless"] {
        let d = user_dir(&u, &tmp.path().join(how.replace(' ', "")));
        as_user_ok(&format!("extract -f {a} -C {} {how}", s(&d)));
        assert_eq!(
            std::fs::metadata(d.join("etc/shadow")).unwrap().uid(),
            u.uid
        );
    }
    // U defines `image` with a map of its own: the namespace auto builds
    // (rootless) would not apply it.
    let config = tmp.path().join("config");
    std::fs::create_dir_all(config.join("alientar")).unwrap();
    std::fs::write(
        config.join("alientar/contexts.toml"),
        format!(
            "[image]\nuidmap = \"0:{}:65536\"\ngidmap = \"0:{}:65536\"\n",
            u.sub_uid, u.sub_gid
        ),
    )
    .unwrap();
    chmod(&config, 0o755);
    // (Owned by the context's root: the map does not hold U's own uid.)
    let d = tmp.path().join("defined");
    std::fs::create_dir(&d).unwrap();
    lchown(&d, u.sub_uid, u.sub_gid);
    let (code, err) = as_user_with_config(&config, &format!("extract -f {a} -C {}", s(&d)));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("labelled 'image'") && err.contains("--context image"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&d).unwrap().count(),
        0,
        "nothing extracted"
    );
    let (code, err) = as_user_with_config(
        &config,
        &format!("extract -f {a} -C {} --context image", s(&d)),
    );
    assert_eq!(code, Some(0), "{err}");
    let md = std::fs::metadata(d.join("etc/shadow")).unwrap();
    assert_eq!((md.uid(), md.gid()), (u.sub_uid, u.sub_gid + 42));
    // An unlabelled archive with an owner outside the rootless map.
    let w = tmp.path().join("w");
    std::fs::create_dir(&w).unwrap();
    std::fs::write(w.join("far"), "x").unwrap();
    lchown(&w.join("far"), 70000, 0);
    let b = s(&tmp.path().join("far.tar"));
    ok(["create", "-f", &b, "-C", &s(&w), "far"]);
    chmod(Path::new(&b), 0o644);
    let d = user_dir(&u, &tmp.path().join("far"));
    let (code, err) = as_user_status(&format!("extract -f {b} -C {}", s(&d)));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("uid 70000") && err.contains("rootless") && !err.contains("--map)"),
        "the map's origin, not an option not given: {err}"
    );
}

/// `--owners chown` as U, who may not give files away: like GNU tar
/// (`--same-owner`), every file is written with its contents, mode and
/// time, directories get their modes; the refused owner changes are
/// reported once, with a count and the first path, exit 1. A file whose
/// owner could not be set loses setuid/setgid (as bsdtar does).
#[test]
fn chown_sink_as_user_writes_the_files_and_reports_once() {
    let Some(u) = test_user("chown_sink_as_user_writes_the_files_and_reports_once") else {
        return;
    };
    let tmp = shared_tmp();
    let a = image_archive(tmp.path());
    let t = tmp.path().join("t");
    let dest = user_dir(&u, &tmp.path().join("dest"));
    let (code, err) = as_user_status(&format!("extract -f {a} -C {} --owners chown", s(&dest)));
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err.matches("cannot change the owner").count(),
        1,
        "once: {err}"
    );
    assert!(
        err.contains("Operation not permitted") && err.contains("(first: "),
        "{err}"
    );
    assert!(err.lines().count() <= 5, "a few lines: {err}");
    let mut want = whole_seconds(snapshot(&t));
    let mut got = snapshot(&dest);
    // Device nodes need CAP_MKNOD (an error each, as in GNU tar).
    want.retain(|k, _| !k.starts_with("dev/"));
    got.retain(|k, _| !k.starts_with("dev/"));
    for (k, m) in want.iter_mut() {
        m.uid = u.uid;
        m.gid = got.get(k).map_or(0, |g| g.gid);
        m.mode &= !0o6000;
    }
    want.get_mut("").unwrap().xattrs.clear();
    got.get_mut("").unwrap().xattrs.clear();
    assert_same(&want, &got);
    assert_eq!(got["usr/bin/su"].mode, 0o755, "setuid dropped");
    assert_eq!(got["etc"].mode, 0o755, "directory modes applied");
}

/// Does `nobody` (uid 65534) exist without subordinate ranges? Else why not.
fn nobody_without_ranges() -> Result<(), &'static str> {
    if !is_root() || !have("setpriv") {
        return Err("needs root and setpriv");
    }
    if !sh("getent passwd nobody | grep -q '^nobody:x\\?:65534:'")
        .status
        .success()
    {
        return Err("no user nobody with uid 65534");
    }
    for f in ["/etc/subuid", "/etc/subgid"] {
        let t = std::fs::read_to_string(f).unwrap_or_default();
        if t.lines()
            .any(|l| l.starts_with("nobody:") || l.starts_with("65534:"))
        {
            return Err("nobody has a subordinate range");
        }
    }
    Ok(())
}

/// `alientar ARGS` as nobody (uid 65534, no subordinate range).
fn as_nobody(args: &str) -> (Option<i32>, String) {
    status(sh(&format!(
        "cd /tmp && setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin HOME=/nonexistent {} {args}",
        bin().display()
    )))
}

/// A user with no subordinate range extracts a plain, unlabelled tarball
/// (made by GNU tar) without options: the files are theirs, as with
/// `--owners none`, with one warning naming `--owners xattr` and
/// `--owners manifest=FILE`; exit 0. A labelled archive still needs a map
/// (exit 2, nothing written).
#[test]
fn unlabelled_archive_falls_back_to_own_ownership_without_ranges() {
    if let Err(why) = nobody_without_ranges() {
        return skip(
            "unlabelled_archive_falls_back_to_own_ownership_without_ranges",
            why,
        );
    }
    let tmp = shared_tmp();
    let t = image(tmp.path());
    let a = s(&tmp.path().join("gnu.tar"));
    sh_ok(&format!("tar -C {} -cf {a} .", s(&t)));
    chmod(Path::new(&a), 0o644);
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    lchown(&dest, 65534, 65534);
    let (code, err) = as_nobody(&format!("extract -f {a} -C {}", s(&dest)));
    assert_eq!(code, Some(0), "{err}");
    let fell_back: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("--owners xattr"))
        .collect();
    assert_eq!(fell_back.len(), 1, "one warning: {err}");
    assert!(fell_back[0].contains("manifest=FILE"), "{err}");
    let got = snapshot(&dest);
    assert!(got.values().all(|m| m.uid == 65534), "owned by nobody");
    assert_eq!(
        std::fs::read(dest.join("etc/unreadable")).unwrap(),
        b"secret\n"
    );
    assert_eq!(got["usr/bin/su"].mode, 0o755, "setuid dropped");
    // Labelled: the label's map is needed.
    let l = labelled_archive(tmp.path(), &t, "labelled.tar", "rootless");
    let d2 = tmp.path().join("d2");
    std::fs::create_dir(&d2).unwrap();
    lchown(&d2, 65534, 65534);
    let (code, err) = as_nobody(&format!("extract -f {l} -C {}", s(&d2)));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("rootless"), "{err}");
    assert_eq!(
        std::fs::read_dir(&d2).unwrap().count(),
        0,
        "nothing extracted"
    );
}
