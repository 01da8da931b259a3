//! `create --oci DIR:TAG`: OCI images alientar writes, checked with the
//! tools that read them. As the test user ("U"): an image built from the
//! Debian rootfs restored with the xattr sink goes into podman's storage
//! with `skopeo copy`, and `podman run` shows root's and shadow's files and
//! the setuid bit; an image built from U's own tree and an mtree spec
//! (gzip) is unpacked by `umoci unpack --rootless` and archived back equal;
//! an image built inside a user namespace from a tree restored with the
//! userns sink holds the archive's owners. As root: the layer is a plain
//! pax stream whose digests are right, the config carries the context,
//! the same tree makes the same image, tags are kept, failures leave the
//! layout as it was, bad layouts and tags are refused.

mod common;

use common::live::{as_user_ok, image_tree, listing, listing_diffs, owner_mode, user_tmp};
use common::podman::Podman;
use common::*;
use std::path::{Path, PathBuf};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// An image of a layout, as its files say.
struct Image {
    config: serde_json::Value,
    /// The manifest's layer descriptor.
    layer: serde_json::Value,
    /// The layer blob.
    blob: PathBuf,
}

fn blob(dir: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    dir.join("blobs/sha256").join(hex)
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The image tagged `tag` in the layout `dir`.
fn image(dir: &Path, tag: &str) -> Image {
    let index = json(&dir.join("index.json"));
    let m = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no manifest tagged {tag}: {index}"));
    assert_eq!(
        m["mediaType"], "application/vnd.oci.image.manifest.v1+json",
        "{m}"
    );
    let manifest = json(&blob(dir, m["digest"].as_str().unwrap()));
    let config = json(&blob(dir, manifest["config"]["digest"].as_str().unwrap()));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "one layer: {manifest}");
    let layer = layers[0].clone();
    Image {
        blob: blob(dir, layer["digest"].as_str().unwrap()),
        config,
        layer,
    }
}

