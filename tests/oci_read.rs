//! Reading container images (`-f oci:DIR[:TAG]`, `oci-archive:`,
//! `docker-archive:`): layers applied in order with whiteouts, every blob
//! verified before anything is written, hostile images confined to the
//! destination. The images here are written by the tests themselves (JSON
//! and tar blobs); the real ones (podman, umoci) come last.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use alientar::internals::tar::{encode_entry, end_of_archive, pad};
use alientar::{Entry, Kind};
use common::*;
use serde_json::json;
use sha2::Digest as _;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn sha256(b: &[u8]) -> String {
    let h = sha2::Sha256::digest(b);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// A member of a crafted layer.
struct M {
    e: Entry,
    data: Vec<u8>,
}

fn file(path: &str, data: &str) -> M {
    let mut e = Entry::new(path.as_bytes().to_vec(), Kind::File);
    e.mode = 0o644;
    e.size = data.len() as u64;
    M {
        e,
        data: data.as_bytes().to_vec(),
    }
}

fn dir(path: &str) -> M {
    let mut e = Entry::new(path.as_bytes().to_vec(), Kind::Dir);
    e.mode = 0o755;
    M { e, data: vec![] }
}

fn link(path: &str, kind: Kind, to: &str) -> M {
    let mut e = Entry::new(path.as_bytes().to_vec(), kind);
    e.mode = 0o777;
    e.link = Some(to.as_bytes().to_vec());
    M { e, data: vec![] }
}

fn owned(mut m: M, uid: u64, gid: u64, mode: u32) -> M {
    (m.e.uid, m.e.gid, m.e.mode) = (uid, gid, mode);
    m
}

/// A layer's uncompressed tar stream.
fn tar_of(members: &[M]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        encode_entry(&m.e, &mut out);
        out.extend_from_slice(&m.data);
        pad(&mut out, m.data.len() as u64);
    }
    end_of_archive(&mut out);
    out
}

#[derive(Copy, Clone)]
enum Z {
    Plain,
    Gzip,
    Zstd,
}

fn compress(tar: &[u8], z: Z) -> (Vec<u8>, &'static str) {
    match z {
        Z::Plain => (tar.to_vec(), "application/vnd.oci.image.layer.v1.tar"),
        Z::Gzip => {
            let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            g.write_all(tar).unwrap();
            (
                g.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        Z::Zstd => (
            zstd::encode_all(tar, 3).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
    }
}

/// An OCI layout being written by a test.
struct Layout {
    dir: PathBuf,
    manifests: Vec<serde_json::Value>,
}

impl Layout {
    fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
            manifests: Vec::new(),
        }
    }

    /// Store a blob; its digest.
    fn blob(&self, b: &[u8]) -> String {
        let d = sha256(b);
        std::fs::write(self.blob_path(&d), b).unwrap();
        d
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").unwrap())
    }

    /// An image of these layers; `edit` may change the manifest and config
    /// (as JSON) before they are stored. Returns the manifest's descriptor.
    fn image(
        &self,
        layers: &[(Vec<M>, Z)],
        edit: impl FnOnce(&mut serde_json::Value, &mut serde_json::Value),
    ) -> serde_json::Value {
        let mut diff_ids = Vec::new();
        let mut descs = Vec::new();
        for (members, z) in layers {
            let tar = tar_of(members);
            diff_ids.push(sha256(&tar));
            let (blob, media) = compress(&tar, *z);
            let d = self.blob(&blob);
            descs.push(json!({"mediaType": media, "digest": d, "size": blob.len()}));
        }
        let mut config = json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {}
        });
        let mut manifest = json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {}, "layers": descs});
        edit(&mut manifest, &mut config);
        let c = serde_json::to_vec(&config).unwrap();
        manifest["config"] = json!({"mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": self.blob(&c), "size": c.len()});
        let m = serde_json::to_vec(&manifest).unwrap();
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": self.blob(&m), "size": m.len()})
    }

    /// Tag a manifest descriptor in index.json.
    fn tag(&mut self, mut desc: serde_json::Value, tag: &str) -> &mut Self {
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.manifests.push(desc);
        self.write_index();
        self
    }

    fn write_index(&self) {
        let index = json!({"schemaVersion": 2, "manifests": self.manifests});
        std::fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }

    fn src(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }
}

