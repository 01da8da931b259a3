//! Context labels (DESIGN §6, §7; docs/format.md §2): inherited on disk
//! from above the paths archived, declared once per archive (a record only
//! on the entries of another label), read back the same from old archives
//! and by every reader, and guarded on extract against a destination
//! labelled as another context's.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alientar::internals::tar::pax::parse_records;
use alientar::internals::tar::{encode_entry, encode_global, end_of_archive, pad};
use alientar::{Entry, Kind};

const LABEL: &str = "user.alientar.context";
const LABEL_RECORD: &str = "SCHILY.xattr.user.alientar.context";

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A contexts.toml under `root` defining `ctxa`, `ctxb` and `ctxc` with
/// the maps given (uids and gids alike): the `XDG_CONFIG_HOME` to use.
fn contexts(root: &Path, maps: [&str; 3]) -> PathBuf {
    let cfg = root.join("cfg");
    std::fs::create_dir_all(cfg.join("alientar")).unwrap();
    let toml: String = ["ctxa", "ctxb", "ctxc"]
        .iter()
        .zip(maps)
        .map(|(n, m)| format!("[{n}]\nuidmap = \"{m}\"\ngidmap = \"{m}\"\n"))
        .collect();
    std::fs::write(cfg.join("alientar/contexts.toml"), toml).unwrap();
    cfg
}

/// Identity maps: root's trees archive as they are.
const SAME: [&str; 3] = ["0:0:65536", "0:0:65536", "0:0:65536"];

/// Run alientar with the contexts of `cfg`.
fn run_in(cfg: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("XDG_CONFIG_HOME", cfg)
        .output()
        .unwrap()
}

