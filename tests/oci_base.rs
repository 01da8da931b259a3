//! `create --oci DIR:TAG --base IMAGE`: an image built on another, checked
//! with the tools that read it. As root: a base is built from a tree, the
//! tree changed (a file added, one changed in content only, one grown, one
//! deleted, a directory deleted, a directory replaced by a file and a file
//! by a directory, a directory emptied, an owner and a mode changed), and
//! the image built on the base holds one more layer with exactly what
//! changed, which alientar's extract and `umoci unpack` both turn into the
//! changed tree; the base's layers are shared or copied, its config
//! extended; an oci-archive base gives the same image, a docker-archive
//! one the same tree. As the test user:
//! an image built on one of the Debian rootfs goes into podman's storage
//! with `skopeo copy`, and `podman run` sees the change. Bad bases are
//! refused before the layout is touched.

mod common;

use common::live::{as_user_ok, listing};
use common::podman::Podman;
use common::*;
use std::path::{Path, PathBuf};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn blob(dir: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    dir.join("blobs/sha256").join(hex)
}

/// The manifest tagged `tag` in the layout `dir`: its digest, the
/// manifest, the config.
fn image(dir: &Path, tag: &str) -> (String, serde_json::Value, serde_json::Value) {
    let index = json(&dir.join("index.json"));
    let m = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no manifest tagged {tag}: {index}"))
        .clone();
    let digest = m["digest"].as_str().unwrap().to_string();
    let manifest = json(&blob(dir, &digest));
    let config = json(&blob(dir, manifest["config"]["digest"].as_str().unwrap()));
    (digest, manifest, config)
}

/// Store `bytes` as a blob of `dir`; its digest.
fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let tmp = dir.join("blobs/sha256/tmp");
    std::fs::write(&tmp, bytes).unwrap();
    let hex = sh_ok(&format!("sha256sum {}", s(&tmp)))[..64].to_string();
    std::fs::rename(&tmp, dir.join("blobs/sha256").join(&hex)).unwrap();
    format!("sha256:{hex}")
}