/// The tree under `root` as sorted `path type mode uid:gid [-> target | = content]` lines.
fn tree(root: &Path) -> Vec<String> {
    snapshot(root)
        .into_iter()
        .filter(|(p, _)| !p.is_empty())
        .map(|(p, m)| {
            let kind = match m.kind {
                0o040000 => "d",
                0o120000 => "l",
                _ => "f",
            };
            let extra = match (&m.target, kind) {
                (Some(t), _) => format!(" -> {}", String::from_utf8_lossy(t)),
                (None, "f") => format!(
                    " ={}",
                    String::from_utf8_lossy(&std::fs::read(root.join(&p)).unwrap())
                ),
                _ => String::new(),
            };
            format!("{p} {kind} {:o} {}:{}{extra}", m.mode, m.uid, m.gid)
        })
        .collect()
}

/// Three layers (gzip, zstd, plain): deletions, an opaque directory, a
/// directory replaced by a file and a file by a directory, a hard link
/// whose target a later layer replaced.
fn three_layers() -> Vec<(Vec<M>, Z)> {
    vec![
        (
            vec![
                dir("./"),
                dir("etc"),
                owned(file("etc/shadow", "s1"), 0, 42, 0o640),
                file("etc/passwd", "p1"),
                dir("etc/old.d"),
                file("etc/old.d/a", "a"),
                dir("opq"),
                file("opq/lower", "lower"),
                dir("opq/sub"),
                file("opq/sub/deep", "deep"),
                dir("d2f"),
                file("d2f/x", "x"),
                file("f2d", "f"),
                file("orig", "orig-data"),
                link("hl", Kind::HardLink, "orig"),
                link("sym", Kind::Symlink, "etc/passwd"),
            ],
            Z::Gzip,
        ),
        (
            vec![
                dir("etc"),
                file("etc/.wh.passwd", ""),
                file("etc/.wh.old.d", ""),
                dir("opq"),
                file("opq/upper", "upper"),
                file("opq/.wh..wh..opq", ""),
                file("d2f", "now a file"),
                dir("f2d"),
                file("f2d/in", "in"),
            ],
            Z::Zstd,
        ),
        (
            vec![
                link("orig", Kind::Symlink, "/etc/shadow"),
                owned(file("etc/passwd", "p3"), 0, 0, 0o644),
            ],
            Z::Plain,
        ),
    ]
}

/// What extracting [`three_layers`] as root leaves.
const THREE_LAYERS_TREE: &[&str] = &[
    "d2f f 644 0:0 =now a file",
    "etc d 755 0:0",
    "etc/passwd f 644 0:0 =p3",
    "etc/shadow f 640 0:42 =s1",
    "f2d d 755 0:0",
    "f2d/in f 644 0:0 =in",
    "hl f 644 0:0 =orig-data",
    "opq d 755 0:0",
    "opq/upper f 644 0:0 =upper",
    "orig l 777 0:0 -> /etc/shadow",
    "sym l 777 0:0 -> etc/passwd",
];