/// [`run_in`], which must succeed: its standard error (warnings).
fn ok_in(cfg: &Path, args: &[&str]) -> String {
    let out = run_in(cfg, args);
    assert!(
        out.status.success(),
        "alientar {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Set the label xattr; false (said loudly) when the file system has no
/// user xattrs.
fn label(p: &Path, l: &str, test: &str) -> bool {
    if xattr::set(p, LABEL, l.as_bytes()).is_err() {
        skip(test, "no user xattrs on this filesystem");
        return false;
    }
    true
}

/// The label xattr of `p` (`Some("")` for an empty one).
fn label_on(p: &Path) -> Option<String> {
    xattr::get(p, LABEL)
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

/// A member name as a key: `./` prefixes and a trailing `/` removed.
fn key(p: &str) -> String {
    let mut p = p.trim_end_matches('/');
    while let Some(r) = p.strip_prefix("./") {
        p = r;
    }
    if p == "." { String::new() } else { p.into() }
}

/// `list --json` of `archive`: each entry's label, by member name.
fn labels_of(cfg: &Path, archive: &str) -> BTreeMap<String, Option<String>> {
    let out = run_in(cfg, &["list", "--json", "-f", archive]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let ctx = v["context"].as_str().map(str::to_owned);
            (key(v["path"].as_str().unwrap()), ctx)
        })
        .collect()
}

/// pax records: (key, value) pairs.
type Records = Vec<(String, Vec<u8>)>;

/// The pax records of a plain tar stream, as written: the global
/// header's, and each member's own (by member name).
struct Raw {
    global: Records,
    members: Vec<(String, Records)>,
}

impl Raw {
    fn read(path: &Path) -> Raw {
        let tar = std::fs::read(path).unwrap();
        let field = |b: &[u8]| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        };
        let mut raw = Raw {
            global: Vec::new(),
            members: Vec::new(),
        };
        let (mut at, mut pending) = (0, Vec::new());
        while at + 512 <= tar.len() && tar[at..at + 512].iter().any(|&b| b != 0) {
            let h = &tar[at..at + 512];
            let size = usize::from_str_radix(field(&h[124..136]).trim(), 8).unwrap();
            let data = &tar[at + 512..at + 512 + size];
            at += 512 + size.next_multiple_of(512);
            match h[156] {
                b'g' => raw.global.extend(parse_records(data).unwrap()),
                b'x' => pending = parse_records(data).unwrap(),
                _ => {
                    let (prefix, name) = (field(&h[345..500]), field(&h[..100]));
                    let full = if prefix.is_empty() {
                        name
                    } else {
                        format!("{prefix}/{name}")
                    };
                    raw.members.push((key(&full), std::mem::take(&mut pending)));
                }
            }
        }
        raw
    }

    /// The values of the global header's `key` records.
    fn global(&self, key: &str) -> Vec<String> {
        self.global
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// Each member's own label record (`None`: it carries none).
    fn records(&self) -> BTreeMap<String, Option<String>> {
        self.members
            .iter()
            .map(|(name, recs)| {
                let r = recs
                    .iter()
                    .find(|(k, _)| k == LABEL_RECORD)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
                (name.clone(), r)
            })
            .collect()
    }
}

/// `name → value` maps in a compact form for assertions.
fn m(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
        .collect()
}

/// Every label in `got` is `want`.
fn all_labelled(got: &BTreeMap<String, Option<String>>, want: Option<&str>) {
    let other: Vec<_> = got.iter().filter(|(_, l)| l.as_deref() != want).collect();
    assert!(
        other.is_empty(),
        "{} entries not labelled {want:?}, as {:?}...",
        other.len(),
        &other[..other.len().min(10)]
    );
}

/// `base/T` labelled `ctxa`: `etc/{a,sub/b}`, `usr` labelled `ctxb` with
/// `c`, `quiet` marked unlabelled (an empty label) with `q`, and an empty
/// directory `mnt`. None when user xattrs are missing.
fn labelled_tree(base: &Path, test: &str) -> Option<PathBuf> {
    let t = base.join("T");
    for d in ["etc/sub", "usr", "quiet", "mnt"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    for (f, c) in [
        ("etc/a", "a"),
        ("etc/sub/b", "b"),
        ("usr/c", "c"),
        ("quiet/q", "q"),
    ] {
        std::fs::write(t.join(f), c).unwrap();
    }
    if !label(&t, "ctxa", test) {
        return None;
    }
    label(&t.join("usr"), "ctxb", test);
    label(&t.join("quiet"), "", test);
    Some(t)
}

/// create finds the label above the paths it archives: the nearest
/// labelled directory, whether the path is `./etc`, the `-C` directory
/// itself or a file; an empty label stops the search; `--context` wins;
/// streaming and collected creates agree; a mount boundary stops it.
#[test]
fn create_inherits_the_label_from_above_the_paths() {
    const T: &str = "create_inherits_the_label_from_above_the_paths";
    let tmp = tempfile::tempdir().unwrap();
    let cfg = contexts(tmp.path(), SAME);
    let Some(t) = labelled_tree(tmp.path(), T) else {
        return;
    };
    let a = |n: &str| s(&tmp.path().join(n));
    let (top, etc, quiet) = (s(&t), s(&t.join("etc")), s(&t.join("quiet")));
    let cases: [(&str, Vec<&str>, Option<&str>); 6] = [
        ("etc.tar", vec!["-C", &top, "./etc"], Some("ctxa")),
        ("etc-dir.tar", vec!["-C", &etc, "."], Some("ctxa")),
        ("sub.tar", vec!["-C", &top, "etc/sub"], Some("ctxa")),
        ("file.tar", vec!["-C", &top, "usr/c"], Some("ctxb")),
        ("quiet.tar", vec!["-C", &quiet, "."], None),
        (
            "given.tar",
            vec!["-C", &etc, "--context", "ctxc", "."],
            Some("ctxc"),
        ),
    ];
    for (name, args, want) in cases {
        let archive = a(name);
        let mut all = vec!["create", "-f", &archive];
        all.extend(args);
        ok_in(&cfg, &all);
        let got = labels_of(&cfg, &archive);
        assert!(!got.is_empty());
        all_labelled(&got, want);
        // The archive's label is declared, and repeated by no entry.
        let raw = Raw::read(Path::new(&archive));
        let declared: Vec<String> = want.map(str::to_owned).into_iter().collect();
        assert_eq!(raw.global("ALIENTAR.context"), declared, "{name}");
        all_labelled(&raw.records(), None);
    }
    // Written while walking (to a file) or after it (to stdout, and with
    // --from-xattrs): the same labels.
    let out = sh_ok(&format!(
        "cd {} && XDG_CONFIG_HOME={} {} create -f - --from-xattrs ./etc > {}",
        s(&t),
        s(&cfg),
        bin().display(),
        a("collected.tar")
    ));
    assert!(out.is_empty());
    assert_eq!(
        labels_of(&cfg, &a("collected.tar")),
        labels_of(&cfg, &a("etc.tar"))
    );
    mount_boundary_stops_the_search(&cfg, &t, tmp.path());
}

/// A mount boundary: nothing above a mount point is inherited (archived
/// from inside it, or as a path naming it), while the walk, going down
/// from above it, carries the label into the mount. `t`: the labelled tree
/// with its empty `mnt`; archives go to `dir`.
fn mount_boundary_stops_the_search(cfg: &Path, t: &Path, dir: &Path) {
    const T: &str = "create_inherits_the_label_from_above_the_paths";
    let a = |n: &str| s(&dir.join(n));
    if !is_root() {
        return skip(T, "needs root to mount a tmpfs");
    }
    let mnt = t.join("mnt");
    let script = format!(
        "mount -t tmpfs tmpfs {m} && echo f > {m}/f && export XDG_CONFIG_HOME={cfg} && \
         {b} create -f {above} -C {m} . && {b} create -f {named} -C {t} mnt && \
         {b} create -f {walked} -C {t} .",
        m = s(&mnt),
        cfg = s(cfg),
        b = bin().display(),
        above = a("mnt-above.tar"),
        named = a("mnt-named.tar"),
        walked = a("mnt-walked.tar"),
        t = s(t),
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-ec", &script])
        .output()
        .unwrap();
    if !out.status.success() {
        return skip(
            T,
            &format!(
                "cannot mount a tmpfs in a new mount namespace: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        );
    }
    let above = labels_of(cfg, &a("mnt-above.tar"));
    assert_eq!(above, m(&[("", None), ("f", None)]));
    let named = labels_of(cfg, &a("mnt-named.tar"));
    assert_eq!(named, m(&[("mnt", None), ("mnt/f", None)]));
    let walked = labels_of(cfg, &a("mnt-walked.tar"));
    assert_eq!(
        (&walked["mnt"], &walked["mnt/f"]),
        (&Some("ctxa".into()), &Some("ctxa".into()))
    );
}

/// Run alientar as the test user, in /tmp; it must succeed.
fn as_user_ok(args: &str) -> String {
    let out = sh(&format!(
        "cd /tmp && runuser -u {TEST_USER} -- {} {args}",
        bin().display()
    ));
    assert!(
        out.status.success(),
        "as {TEST_USER}: alientar {args} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The labels of `archive` (no contexts file needed to list).
fn labels(archive: &str) -> BTreeMap<String, Option<String>> {
    labels_of(Path::new("/nonexistent"), archive)
}

/// The Debian rootfs, archived by the test user from rootless podman's
/// layout (`--map rootless`: labelled `rootless`), restored with `--owners
/// xattr` (the label on the top directory only), then archived again as
/// three subtrees with `--from-xattrs`: every entry of each keeps its
/// label, and there are as many as the first archive has there.
#[test]
fn debian_subtrees_restored_with_xattrs_keep_their_label() {
    const T: &str = "debian_subtrees_restored_with_xattrs_keep_their_label";
    let Some(u) = test_user(T) else {
        return;
    };
    let Some(dir) = std::env::var_os("ALIENTAR_TEST_ROOTFS") else {
        return skip(
            T,
            "set ALIENTAR_TEST_ROOTFS to the output of scripts/make-rootfs.sh",
        );
    };
    let shifted = PathBuf::from(dir).join("rootfs-shifted");
    if std::fs::symlink_metadata(&shifted).map(|m| m.uid()).ok() != Some(u.uid) {
        return skip(T, "rootfs-shifted was not made for the test user");
    }
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let work = tmp.path().join("w");
    std::fs::create_dir(&work).unwrap();
    lchown(&work, u.uid, u.gid);
    let w = |n: &str| s(&work.join(n));
    as_user_ok(&format!(
        "create -f {} -C {} --map rootless .",
        w("img.tar.zst"),
        s(&shifted)
    ));
    let x = work.join("x");
    std::fs::create_dir(&x).unwrap();
    lchown(&x, u.uid, u.gid);
    as_user_ok(&format!(
        "extract -f {} -C {} --owners xattr",
        w("img.tar.zst"),
        w("x")
    ));
    let img = labels(&w("img.tar.zst"));
    all_labelled(&img, Some("rootless"));
    assert_eq!(label_on(&x).as_deref(), Some("rootless"));
    assert_eq!(
        label_on(&x.join("etc")),
        None,
        "the label is on the top only"
    );
    let under = |prefix: &str| {
        img.keys()
            .filter(|k| *k == prefix || k.starts_with(&format!("{prefix}/")))
            .count()
    };
    let cases = [
        ("etc.tar.zst", format!("-C {} ./etc", w("x")), under("etc")),
        (
            "etc-dir.tar.zst",
            format!("-C {} .", s(&x.join("etc"))),
            under("etc"),
        ),
        (
            "doc.tar.zst",
            format!("-C {} usr/share/doc", w("x")),
            under("usr/share/doc"),
        ),
    ];
    for (name, args, want) in cases {
        as_user_ok(&format!(
            "create --no-userns -f {} --from-xattrs {args}",
            w(name)
        ));
        let got = labels(&w(name));
        assert_eq!(got.len(), want, "{name}: entries");
        all_labelled(&got, Some("rootless"));
        eprintln!(
            "{name} ({args}): {} entries, all labelled rootless",
            got.len()
        );
    }
}

/// Every path under `root` (itself included) carrying the label xattr.
fn labelled_files(root: &Path) -> Vec<(PathBuf, Option<String>)> {
    walk(root)
        .into_iter()
        .filter(|p| !p.is_symlink())
        .filter_map(|p| label_on(&p).map(|l| (p, Some(l))))
        .collect()
}

/// A single-context archive declares its label once, in the global
/// header, and no entry repeats it: GNU tar and bsdtar list and extract
/// it silently and plant no label on any file (with --xattrs), while
/// alientar's own extraction labels the top directory. The same tree gives
/// the same bytes, written while walking or after.
#[test]
fn a_single_context_archive_declares_its_label_once() {
    const T: &str = "a_single_context_archive_declares_its_label_once";
    let tmp = tempfile::tempdir().unwrap();
    let cfg = contexts(tmp.path(), SAME);
    let t = tmp.path().join("T");
    for i in 0..20 {
        let d = t.join(format!("d{}", i % 4));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("f{i}")), format!("{i}\n")).unwrap();
    }
    xattr::set(t.join("d0/f0"), "user.note", b"kept").ok();
    if !label(&t, "ctxa", T) {
        return;
    }
    let a = |n: &str| s(&tmp.path().join(n));
    ok_in(&cfg, &["create", "-f", &a("a.tar"), "-C", &s(&t), "."]);
    let raw = Raw::read(Path::new(&a("a.tar")));
    assert_eq!(raw.global("ALIENTAR.context"), ["ctxa"]);
    assert_eq!(raw.global("ALIENTAR.context.ctxa.uidmap"), ["0:0:65536"]);
    assert_eq!(raw.members.len(), 25);
    all_labelled(&raw.records(), None);
    all_labelled(&labels_of(&cfg, &a("a.tar")), Some("ctxa"));
    // The same bytes again; and the same archive through standard output.
    ok_in(&cfg, &["create", "-f", &a("b.tar"), "-C", &s(&t), "."]);
    assert_eq!(
        std::fs::read(a("a.tar")).unwrap(),
        std::fs::read(a("b.tar")).unwrap()
    );
    for n in ["c.tar", "d.tar"] {
        sh_ok(&format!(
            "XDG_CONFIG_HOME={} {} create -f - -C {} . > {}",
            s(&cfg),
            bin().display(),
            s(&t),
            a(n)
        ));
    }
    assert_eq!(
        std::fs::read(a("c.tar")).unwrap(),
        std::fs::read(a("d.tar")).unwrap()
    );
    assert_eq!(Raw::read(Path::new(&a("c.tar"))).global, raw.global);
    // GNU tar and bsdtar: silent, and no label planted.
    let peers = [
        ("tar", "tar --xattrs --xattrs-include='*' -xf"),
        ("bsdtar", "bsdtar --xattrs -xpf"),
    ];
    for (tool, extract) in peers {
        if !have(tool) {
            skip(T, &format!("{tool} missing"));
            continue;
        }
        let d = tmp.path().join(tool);
        std::fs::create_dir(&d).unwrap();
        for cmd in [
            format!("{tool} -tvf {}", a("a.tar")),
            format!("{extract} {} -C {}", a("a.tar"), s(&d)),
        ] {
            let out = sh(&cmd);
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(labelled_files(&d), vec![], "{tool} planted labels");
        if is_root() {
            assert_eq!(
                xattr::get(d.join("d0/f0"), "user.note").unwrap().as_deref(),
                Some(&b"kept"[..]),
                "{tool} restores xattrs"
            );
        }
    }
    // alientar: the label on the top directory only (§6).
    let x = tmp.path().join("x");
    std::fs::create_dir(&x).unwrap();
    ok_in(&cfg, &["extract", "-f", &a("a.tar"), "-C", &s(&x)]);
    assert_eq!(labelled_files(&x), vec![(x.clone(), Some("ctxa".into()))]);
}

/// `zstd -dc ARCHIVE | alientar list --json -f -`: the stream's view, not
/// the index's.
fn streamed_listing(cfg: &Path, archive: &str) -> String {
    sh_ok(&format!(
        "zstd -dc {archive} | XDG_CONFIG_HOME={} {} list --json -f -",
        s(cfg),
        bin().display()
    ))
}

/// Entries of other labels carry their own record: a labelled one its
/// label, an unlabelled one an empty record. Every reader agrees — the
/// listing from the entry index and from the stream, extract (which writes
/// the labels where they change, an empty one where an unlabelled file
/// sits in a labelled directory) and create again from what it wrote;
/// remap declares its new label once, or none.
#[test]
fn entries_of_another_label_carry_their_own_record() {
    const T: &str = "entries_of_another_label_carry_their_own_record";
    let tmp = tempfile::tempdir().unwrap();
    let cfg = contexts(tmp.path(), SAME);
    let base = tmp.path().join("base");
    for d in ["T/b", "T/u", "O"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    for f in ["T/f", "T/b/g", "T/u/h", "O/o"] {
        std::fs::write(base.join(f), f).unwrap();
    }
    if !label(&base.join("T"), "ctxa", T) {
        return;
    }
    label(&base.join("T/b"), "ctxb", T);
    label(&base.join("T/u"), "", T);
    let a = |n: &str| s(&tmp.path().join(n));
    let create = |name: &str, dir: &Path| {
        ok_in(&cfg, &["create", "-f", &a(name), "-C", &s(dir), "T", "O"]);
    };
    create("m.tar", &base);
    let want = m(&[
        ("T", Some("ctxa")),
        ("T/b", Some("ctxb")),
        ("T/b/g", Some("ctxb")),
        ("T/f", Some("ctxa")),
        ("T/u", None),
        ("T/u/h", None),
        ("O", None),
        ("O/o", None),
    ]);
    assert_eq!(labels_of(&cfg, &a("m.tar")), want);
    let raw = Raw::read(Path::new(&a("m.tar")));
    assert_eq!(raw.global("ALIENTAR.context"), ["ctxa"]);
    let records = m(&[
        ("T", None),
        ("T/b", Some("ctxb")),
        ("T/b/g", Some("ctxb")),
        ("T/f", None),
        ("T/u", Some("")),
        ("T/u/h", Some("")),
        ("O", Some("")),
        ("O/o", Some("")),
    ]);
    assert_eq!(raw.records(), records);
    // The entry index says what the stream says.
    create("m.tar.zst", &base);
    let indexed = ok_in_stdout(&cfg, &["list", "--json", "-f", &a("m.tar.zst")]);
    assert_eq!(indexed, streamed_listing(&cfg, &a("m.tar.zst")));
    assert_eq!(labels_of(&cfg, &a("m.tar.zst")), want);
    // Extracted, then archived again: the same labels.
    let d = tmp.path().join("d");
    std::fs::create_dir(&d).unwrap();
    ok_in(&cfg, &["extract", "-f", &a("m.tar.zst"), "-C", &s(&d)]);
    let mut on_disk = labelled_files(&d);
    on_disk.sort();
    let want_disk = vec![
        (d.join("T"), Some("ctxa".into())),
        (d.join("T/b"), Some("ctxb".into())),
        (d.join("T/u"), Some(String::new())),
    ];
    assert_eq!(on_disk, want_disk);
    // diff reads the labels on disk the same way (an empty one stops
    // inheritance): no difference.
    ok_in(&cfg, &["diff", "-f", &a("m.tar.zst"), "-C", &s(&d)]);
    create("again.tar", &d);
    assert_eq!(labels_of(&cfg, &a("again.tar")), want);
    assert_eq!(Raw::read(Path::new(&a("again.tar"))).records(), records);
    // remap --context: one declaration, no record; remap without: no label.
    let remap = |out: &str, extra: &[&str]| {
        let (input, output) = (a("m.tar"), a(out));
        let mut args = vec!["remap", "-f", &input, "-o", &output, "--map", "0:0:65536"];
        args.extend_from_slice(extra);
        ok_in(&cfg, &args);
        Raw::read(Path::new(&output))
    };
    let r = remap("r.tar", &["--context", "ctxc"]);
    assert_eq!(r.global("ALIENTAR.context"), ["ctxc"]);
    all_labelled(&r.records(), None);
    all_labelled(&labels_of(&cfg, &a("r.tar")), Some("ctxc"));
    let n = remap("n.tar", &[]);
    assert_eq!(n.global("ALIENTAR.context"), Vec::<String>::new());
    all_labelled(&n.records(), None);
    all_labelled(&labels_of(&cfg, &a("n.tar")), None);
}

/// [`run_in`], which must succeed: its standard output.
fn ok_in_stdout(cfg: &Path, args: &[&str]) -> String {
    let out = run_in(cfg, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An archive as alientar wrote it before the archive's label was
/// declared: the maps in the global header, a label record on every
/// labelled entry.
fn old_style_archive(path: &Path) {
    let mut tar = Vec::new();
    let mut globals = vec![("ALIENTAR.version".to_string(), "1".to_string())];
    for l in ["ctxa", "ctxb"] {
        for ids in ["uidmap", "gidmap"] {
            globals.push((format!("ALIENTAR.context.{l}.{ids}"), "0:0:65536".into()));
        }
    }
    encode_global(&globals, &mut tar);
    let members: [(&str, Kind, &[u8], Option<&str>); 5] = [
        ("t", Kind::Dir, b"", Some("ctxa")),
        ("t/f", Kind::File, b"hello", Some("ctxa")),
        ("t/b", Kind::Dir, b"", Some("ctxb")),
        ("t/b/g", Kind::File, b"g", Some("ctxb")),
        ("t/n", Kind::File, b"n", None),
    ];
    for (name, kind, data, label) in members {
        let mut e = Entry::new(name, kind);
        e.mode = if kind == Kind::Dir { 0o755 } else { 0o644 };
        e.size = data.len() as u64;
        e.label = label.map(str::to_owned);
        encode_entry(&e, &mut tar);
        tar.extend_from_slice(data);
        pad(&mut tar, e.size);
    }
    end_of_archive(&mut tar);
    std::fs::write(path, tar).unwrap();
}

/// Archives with a label on every entry (written before the archive's
/// label was declared) list and extract as before; archived again, the
/// same tree declares its label once.
#[test]
fn old_archives_with_a_label_on_every_entry_read_as_before() {
    const T: &str = "old_archives_with_a_label_on_every_entry_read_as_before";
    let tmp = tempfile::tempdir().unwrap();
    let cfg = contexts(tmp.path(), SAME);
    let a = |n: &str| s(&tmp.path().join(n));
    old_style_archive(Path::new(&a("old.tar")));
    let raw = Raw::read(Path::new(&a("old.tar")));
    assert!(raw.global("ALIENTAR.context").is_empty());
    let want = m(&[
        ("t", Some("ctxa")),
        ("t/f", Some("ctxa")),
        ("t/b", Some("ctxb")),
        ("t/b/g", Some("ctxb")),
        ("t/n", None),
    ]);
    let old_records = m(&[
        ("t", Some("ctxa")),
        ("t/f", Some("ctxa")),
        ("t/b", Some("ctxb")),
        ("t/b/g", Some("ctxb")),
        ("t/n", None),
    ]);
    assert_eq!(raw.records(), old_records);
    assert_eq!(labels_of(&cfg, &a("old.tar")), want);
    let verbose = ok_in_stdout(&cfg, &["list", "-v", "-f", &a("old.tar")]);
    assert!(
        verbose.contains(" t/f [ctxa]\n") && verbose.contains(" t/n\n"),
        "{verbose}"
    );
    let d = tmp.path().join("d");
    std::fs::create_dir(&d).unwrap();
    ok_in(&cfg, &["extract", "-f", &a("old.tar"), "-C", &s(&d)]);
    if label_on(&d.join("t")).is_none() && xattr::set(&d, "user.probe", b"1").is_err() {
        return skip(T, "no user xattrs on this filesystem");
    }
    let mut on_disk = labelled_files(&d);
    on_disk.sort();
    assert_eq!(
        on_disk,
        vec![
            (d.join("t"), Some("ctxa".into())),
            (d.join("t/b"), Some("ctxb".into())),
            (d.join("t/n"), Some(String::new())),
        ]
    );
    ok_in(&cfg, &["create", "-f", &a("new.tar"), "-C", &s(&d), "t"]);
    assert_eq!(labels_of(&cfg, &a("new.tar")), want);
    let new = Raw::read(Path::new(&a("new.tar")));
    assert_eq!(new.global("ALIENTAR.context"), ["ctxa"]);
    let new_records = m(&[
        ("t", None),
        ("t/f", None),
        ("t/b", Some("ctxb")),
        ("t/b/g", Some("ctxb")),
        ("t/n", Some("")),
    ]);
    assert_eq!(new.records(), new_records);
}

/// Extracting entries labelled `ctxa` into a tree labelled `ctxb` (on an
/// ancestor of `-C DIR`) warns once, naming both, and exits 0; the entries
/// keep their label and map. `--context` says which wins, silently: its
/// map gives the owners, its label goes on disk. Unlabelled entries, or a
/// destination of the same label, say nothing.
#[test]
fn extracting_into_a_tree_of_another_label_warns_once() {
    const T: &str = "extracting_into_a_tree_of_another_label_warns_once";
    if !is_root() {
        return skip(T, "needs root to give files foreign owners");
    }
    let tmp = tempfile::tempdir().unwrap();
    let cfg = contexts(tmp.path(), ["0:1000:100", "0:2000:100", "0:3000:100"]);
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..30 {
        std::fs::write(src.join(format!("sub/f{i}")), "x").unwrap();
    }
    for p in walk(&src) {
        lchown(&p, 1000, 1000);
    }
    let a = |n: &str| s(&tmp.path().join(n));
    ok_in(
        &cfg,
        &[
            "create",
            "-f",
            &a("a.tar"),
            "-C",
            &s(&src),
            "--context",
            "ctxa",
            ".",
        ],
    );
    ok_in(
        &cfg,
        &[
            "create",
            "-f",
            &a("plain.tar"),
            "-C",
            &s(&src),
            "--numeric-owner",
            ".",
        ],
    );
    all_labelled(&labels_of(&cfg, &a("plain.tar")), None);
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    if !label(&tree, "ctxb", T) {
        return;
    }
    // (archive, destination, options) → (warned, owner of sub/f1, label of the destination)
    let extract = |archive: &str, dest: &str, opts: &[&str]| {
        let d = tree.join(dest);
        std::fs::create_dir(&d).unwrap();
        let mut args = vec!["extract", "-f", archive, "-C", d.to_str().unwrap()];
        args.extend_from_slice(opts);
        let warnings = ok_in(&cfg, &args);
        let uid = std::fs::metadata(d.join("sub/f1")).unwrap().uid();
        (warnings, uid, label_on(&d))
    };
    let (warned, uid, l) = extract(&a("a.tar"), "plain", &[]);
    assert_eq!(warned.lines().count(), 1, "{warned}");
    assert!(
        warned.contains("entries labelled 'ctxa'")
            && warned.contains("whose context label on disk is 'ctxb'")
            && warned.contains(&format!("inherited from {}", tree.display()))
            && warned.contains("--context ctxa")
            && warned.contains("--context ctxb"),
        "{warned}"
    );
    assert_eq!((uid, l.as_deref()), (1000, Some("ctxa")));
    let (warned, uid, l) = extract(&a("a.tar"), "theirs", &["--context", "ctxa"]);
    assert_eq!(
        (warned.as_str(), uid, l.as_deref()),
        ("", 1000, Some("ctxa"))
    );
    let (warned, uid, l) = extract(&a("a.tar"), "ours", &["--context", "ctxb"]);
    assert_eq!(
        (warned.as_str(), uid, l.as_deref()),
        ("", 2000, Some("ctxb"))
    );
    let (warned, uid, l) = extract(&a("plain.tar"), "unlabelled", &[]);
    assert_eq!((warned.as_str(), uid, l), ("", 1000, None));
    // A destination labelled as the entries are: nothing to say.
    label(&tree, "ctxa", T);
    let (warned, _, _) = extract(&a("a.tar"), "same", &[]);
    assert_eq!(warned, "");
}