/// `program args` run by the test user with podman's private setup.
fn pm_ok(pm: &Podman, program: &str, args: &[&str]) -> String {
    let out = pm.user_cmd(Path::new(program), args);
    assert!(
        out.status.success(),
        "{program} {args:?} as {TEST_USER} failed ({:?}):\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The acceptance: U restores the Debian rootfs with the xattr sink
/// (no namespace), builds an image of it, `skopeo copy` puts it in U's
/// podman storage, and in a container /etc/shadow is root's and shadow's
/// and /usr/bin/su is setuid root. `skopeo inspect` shows the context.
#[test]
fn podman_runs_an_image_an_ordinary_user_built() {
    let t = "podman_runs_an_image_an_ordinary_user_built";
    let Some(u) = test_user(t) else { return };
    if !have("skopeo") {
        return skip(t, "skopeo missing (apt-get install skopeo)");
    }
    let Some(pm) = Podman::new(t, &u) else { return };
    let Some(tree) = pm.rootfs_xattr_tree(t, &u) else {
        return;
    };
    let img = pm.home.join("img");
    let (tree_s, img_s) = (s(&tree), s(&img));
    let env: Vec<(&str, &str)> = vec![("HOME", pm.home.to_str().unwrap())];
    let oci = format!("{img_s}:deb");
    as_user_ok(
        &env,
        &["create", "--oci", &oci, "--from-xattrs", "-C", &tree_s, "."],
    );
    let i = image(&img, "deb");
    assert_eq!(
        i.layer["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let name = "localhost/alientar-oci:deb";
    pm_ok(
        &pm,
        "skopeo",
        &[
            "copy",
            &format!("oci:{oci}"),
            &format!("containers-storage:{name}"),
        ],
    );
    let seen = pm.ok(&[
        "run",
        "--rm",
        name,
        "stat",
        "-c",
        "%U %G %a %n",
        "/etc/shadow",
        "/usr/bin/su",
    ]);
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        ["root shadow 640 /etc/shadow", "root root 4755 /usr/bin/su"]
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&pm_ok(&pm, "skopeo", &["inspect", &format!("oci:{oci}")])).unwrap();
    let labels = &inspect["Labels"];
    assert_eq!(labels["org.alientar.context"], "rootless", "{inspect}");
    assert_eq!(
        labels["org.alientar.context.rootless.uidmap"],
        format!("0:{}:1,1:{}:65536", u.uid, u.sub_uid),
        "{inspect}"
    );
}

/// U builds an image from a tree U owns and an mtree spec, with a gzip
/// layer; umoci 0.4.7 (which reads no zstd and refuses a pax global
/// header) unpacks it rootless, recording the owners in
/// user.rootlesscontainers; `create --from-xattrs` of what umoci wrote
/// archives the image's members back: same types, owners, modes and sizes
/// (the device node, which umoci makes an empty file, aside).
#[test]
fn umoci_unpacks_a_gzip_image_of_a_tree_and_manifest() {
    let t = "umoci_unpacks_a_gzip_image_of_a_tree_and_manifest";
    let Some(u) = test_user(t) else { return };
    if !have("umoci") {
        return skip(t, "umoci missing (apt-get install umoci)");
    }
    let (_tmp, w) = user_tmp(&u);
    let ws = s(&w);
    sh_ok(&format!(
        "cd {ws} && runuser -u {TEST_USER} -- sh -c 'mkdir -p tree/etc tree/usr/bin tree/dev && \
         echo root:*:1: > tree/etc/shadow && echo su > tree/usr/bin/su && chmod 755 tree/usr/bin/su && \
         ln -s ../usr/bin/su tree/etc/su-link'"
    ));
    std::fs::write(
        w.join("spec.mtree"),
        "#mtree\n./etc/shadow uid=0 gid=42 mode=0640\n./usr/bin/su uid=0 gid=0 mode=4755\n\
         ./dev/null type=char uid=0 gid=0 mode=0666 device=native,1,3\n",
    )
    .unwrap();
    let map = format!("0:{}:1", u.uid);
    let oci = format!("{ws}/img:m");
    let spec = format!("{ws}/spec.mtree");
    let tree = format!("{ws}/tree");
    let e: &[(&str, &str)] = &[];
    as_user_ok(
        e,
        &[
            "create",
            "--oci",
            &oci,
            "-z",
            "--no-userns",
            "--context",
            "image",
            "--map",
            &map,
            "--from-manifest",
            &spec,
            "-C",
            &tree,
            ".",
        ],
    );
    let i = image(&w.join("img"), "m");
    assert_eq!(
        i.layer["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let diff_id = sh_ok(&format!("gzip -dc {} | sha256sum", s(&i.blob)));
    assert_eq!(
        format!("sha256:{}", &diff_id[..64]),
        i.config["rootfs"]["diff_ids"][0]
    );
    let bundle = format!("{ws}/bundle");
    let out = std::process::Command::new("runuser")
        .args(["-u", TEST_USER, "--", "umoci", "unpack", "--rootless"])
        .args(["--image", &oci, &bundle])
        .current_dir(&w)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci unpack --rootless: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = format!("{ws}/back.tar");
    let rootfs = format!("{bundle}/rootfs");
    as_user_ok(
        e,
        &["create", "-f", &back, "--from-xattrs", "-C", &rootfs, "."],
    );
    let (mut want, got) = (listing(&s(&i.blob)), listing(&back));
    assert_eq!(want["dev/null"]["type"], "char");
    assert_eq!(got["dev/null"]["type"], "file", "umoci's stand-in");
    want.remove("dev/null");
    assert_eq!(
        (
            &want["etc/shadow"]["uid"],
            &want["etc/shadow"]["gid"],
            &want["usr/bin/su"]["mode"]
        ),
        (&0.into(), &42.into(), &"4755".into())
    );
    let keys = ["type", "uid", "gid", "mode", "size", "link"];
    let diffs = listing_diffs(&want, &got, &keys);
    assert!(
        diffs.is_empty(),
        "umoci's unpack differs:\n{}",
        diffs.join("\n")
    );
}

/// U restores an archive with the userns sink (real foreign owners), then
/// builds an image of the tree with `--context rootless`, walking inside a
/// user namespace: the layer holds the archive's owners, modes and xattrs,
/// and the layout (written from inside the namespace) is U's.
#[test]
fn image_of_a_userns_tree_holds_the_archives_owners() {
    let t = "image_of_a_userns_tree_holds_the_archives_owners";
    let Some(u) = test_user(t) else { return };
    let (tmp, mine) = user_tmp(&u);
    let src = image_tree(tmp.path());
    let a = s(&tmp.path().join("a.tar"));
    ok([
        "create",
        "-f",
        &a,
        "--context",
        "rootless",
        "--map",
        "host",
        "-C",
        &s(&src),
        ".",
    ]);
    chmod(&tmp.path().join("a.tar"), 0o644);
    std::fs::create_dir(mine.join("tree")).unwrap();
    lchown(&mine.join("tree"), u.uid, u.gid);
    let tree = s(&mine.join("tree"));
    let e: &[(&str, &str)] = &[];
    as_user_ok(e, &["extract", "--owners", "userns", "-f", &a, "-C", &tree]);
    let oci = format!("{}:t", s(&mine.join("img")));
    let err = as_user_ok(
        e,
        &[
            "create",
            "--oci",
            &oci,
            "--context",
            "rootless",
            "-C",
            &tree,
            ".",
        ],
    );
    assert!(!err.contains("warning"), "{err}");
    let i = image(&mine.join("img"), "t");
    let (want, got) = (listing(&a), listing(&s(&i.blob)));
    let keys = ["type", "uid", "gid", "mode", "size", "link", "xattrs"];
    let diffs = listing_diffs(&want, &got, &keys);
    assert!(diffs.is_empty(), "the layer differs:\n{}", diffs.join("\n"));
    assert_eq!(got["etc/shadow"]["gid"], 42);
    assert_eq!(
        i.config["config"]["Labels"]["org.alientar.context"],
        "rootless"
    );
    for p in [mine.join("img/index.json"), i.blob.clone()] {
        assert_eq!(owner_mode(&p).0, u.uid, "{}", p.display());
    }
}

/// The layer is a plain pax stream (no global header, no label record) in
/// zstd frames any zstd reads; its blob and diff_id digests are right; the
/// config names this machine's platform, the context and its maps, and a
/// created time taken from the members (SOURCE_DATE_EPOCH), not the clock.
#[test]
fn the_layer_is_plain_pax_and_the_config_carries_the_context() {
    let tmp = tempfile::tempdir().unwrap();
    let src = image_tree(tmp.path());
    let dir = tmp.path().join("layout");
    let out = std::process::Command::new(bin())
        .args(["create", "--oci", &format!("{}:x", s(&dir))])
        .args([
            "--context",
            "rootless",
            "--map",
            "host",
            "-C",
            &s(&src),
            ".",
        ])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let i = image(&dir, "x");
    let sha = |cmd: &str| sh_ok(cmd).split_whitespace().next().unwrap().to_string();
    let b = s(&i.blob);
    assert_eq!(
        format!("sha256:{}", sha(&format!("sha256sum {b}"))),
        i.layer["digest"]
    );
    assert_eq!(i.layer["size"], std::fs::metadata(&i.blob).unwrap().len());
    assert_eq!(
        format!("sha256:{}", sha(&format!("zstd -dc {b} | sha256sum"))),
        i.config["rootfs"]["diff_ids"][0]
    );
    let tar = sh(&format!("zstd -dc {b}")).stdout;
    let mut at = 0;
    let mut flags = Vec::new();
    while at + 512 <= tar.len() && tar[at..at + 512].iter().any(|&c| c != 0) {
        let h = &tar[at..at + 512];
        flags.push(h[156]);
        let size = u64::from_str_radix(
            std::str::from_utf8(&h[124..136])
                .unwrap()
                .trim_matches(['\0', ' ']),
            8,
        )
        .unwrap_or(0);
        let data = if b"0x".contains(&h[156]) { size } else { 0 };
        at += 512 + data.div_ceil(512) as usize * 512;
    }
    assert!(flags.len() > 10 && !flags.contains(&b'g'), "{flags:?}");
    assert!(
        !tar.windows(16).any(|w| w == b"alientar.context"),
        "no label record in the layer"
    );
    let c = &i.config;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    assert_eq!(
        (c["architecture"].as_str(), c["os"].as_str()),
        (Some(arch), Some("linux"))
    );
    assert_eq!(c["created"], "2023-11-14T22:13:20Z");
    assert_eq!(c["history"][0]["created"], "2023-11-14T22:13:20Z");
    let labels = &c["config"]["Labels"];
    assert_eq!(labels["org.alientar.version"], "1");
    assert_eq!(labels["org.alientar.context"], "rootless");
    // (The identity: what --map host says.)
    assert_eq!(
        labels["org.alientar.context.rootless.uidmap"],
        "0:0:4294967295"
    );
    assert_eq!(
        labels["org.alientar.context.rootless.gidmap"],
        "0:0:4294967295"
    );
    // Owners in the context view; the index is there for alientar.
    let l = listing(&b);
    assert_eq!(
        (&l["etc/shadow"]["uid"], &l["etc/shadow"]["gid"]),
        (&0.into(), &42.into())
    );
    assert_eq!(l["etc/shadow"]["mtime"], "1700000000");
}

/// The same tree makes the same image, byte for byte, written while walked
/// or after (--from-xattrs). A second tag joins the first; the first,
/// written again from another tree, replaces its image where it stood.
#[test]
fn same_tree_same_image_and_other_tags_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let src = image_tree(tmp.path());
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("f"), "other\n").unwrap();
    let mk = |dir: &Path, tag: &str, tree: &Path, extra: &[&str]| {
        let mut args = vec![
            "create".to_string(),
            "--oci".into(),
            format!("{}:{tag}", s(dir)),
            "--mtime".into(),
            "2024-01-01".into(),
            "-C".into(),
            s(tree),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args.push(".".into());
        ok(&args);
    };
    let (d1, d2) = (tmp.path().join("d1"), tmp.path().join("d2"));
    mk(&d1, "a", &src, &[]);
    mk(&d2, "a", &src, &["--from-xattrs"]);
    let files = |d: &Path| {
        sh_ok(&format!(
            "cd {} && find . -type f | sort | xargs sha256sum",
            s(d)
        ))
    };
    assert_eq!(files(&d1), files(&d2));
    let first = json(&d1.join("index.json"))["manifests"][0].clone();
    mk(&d1, "b", &other, &[]);
    std::fs::write(src.join("etc/new"), "new\n").unwrap();
    mk(&d1, "a", &src, &[]);
    let index = json(&d1.join("index.json"));
    let tags: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(tags, ["a", "b"]);
    assert_ne!(index["manifests"][0]["digest"], first["digest"]);
    assert!(listing(&s(&image(&d1, "a").blob)).contains_key("etc/new"));
    assert!(listing(&s(&image(&d1, "b").blob)).contains_key("f"));
    assert_eq!(json(&d1.join("oci-layout"))["imageLayoutVersion"], "1.0.0");
}

/// An unmapped owner stops the run: the layout is left as it was (the
/// same index, no new blob, no temporary).
#[test]
fn a_failed_image_leaves_the_layout_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let src = image_tree(tmp.path());
    let dir = tmp.path().join("layout");
    ok([
        "create",
        "--oci",
        &format!("{}:a", s(&dir)),
        "-C",
        &s(&src),
        ".",
    ]);
    let state = || {
        sh_ok(&format!(
            "cd {} && find . -printf '%y %p\\n' | sort && find . -type f | sort | xargs sha256sum",
            s(&dir)
        ))
    };
    let before = state();
    let out = run([
        "create",
        "--oci",
        &format!("{}:b", s(&dir)),
        "--map",
        "0:0:5",
        "-C",
        &s(&src),
        ".",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("etc/shadow") || err.contains("42"), "{err}");
    assert_eq!(before, state());
}

/// A directory that is neither empty nor an image layout, a tag that is
/// not one, a compression a layer cannot have, -f with --oci: refused,
/// nothing written.
#[test]
fn bad_layouts_tags_and_options_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "f\n").unwrap();
    let junk = tmp.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("notes"), "mine\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--oci".into(), format!("{}:t", s(&junk))],
            "not an OCI image layout",
        ),
        (
            vec![
                "--oci".into(),
                format!("{}:bad..tag", s(&tmp.path().join("n1"))),
            ],
            "not a tag",
        ),
        (
            vec!["--oci".into(), format!("{}:-x", s(&tmp.path().join("n2")))],
            "not a tag",
        ),
        (
            vec![
                "--oci".into(),
                format!("{}:t", s(&tmp.path().join("n3"))),
                "-J".into(),
            ],
            "zstd",
        ),
        (
            vec![
                "--oci".into(),
                format!("{}:t", s(&tmp.path().join("n4"))),
                "-f".into(),
                "x.tar".into(),
            ],
            "cannot be used with",
        ),
    ];
    for (opts, want) in cases {
        let mut args = vec!["create".to_string()];
        args.extend(opts.iter().cloned());
        args.extend(["-C".into(), s(&src), ".".into()]);
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(sh_ok(&format!("ls -A {}", s(&junk))).trim(), "notes");
    for n in ["n1", "n2", "n3", "n4"] {
        assert!(!tmp.path().join(n).exists(), "{n} made");
    }
}

/// An image has one context: members labelled otherwise on disk (here an
/// unlabelled subtree inside a tree labelled `host`) are stored, with a
/// warning that names them; the config names the tree's context.
#[test]
fn members_of_another_context_are_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/f"), "f\n").unwrap();
    xattr::set(&src, "user.alientar.context", b"host").unwrap();
    xattr::set(src.join("sub"), "user.alientar.context", b"").unwrap();
    let dir = tmp.path().join("layout");
    let out = run([
        "create",
        "--oci",
        &format!("{}:t", s(&dir)),
        "-C",
        &s(&src),
        ".",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("2 members belong to no context") && err.contains("context 'host'"),
        "{err}"
    );
    let i = image(&dir, "t");
    assert_eq!(i.config["config"]["Labels"]["org.alientar.context"], "host");
    let quiet = run([
        "create",
        "--oci",
        &format!("{}:u", s(&dir)),
        "--context",
        "host",
        "-C",
        &s(&src),
        ".",
    ]);
    assert!(
        quiet.status.success() && quiet.stderr.is_empty(),
        "{quiet:?}"
    );
}