#[test]
fn layers_apply_in_order_with_whiteouts_and_opaque_directories() {
    let t = "layers_apply_in_order_with_whiteouts_and_opaque_directories";
    if !is_root() {
        skip(t, "needs root to restore owners with chown");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut lay = Layout::new(&tmp.path().join("img"));
    let desc = lay.image(&three_layers(), |_, _| {});
    lay.tag(desc, "v1");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    ok(["extract", "-f", &lay.src("v1"), "-C", &s(&out)]);
    assert_eq!(tree(&out), THREE_LAYERS_TREE);
    // list shows the same final view; --layers each layer with its whiteouts.
    let mut names: Vec<String> = ok(["list", "-f", &lay.src("v1")])
        .lines()
        .map(|l| l.trim_end_matches('/').to_string())
        .filter(|l| l != ".")
        .collect();
    names.sort();
    let want: Vec<&str> = THREE_LAYERS_TREE
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(names, want);
    let layers = ok(["list", "-v", "--layers", "-f", &lay.src("v1")]);
    assert!(layers.contains("# layer 2/3 sha256:"), "{layers}");
    assert!(
        layers.contains("etc/.wh.old.d [whiteout of etc/old.d]"),
        "{layers}"
    );
    assert!(
        layers.contains("opq/.wh..wh..opq [opaque: empties opq]"),
        "{layers}"
    );
    let json = ok(["list", "--json", "--layers", "-f", &lay.src("v1")]);
    assert!(json.contains(r#""whiteout":"etc/passwd""#), "{json}");
    // diff compares the final view with the tree; check counts its owners.
    ok(["diff", "-f", &lay.src("v1"), "-C", &s(&out)]);
    let check = ok(["check", "-f", &lay.src("v1"), "--map", "host"]);
    assert!(
        check.contains("gid         42         1 entries  ok"),
        "{check}"
    );
}

#[test]
fn oci_archive_and_docker_archive_read_like_the_layout() {
    let t = "oci_archive_and_docker_archive_read_like_the_layout";
    if !is_root() {
        skip(t, "needs root to restore owners with chown");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("img");
    let mut lay = Layout::new(&img);
    let desc = lay.image(&three_layers(), |_, _| {});
    lay.tag(desc, "v1");
    // oci-archive: the layout as a tar (as skopeo writes it).
    let oa = tmp.path().join("img.oci.tar");
    sh_ok(&format!("tar -C {} -cf {} .", img.display(), oa.display()));
    // docker-archive: manifest.json, the config, layer tars in both forms.
    let da = tmp.path().join("docker");
    std::fs::create_dir_all(da.join("abc")).unwrap();
    let mut files = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, (members, _)) in three_layers().iter().enumerate() {
        let tar = tar_of(members);
        diff_ids.push(sha256(&tar));
        // Layers named by their diff_id; the first through the
        // `ID/layer.tar -> ../HEX.tar` symlink podman save writes.
        let mut name = format!("{}.tar", &sha256(&tar)[7..]);
        std::fs::write(da.join(&name), &tar).unwrap();
        if i == 0 {
            std::os::unix::fs::symlink(format!("../{name}"), da.join("abc/layer.tar")).unwrap();
            name = "abc/layer.tar".into();
        }
        files.push(name);
    }
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    .to_string();
    let cname = format!("{}.json", &sha256(config.as_bytes())[7..]);
    std::fs::write(da.join(&cname), &config).unwrap();
    let manifest = json!([{"Config": cname, "RepoTags": ["localhost/x:v1"], "Layers": files}]);
    std::fs::write(da.join("manifest.json"), manifest.to_string()).unwrap();
    let dfile = tmp.path().join("docker.tar");
    sh_ok(&format!(
        "tar -C {} -cf {} .",
        da.display(),
        dfile.display()
    ));
    for src in [
        format!("oci-archive:{}:v1", oa.display()),
        format!("oci-archive:{}", oa.display()),
        format!("docker-archive:{}", dfile.display()),
        format!("docker-archive:{}:localhost/x:v1", dfile.display()),
        format!("docker-archive:{}:@0", dfile.display()),
    ] {
        let out = tmp.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir(&out).unwrap();
        ok(["extract", "-f", &src, "-C", &s(&out)]);
        assert_eq!(tree(&out), THREE_LAYERS_TREE, "{src}");
    }
    // A corrupt layer of a docker-archive fails its diff_id.
    let bad = da.join(&files[1]);
    // (In the second end-of-archive block: read, hashed, not parsed.)
    let mut b = std::fs::read(&bad).unwrap();
    let n = b.len();
    b[n - 1] ^= 1;
    std::fs::write(&bad, b).unwrap();
    sh_ok(&format!(
        "tar -C {} -cf {} .",
        da.display(),
        dfile.display()
    ));
    let r = run(["list", "-f", &format!("docker-archive:{}", dfile.display())]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        err.contains("layer 2 of 3") && err.contains("not the diff_id"),
        "{err}"
    );
}

#[test]
fn tags_platforms_and_file_names() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lay = Layout::new(&tmp.path().join("img"));
    let a = lay.image(&[(vec![file("a", "a")], Z::Gzip)], |_, _| {});
    let b = lay.image(&[(vec![file("b", "b")], Z::Gzip)], |_, _| {});
    lay.tag(a, "one").tag(b.clone(), "two");
    let list = |src: &str| run(["list", "-f", src]);
    assert_eq!(ok(["list", "-f", &lay.src("two")]), "b\n");
    let bare = format!("oci:{}", lay.dir.display());
    let err = String::from_utf8_lossy(&list(&bare).stderr).into_owned();
    assert!(
        err.contains("several images") && err.contains("one, two"),
        "{err}"
    );
    let err = String::from_utf8_lossy(&list(&lay.src("three")).stderr).into_owned();
    assert!(
        err.contains("no image tagged 'three'") && err.contains("one, two"),
        "{err}"
    );
    // A multi-platform index: this machine's platform is picked.
    let other = lay.image(&[(vec![file("arm", "x")], Z::Zstd)], |_, _| {});
    let plat = |d: &serde_json::Value, arch: &str| {
        let mut d = d.clone();
        d["platform"] = json!({"os": "linux", "architecture": arch});
        d
    };
    let here = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    let idx = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [plat(&other, "s390x"), plat(&b, here)]})
    .to_string();
    let d = lay.blob(idx.as_bytes());
    let desc = json!({"mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": d, "size": idx.len()});
    lay.tag(desc, "multi");
    assert_eq!(ok(["list", "-f", &lay.src("multi")]), "b\n");
    let idx =
        json!({"schemaVersion": 2, "manifests": [plat(&other, "s390x"), plat(&other, "riscv64")]})
            .to_string();
    let d = lay.blob(idx.as_bytes());
    lay.tag(
        json!({"mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": d, "size": idx.len()}),
        "foreign",
    );
    let err = String::from_utf8_lossy(&list(&lay.src("foreign")).stderr).into_owned();
    assert!(err.contains("linux/s390x, linux/riscv64"), "{err}");
    // A plain archive whose name starts like a transport: ./oci:x.
    let cwd = tmp.path();
    sh_ok(&format!(
        "cd {} && tar -cf ./oci:x img/oci-layout",
        cwd.display()
    ));
    let out = std::process::Command::new(bin())
        .args(["list", "-f", "./oci:x"])
        .current_dir(cwd)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "img/oci-layout\n");
    let out = std::process::Command::new(bin())
        .args(["list", "-f", "oci:x"])
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("image layout"));
}