/// Rewrite the config of the image `tag` in `dir` with `f`, as another
/// tool might have written it: the config, manifest and index follow.
fn rewrite_config(dir: &Path, tag: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let (_, mut manifest, mut config) = image(dir, tag);
    f(&mut config);
    let c = serde_json::to_vec(&config).unwrap();
    manifest["config"]["digest"] = put_blob(dir, &c).into();
    manifest["config"]["size"] = c.len().into();
    let m = serde_json::to_vec(&manifest).unwrap();
    let mut index = json(&dir.join("index.json"));
    for d in index["manifests"].as_array_mut().unwrap() {
        if d["annotations"]["org.opencontainers.image.ref.name"] == tag {
            d["digest"] = put_blob(dir, &m).into();
            d["size"] = m.len().into();
        }
    }
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// `treecmp.py A B`; panics with its report when the trees differ.
fn assert_trees_equal(a: &Path, b: &Path, what: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/treecmp.py");
    let out = sh(&format!("python3 {} {} {}", s(&script), s(a), s(b)));
    assert!(
        out.status.success(),
        "{what}: the trees differ:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every name under `t` (and `t` itself) gets the time `sec`: what
/// differs must then be told by content, size, owner, mode or type.
fn same_times(t: &Path, sec: u64) {
    sh_ok(&format!("find {} -exec touch -h -d @{sec} {{}} +", s(t)));
}

/// The base tree.
fn base_tree(root: &Path) -> PathBuf {
    let t = root.join("tree");
    sh_ok(&format!(
        "mkdir -p {t}/etc {t}/data/sub {t}/dir2file {t}/many {t}/usr/bin {t}/usr/share && cd {t} && \
         printf 'alpha\\n' > etc/conf && printf '1\\n' > etc/grow && echo x > etc/gone && \
         echo o > etc/owned && echo m > etc/moded && chmod 644 etc/moded && ln -s conf etc/link && \
         echo a > data/a && echo b > data/sub/b && echo c > dir2file/c && echo f > file2dir && \
         echo 1 > many/1 && echo 2 > many/2 && echo 3 > many/3 && \
         echo t > usr/bin/tool && ln usr/bin/tool usr/bin/tool2 && echo u > usr/share/unchanged",
        t = s(&t)
    ));
    same_times(&t, 1_700_000_000);
    t
}

/// The changes the tests make to the base tree.
fn change(t: &Path) {
    sh_ok(&format!(
        "cd {} && printf 'omega\\n' > etc/conf && printf '12345\\n' > etc/grow && rm etc/gone && \
         chown 5:6 etc/owned && chmod 600 etc/moded && echo added > etc/added && rm -r data && \
         rm -r dir2file && echo now-a-file > dir2file && rm file2dir && mkdir file2dir && \
         echo d > file2dir/d && rm many/* && echo new > many/new",
        s(t)
    ));
    same_times(t, 1_700_000_000);
}

/// Each layer's names in the image `tag` of the layout `dir` (without
/// `./`; the root is empty), in order.
fn layer_names(dir: &str, tag: &str) -> Vec<Vec<String>> {
    let n = image(Path::new(dir), tag).1["layers"]
        .as_array()
        .unwrap()
        .len();
    let mut out: Vec<Vec<String>> = vec![Vec::new(); n];
    for l in ok([
        "list",
        "--layers",
        "--json",
        "-f",
        &format!("oci:{dir}:{tag}"),
    ])
    .lines()
    {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let n = v["layer"].as_u64().unwrap() as usize;
        let p = v["path"].as_str().unwrap();
        let p = p.trim_start_matches("./").trim_end_matches('/');
        out[n - 1].push(if p == "." {
            String::new()
        } else {
            p.to_string()
        });
    }
    out
}

/// The acceptance: the layer on the base holds exactly what changed,
/// whiteouts after their directory; alientar's extract and umoci's unpack
/// (as root, gzip layers) both give the changed tree; the config and
/// manifest extend the base's, whose fields stay; the base's blobs are
/// shared in its own layout and copied into another; an oci-archive of
/// the base gives the same image.
#[test]
fn an_image_on_a_base_holds_what_changed() {
    let t = "an_image_on_a_base_holds_what_changed";
    if !is_root() {
        return skip(t, "needs root (umoci unpack, chown)");
    }
    if !have("umoci") {
        return skip(t, "umoci missing (apt-get install umoci)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = base_tree(tmp.path());
    let dir = tmp.path().join("layout");
    let (d, tr) = (s(&dir), s(&tree));
    ok(["create", "--oci", &format!("{d}:v1"), "-z", "-C", &tr, "."]);
    rewrite_config(&dir, "v1", |c| {
        c["config"]["Env"] = serde_json::json!(["PATH=/usr/bin"]);
        c["config"]["Cmd"] = serde_json::json!(["/usr/bin/tool"]);
        c["config"]["Labels"]["org.example.kept"] = "yes".into();
    });
    change(&tree);
    ok([
        "create",
        "--oci",
        &format!("{d}:v2"),
        "--base",
        &format!("oci:{d}:v1"),
        "-z",
        "-C",
        &tr,
        ".",
    ]);
    let layers = layer_names(&d, "v2");
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[1],
        [
            "",
            ".wh.data",
            "dir2file",
            "etc",
            "etc/.wh.gone",
            "etc/added",
            "etc/conf",
            "etc/grow",
            "etc/moded",
            "etc/owned",
            "file2dir",
            "file2dir/.wh..wh..opq",
            "file2dir/d",
            "many",
            "many/.wh..wh..opq",
            "many/new",
        ],
        "the new layer: what changed, whiteouts after their directory"
    );
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    ok(["extract", "-f", &format!("oci:{d}:v2"), "-C", &s(&out)]);
    assert_trees_equal(&tree, &out, "alientar extract");
    let bundle = tmp.path().join("bundle");
    sh_ok(&format!(
        "cd {} && umoci unpack --image layout:v2 bundle",
        s(tmp.path())
    ));
    assert_trees_equal(&tree, &bundle.join("rootfs"), "umoci unpack");

    let (base_digest, base_m, base_c) = image(&dir, "v1");
    let (_, m, c) = image(&dir, "v2");
    assert_eq!(m["layers"][0], base_m["layers"][0], "{m}");
    assert_eq!(m["layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        m["annotations"]["org.opencontainers.image.base.digest"],
        base_digest
    );
    assert_eq!(c["rootfs"]["diff_ids"][0], base_c["rootfs"]["diff_ids"][0]);
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(c["history"].as_array().unwrap().len(), 2);
    assert_eq!(c["config"]["Cmd"][0], "/usr/bin/tool");
    assert_eq!(c["config"]["Env"][0], "PATH=/usr/bin");
    assert_eq!(c["config"]["Labels"]["org.example.kept"], "yes");
    assert_eq!(c["config"]["Labels"]["org.alientar.version"], "1");
    let blobs = |d: &Path| std::fs::read_dir(d.join("blobs/sha256")).unwrap().count();
    // v1: layer, config, manifest, the rewritten config and manifest; v2:
    // its layer, config, manifest — the base's layer shared.
    assert_eq!(blobs(&dir), 8);

    // Into another layout the base's layer is copied; from an oci-archive
    // of the base, the same image comes out.
    let other = tmp.path().join("other");
    let from_archive = tmp.path().join("from-archive");
    let archive = tmp.path().join("base.tar");
    sh_ok(&format!("tar -C {d} -cf {} .", s(&archive)));
    for (layout, base) in [
        (&other, format!("oci:{d}:v1")),
        (&from_archive, format!("oci-archive:{}:v1", s(&archive))),
    ] {
        ok([
            "create",
            "--oci",
            &format!("{}:v2", s(layout)),
            "--base",
            &base,
            "-z",
            "-C",
            &tr,
            ".",
        ]);
        assert_eq!(image(layout, "v2").0, image(&dir, "v2").0, "{base}");
        assert_eq!(blobs(layout), 4, "{base}");
    }
    // A docker-archive base (what podman save writes): its layer gets a
    // descriptor for its bytes (an uncompressed tar), the image extracts
    // to the changed tree.
    if !have("skopeo") {
        return skip(t, "skopeo missing (apt-get install skopeo)");
    }
    let docker = tmp.path().join("base-docker.tar");
    sh_ok(&format!(
        "skopeo copy -q oci:{d}:v1 docker-archive:{}:localhost/base:1",
        s(&docker)
    ));
    let from_docker = tmp.path().join("from-docker");
    let fd = s(&from_docker);
    ok([
        "create",
        "--oci",
        &format!("{fd}:v2"),
        "--base",
        &format!("docker-archive:{}", s(&docker)),
        "-z",
        "-C",
        &tr,
        ".",
    ]);
    let (_, m, c) = image(&from_docker, "v2");
    let media: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(
        media,
        [
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip"
        ]
    );
    assert_eq!(c["config"]["Cmd"][0], "/usr/bin/tool");
    let out = tmp.path().join("out-docker");
    std::fs::create_dir(&out).unwrap();
    ok(["extract", "-f", &format!("oci:{fd}:v2"), "-C", &s(&out)]);
    assert_trees_equal(&tree, &out, "alientar extract, docker-archive base");
}

/// A member whose metadata and content are the base's is not stored, nor
/// is a directory none of whose names changed; a tree equal to the base
/// makes an empty layer.
#[test]
fn an_unchanged_tree_adds_an_empty_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = base_tree(tmp.path());
    let (d, tr) = (s(&tmp.path().join("l")), s(&tree));
    ok(["create", "--oci", &format!("{d}:v1"), "-C", &tr, "."]);
    ok([
        "create",
        "--oci",
        &format!("{d}:same"),
        "--base",
        &format!("oci:{d}:v1"),
        "-C",
        &tr,
        ".",
    ]);
    let layers = layer_names(&d, "same");
    assert!(layers.len() == 2 && layers[1].is_empty(), "{layers:?}");
    sh_ok(&format!("cd {tr} && echo more >> usr/share/unchanged"));
    ok([
        "create",
        "--oci",
        &format!("{d}:one"),
        "--base",
        &format!("oci:{d}:v1"),
        "-C",
        &tr,
        ".",
    ]);
    let layers = layer_names(&d, "one");
    assert_eq!(layers[1], ["", "usr", "usr/share", "usr/share/unchanged"]);
}

/// A base that does not exist, a tag it lacks, a base for another
/// platform, a base of another context, a name that is no image: exit
/// status 2, a message that says so, and the layout as it was (a new one
/// not made).
#[test]
fn bad_bases_are_refused_before_the_layout_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = base_tree(tmp.path());
    let (b, tr) = (s(&tmp.path().join("base")), s(&tree));
    ok(["create", "--oci", &format!("{b}:v1"), "-C", &tr, "."]);
    ok([
        "create",
        "--oci",
        &format!("{b}:ctx"),
        "--context",
        "rootless",
        "--map",
        "host",
        "-C",
        &tr,
        ".",
    ]);
    ok(["create", "--oci", &format!("{b}:arm"), "-C", &tr, "."]);
    rewrite_config(&tmp.path().join("base"), "arm", |c| {
        c["architecture"] = if std::env::consts::ARCH == "aarch64" {
            "amd64"
        } else {
            "arm64"
        }
        .into();
    });
    let existing = tmp.path().join("existing");
    ok([
        "create",
        "--oci",
        &format!("{}:x", s(&existing)),
        "-C",
        &tr,
        ".",
    ]);
    let state = || {
        sh_ok(&format!(
            "cd {} && find . -printf '%y %p\\n' | sort && find . -type f | sort | xargs sha256sum",
            s(&existing)
        ))
    };
    let before = state();
    let cases = [
        (
            format!("oci:{}:v1", s(&tmp.path().join("nothing"))),
            "cannot open",
        ),
        (format!("oci:{b}:v9"), "no image tagged 'v9'"),
        (format!("oci:{b}:arm"), "the image is for linux/"),
        (format!("oci:{b}:ctx"), "context 'rootless'"),
        (format!("{b}:v1"), "name an image"),
    ];
    for (i, (base, want)) in cases.into_iter().enumerate() {
        for dir in [existing.clone(), tmp.path().join(format!("new{i}"))] {
            let out = run([
                "create",
                "--oci",
                &format!("{}:y", s(&dir)),
                "--base",
                &base,
                "-C",
                &tr,
                ".",
            ]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{base}: {err}");
            assert!(err.contains(want), "{base}: {err}");
            if dir == existing {
                assert_eq!(state(), before, "{base}");
            } else if want != "context 'rootless'" {
                assert!(!dir.exists(), "{base}: {} made", dir.display());
            }
        }
    }
}

/// As the test user: the Debian rootfs restored with the xattr sink
/// becomes a base image; one file's owner and mode change (its override
/// xattr; not /etc/hostname, which podman mounts over), another file is deleted; the image built on the base goes into
/// U's podman storage with `skopeo copy`, and in a container the changed
/// file is root's and shadow's with the new mode, the deleted one gone.
/// The new layer holds just those and their directory.
#[test]
fn podman_runs_an_image_built_on_a_base() {
    let t = "podman_runs_an_image_built_on_a_base";
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
    let create = |tag: &str, extra: &[&str]| {
        let oci = format!("{img_s}:{tag}");
        let mut args = vec!["create", "--oci", &oci, "--from-xattrs"];
        args.extend(extra);
        args.extend(["-C", &tree_s, "."]);
        as_user_ok(&env, &args);
    };
    create("base", &[]);
    sh_ok(&format!(
        "cd {tree_s} && runuser -u {TEST_USER} -- sh -c 'rm etc/issue && \
         setfattr -n user.containers.override_stat -v 0:42:0604:file etc/debian_version'"
    ));
    let base = format!("oci:{img_s}:base");
    create("next", &["--base", &base]);
    let layers = layer_names(&img_s, "next");
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[1],
        ["", "etc", "etc/.wh.issue", "etc/debian_version"]
    );
    let name = "localhost/alientar-base:next";
    let out = pm.user_cmd(
        Path::new("skopeo"),
        &[
            "copy",
            &format!("oci:{img_s}:next"),
            &format!("containers-storage:{name}"),
        ],
    );
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = pm.ok(&[
        "run",
        "--rm",
        name,
        "sh",
        "-c",
        "stat -c '%U %G %a %n' /etc/debian_version /etc/shadow; test -e /etc/issue || echo gone",
    ]);
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        [
            "root shadow 604 /etc/debian_version",
            "root shadow 640 /etc/shadow",
            "gone"
        ]
    );
    let whole = listing(&format!("oci:{img_s}:next"));
    assert!(!whole.contains_key("etc/issue"));
    assert_eq!(whole["etc/debian_version"]["gid"], 42);
}