/// A change a test makes to an image's manifest and config as JSON.
type Edit = dyn Fn(&Layout, &mut serde_json::Value, &mut serde_json::Value);

/// Every way a blob can be wrong is refused before anything is written,
/// naming the blob: a flipped byte, a wrong diff_id, a wrong or absurd
/// size, a digest that is not one, a blob that is a symlink or a FIFO.
#[test]
fn corrupt_blobs_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Box<Edit>)> = vec![
        ("flipped byte", Box::new(|_, _, _| {})),
        (
            "wrong diff_id",
            Box::new(|_, _, c| {
                c["rootfs"]["diff_ids"][1] = json!(sha256(b"something else"));
            }),
        ),
        (
            "absurd size",
            Box::new(|_, m, _| m["layers"][1]["size"] = json!(9_000_000_000_000_000_000u64)),
        ),
        (
            "path in the digest",
            Box::new(|_, m, _| m["layers"][1]["digest"] = json!("sha256:../../../../etc/passwd")),
        ),
        (
            "symlinked blob",
            Box::new(|l, m, _| {
                let d = m["layers"][1]["digest"].as_str().unwrap().to_string();
                let p = l.blob_path(&d);
                let outside = l
                    .dir
                    .parent()
                    .unwrap()
                    .join(format!("outside-{}", &d[7..15]));
                std::fs::rename(&p, &outside).unwrap();
                std::os::unix::fs::symlink(&outside, &p).unwrap();
            }),
        ),
        (
            // (Opening a FIFO would wait for a writer forever.)
            "FIFO as blob",
            Box::new(|l, m, _| {
                let d = m["layers"][1]["digest"].as_str().unwrap().to_string();
                let p = l.blob_path(&d);
                std::fs::remove_file(&p).unwrap();
                sh_ok(&format!("mkfifo {}", p.display()));
            }),
        ),
    ];
    for (i, (what, edit)) in cases.into_iter().enumerate() {
        let mut lay = Layout::new(&tmp.path().join(format!("img{i}")));
        let l2 = {
            let layers = three_layers();
            let tar = tar_of(&layers[1].0);
            sha256(&compress(&tar, Z::Zstd).0)
        };
        let lay_ref = Layout {
            dir: lay.dir.clone(),
            manifests: vec![],
        };
        let desc = lay.image(&three_layers(), |m, c| edit(&lay_ref, m, c));
        lay.tag(desc, "v1");
        if what == "flipped byte" {
            let p = lay.blob_path(&l2);
            let mut b = std::fs::read(&p).unwrap();
            let n = b.len();
            b[n / 2] ^= 0x40;
            std::fs::write(&p, b).unwrap();
        }
        let out = tmp.path().join(format!("out{i}"));
        std::fs::create_dir(&out).unwrap();
        let r = run(["extract", "-f", &lay.src("v1"), "-C", &s(&out)]);
        let err = String::from_utf8_lossy(&r.stderr).into_owned();
        assert!(!r.status.success(), "{what}: {err}");
        let named = err.contains(&l2[..20]) || err.contains("../../");
        assert!(named, "{what}: the error names the blob: {err}");
        assert_eq!(
            std::fs::read_dir(&out).unwrap().count(),
            0,
            "{what}: nothing written"
        );
    }
}

/// The attacks the umoci and containerd advisories describe: nothing is
/// written, changed or removed outside the destination.
#[test]
fn hostile_images_never_write_outside_the_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("keep"), "keep").unwrap();
    std::fs::write(victim.join("target"), "target").unwrap();
    let before = tree(tmp.path());
    let mut lay = Layout::new(&tmp.path().join("img"));
    let layers = vec![
        (
            vec![
                dir("."),
                link("up", Kind::Symlink, "../victim"),
                link("abs", Kind::Symlink, &s(&victim)),
                file("h", "inside"),
                link("hl", Kind::HardLink, "h"),
                dir("d"),
            ],
            Z::Gzip,
        ),
        (
            vec![
                // Through a symlink of a lower layer.
                file("up/pwned", "x"),
                file("abs/pwned", "x"),
                // Whiteouts: through a symlinked directory, of '..', of '.'.
                file("up/.wh.keep", ""),
                file("abs/.wh..wh..opq", ""),
                file("d/.wh..", ""),
                file("d/.wh...", ""),
                file(".wh.", ""),
                file("../.wh.victim", ""),
                // Names that leave.
                file("../escape", "x"),
                file("/../../escape2", "x"),
                // A name a hard link points at turns into a symlink out.
                link("h", Kind::Symlink, "../victim/target"),
                link("hl2", Kind::HardLink, "up/target"),
            ],
            Z::Zstd,
        ),
        (
            vec![
                // The symlink made a directory by this layer: its own
                // entries go into the new directory, never through.
                dir("up"),
                file("up/new", "new"),
                link("hl3", Kind::HardLink, "h"),
            ],
            Z::Plain,
        ),
    ];
    let desc = lay.image(&layers, |_, _| {});
    lay.tag(desc, "evil");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let r = run([
        "extract",
        "-f",
        &lay.src("evil"),
        "-C",
        &s(&out),
        "--owners",
        "none",
    ]);
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    assert!(!r.status.success(), "the refused entries are errors");
    for refused in ["up/pwned", "abs/pwned", "d/.wh..", "../escape", "up/target"] {
        assert!(err.contains(refused), "{refused} refused: {err}");
    }
    let mut after = tree(tmp.path());
    after.retain(|l| !l.starts_with("out") && !l.starts_with("img"));
    let mut want = before.clone();
    want.retain(|l| !l.starts_with("img"));
    assert_eq!(after, want, "nothing outside the destination changed");
    let got: Vec<String> = tree(&out)
        .into_iter()
        .map(|l| {
            let (p, rest) = l.split_once(' ').unwrap();
            format!("{p} {}", rest.split(' ').next().unwrap())
                + &rest
                    .split_once(" -> ")
                    .map(|x| format!(" -> {}", x.1))
                    .unwrap_or_default()
                + &rest
                    .split_once(" =")
                    .map(|x| format!(" ={}", x.1))
                    .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        got,
        [
            format!("abs l -> {}", victim.display()),
            "d d".into(),
            "h l -> ../victim/target".into(),
            "hl f =inside".into(),
            "hl3 l -> ../victim/target".into(),
            "up d".into(),
            "up/new f =new".into(),
        ]
    );
    let hl3 = std::fs::symlink_metadata(out.join("hl3")).unwrap();
    assert!(
        hl3.file_type().is_symlink(),
        "a hard link to the symlink itself"
    );
}

/// The config's org.alientar.context label is the label of the image's
/// entries, as an archive's global header declares it.
#[test]
fn the_config_label_is_the_entries_label() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lay = Layout::new(&tmp.path().join("img"));
    let desc = lay.image(
        &[(vec![dir("etc"), file("etc/f", "f")], Z::Gzip)],
        |_, c| {
            c["config"]["Labels"] = json!({"org.alientar.context": "rootless"});
        },
    );
    lay.tag(desc, "v1");
    let long = ok(["list", "-v", "-f", &lay.src("v1")]);
    assert!(long.lines().all(|l| l.ends_with(" [rootless]")), "{long}");
    let _ = BTreeMap::<u8, u8>::new();
}

/// The tree under `root` as `find -printf` shows it through `cmd` (a
/// directory's size left out: it is the file system's), without what
/// podman mounts into a container or adds to it at run time.
fn find_listing(out: &str) -> Vec<String> {
    let runtime = |p: &str| {
        ["dev", "proc", "sys"]
            .iter()
            .any(|m| p == *m || p.starts_with(&format!("{m}/")))
            || [
                "etc/hostname",
                "etc/hosts",
                "etc/resolv.conf",
                "etc/mtab",
                "run/.containerenv",
            ]
            .contains(&p)
    };
    let mut lines: Vec<String> = out
        .lines()
        .filter(|l| !l.is_empty())
        .filter(|l| !runtime(l.split('|').next().unwrap()))
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            if f[1] == "d" {
                format!("{}|d|{}|{}|{}", f[0], f[2], f[3], f[4])
            } else {
                l.to_string()
            }
        })
        .collect();
    lines.sort();
    lines
}

/// path|type|uid|gid|mode|size|mtime|target, relative to the start.
const FIND_FORMAT: &str = "%P|%y|%U|%G|%m|%s|%Ts|%l\n";

/// An image podman made from the Debian rootfs (`podman import`), saved
/// with `podman save --format oci-dir` and as a docker-archive (which
/// skopeo copies to an oci-archive), unpacks
/// as the test user (`--owners userns`) to the tree podman shows inside a
/// container: owners, modes, types, sizes, times and link targets; a
/// corrupted blob is refused and nothing is written.
#[test]
fn podman_saved_images_unpack_equal_to_the_container() {
    let t = "podman_saved_images_unpack_equal_to_the_container";
    let Some(u) = test_user(t) else { return };
    let Some(pm) = common::podman::Podman::new(t, &u) else {
        return;
    };
    if !have("skopeo") {
        skip(t, "skopeo missing (apt-get install skopeo)");
        return;
    }
    let Some(archive) = pm.rootfs_archive(t) else {
        return;
    };
    pm.import(&archive, "deb");
    let oci = pm.home.join("deb.oci");
    let docker = pm.home.join("deb.docker.tar");
    pm.ok(&["save", "--format", "oci-dir", "-o", &s(&oci), "deb"]);
    pm.ok(&[
        "save",
        "--format",
        "docker-archive",
        "-o",
        &s(&docker),
        "deb",
    ]);
    // skopeo makes an oci-archive of the docker-archive.
    let oci_tar = pm.home.join("deb.oci.tar");
    let out = pm.user_cmd(
        Path::new("skopeo"),
        &[
            "copy",
            &format!("docker-archive:{}", docker.display()),
            &format!("oci-archive:{}:v1", oci_tar.display()),
        ],
    );
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inside = pm.ok(&[
        "run",
        "--rm",
        "deb",
        "find",
        "/",
        "-xdev",
        "-printf",
        FIND_FORMAT,
    ]);
    let inside = find_listing(&inside);
    assert!(
        inside.len() > 8000,
        "{} paths in the container",
        inside.len()
    );
    for (i, src) in [
        format!("oci:{}", oci.display()),
        format!("docker-archive:{}", docker.display()),
        format!("oci-archive:{}:v1", oci_tar.display()),
    ]
    .iter()
    .enumerate()
    {
        let dest = pm.home.join(format!("out{i}"));
        let out = pm.user_cmd(Path::new("mkdir"), &[&s(&dest)]);
        assert!(out.status.success());
        let out = pm.user_cmd(
            &bin(),
            &["extract", "-f", src, "-C", &s(&dest), "--owners", "userns"],
        );
        assert!(
            out.status.success(),
            "{src}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = pm.ok(&["unshare", "find", &s(&dest), "-printf", FIND_FORMAT]);
        let ours = find_listing(&ours);
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter()
                .filter(|l| !b.contains(l))
                .take(10)
                .cloned()
                .collect()
        };
        assert!(
            ours == inside,
            "{src}: only in the container: {:?}\nonly in ours: {:?}",
            only(&inside, &ours),
            only(&ours, &inside)
        );
    }
    // A flipped byte in the layer blob: refused, nothing written.
    let bad = pm.home.join("bad.oci");
    sh_ok(&format!("cp -a {} {}", oci.display(), bad.display()));
    let big = sh_ok(&format!("ls -S {}/blobs/sha256 | head -1", bad.display()));
    let blob = bad.join("blobs/sha256").join(big.trim());
    sh_ok(&format!(
        "printf '\\377' | dd of={} bs=1 seek=1000000 conv=notrunc status=none",
        blob.display()
    ));
    let dest = pm.home.join("out-bad");
    assert!(
        pm.user_cmd(Path::new("mkdir"), &[&s(&dest)])
            .status
            .success()
    );
    let out = pm.user_cmd(
        &bin(),
        &[
            "extract",
            "-f",
            &format!("oci:{}", bad.display()),
            "-C",
            &s(&dest),
            "--owners",
            "userns",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&big.trim()[..12]), "names the blob: {err}");
    assert_eq!(
        std::fs::read_dir(&dest).unwrap().count(),
        0,
        "nothing written"
    );
}

/// A three-layer image built with umoci from the Debian rootfs — the
/// rootfs, then deletions (a directory and a file), then a layer with an
/// opaque directory (added with `umoci raw add-layer`) — unpacks as root
/// equal to `umoci unpack`.
#[test]
fn a_three_layer_umoci_image_unpacks_equal_to_umoci() {
    let t = "a_three_layer_umoci_image_unpacks_equal_to_umoci";
    if !is_root() {
        skip(t, "needs root (umoci unpack without --rootless)");
        return;
    }
    if !have("umoci") {
        skip(t, "umoci missing (apt-get install umoci)");
        return;
    }
    let Some(fx) = std::env::var_os("ALIENTAR_TEST_ROOTFS") else {
        skip(t, "ALIENTAR_TEST_ROOTFS is not set (.ci/run sets it)");
        return;
    };
    let rootfs = Path::new(&fx).join("rootfs");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().display();
    sh_ok(&format!(
        "cd {d} && umoci init --layout L && umoci new --image L:t \
         && umoci unpack --image L:t B >/dev/null \
         && cp -a {}/. B/rootfs/ && umoci repack --refresh-bundle --image L:t B \
         && rm -rf B/rootfs/usr/share/doc B/rootfs/etc/motd && echo new > B/rootfs/etc/new \
         && umoci repack --refresh-bundle --image L:t B \
         && mkdir -p l3/usr/share/man && touch l3/usr/share/man/.wh..wh..opq \
         && echo only > l3/usr/share/man/only \
         && tar --numeric-owner --owner=0 --group=0 -C l3 -cf l3.tar usr \
         && umoci raw add-layer --image L:t l3.tar \
         && umoci unpack --image L:t U >/dev/null",
        rootfs.display()
    ));
    let x = tmp.path().join("X");
    std::fs::create_dir(&x).unwrap();
    ok(["extract", "-f", &format!("oci:{d}/L:t"), "-C", &s(&x)]);
    let layers = ok(["list", "--layers", "-f", &format!("oci:{d}/L:t")]);
    assert!(layers.contains("# layer 3/3"), "three layers");
    assert!(
        layers.contains("usr/share/.wh.doc\n"),
        "a deleted directory"
    );
    let mut want = snapshot(&tmp.path().join("U/rootfs"));
    let mut got = snapshot(&x);
    // (The top directory is umoci's bundle's own, and -C's.)
    want.remove("");
    got.remove("");
    assert!(want.contains_key("usr/share/man/only") && !want.contains_key("usr/share/doc"));
    assert_same(&want, &got);
}
