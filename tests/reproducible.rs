//! Reproducible archives: the same tree, made in different ways, gives the
//! same bytes; and the options that normalize members (`--mtime`,
//! `--clamp-mtime`, `SOURCE_DATE_EPOCH`, `--owner`, `--group`, `--squash`,
//! `--mode`, the xattr filters) store what they say.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{bin, have, is_root, noise, skip};

/// `SOURCE_DATE_EPOCH` of the tests: 2023-11-14T22:13:20Z.
const SDE: i64 = 1_700_000_000;

/// Set a path's access and modification times (not following symlinks).
fn set_times(p: &Path, atime: i64, mtime: i64, nsec: i64) {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
    let ts = |s| Timespec {
        tv_sec: s,
        tv_nsec: nsec,
    };
    utimensat(
        CWD,
        p,
        &Timestamps {
            last_access: ts(atime),
            last_modification: ts(mtime),
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap_or_else(|e| panic!("utimensat {}: {e}", p.display()));
}

/// One thing in the test tree.
enum Node {
    Dir,
    File(Vec<u8>, u32),
    /// A name of the hard-link group: the first made is the file, the
    /// others link to it.
    Linked,
    Symlink(&'static str),
    Fifo,
}

/// The test tree, sorted by name: directories, small and large files (the
/// large ones fill several frames), a hard-link group of three names, a
/// symlink, a FIFO, setuid and private modes.
fn nodes() -> Vec<(String, Node)> {
    let mut v = vec![
        ("big".to_string(), Node::Dir),
        ("fifo".to_string(), Node::Fifo),
        ("old".to_string(), Node::Dir),
        ("old/keep".to_string(), Node::File(b"old\n".to_vec(), 0o644)),
        ("sym".to_string(), Node::Symlink("d00/f00")),
        ("zz-link".to_string(), Node::Linked),
    ];
    for i in 0..3u64 {
        v.push((
            format!("big/b{i}"),
            Node::File(noise(i + 1, 1_500_000), 0o644),
        ));
    }
    for d in 0..20u64 {
        v.push((format!("d{d:02}"), Node::Dir));
        for f in 0..15u64 {
            let path = format!("d{d:02}/f{f:02}");
            let node = match path.as_str() {
                "d03/f01" | "d17/f09" => Node::Linked,
                _ => {
                    let mode = [0o644, 0o600, 0o4755][(f % 3) as usize];
                    Node::File(noise(100 + d * 15 + f, 700 + 37 * f as usize), mode)
                }
            };
            v.push((path, node));
        }
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Build the tree under `root`. `reverse`: every file made in the reverse
/// order, so that inode numbers, directory order and which name of the
/// hard-link group came first all differ; xattrs set in the reverse order
/// too. Times: `time` for everything but `old/` (a time before
/// [`SDE`], the same in every build); access times differ from build to
/// build.
fn build(root: &Path, reverse: bool, time: i64) {
    let mut all = nodes();
    if reverse {
        all.reverse();
    }
    std::fs::create_dir_all(root).unwrap();
    // The hard-link group's file, made at its first name in build order.
    let mut group: Option<PathBuf> = None;
    for (name, node) in &all {
        let p = root.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        match node {
            Node::Dir => std::fs::create_dir_all(&p).unwrap(),
            Node::File(data, mode) => {
                std::fs::write(&p, data).unwrap();
                common::chmod(&p, *mode);
            }
            Node::Linked => match &group {
                Some(first) => std::fs::hard_link(first, &p).unwrap(),
                None => {
                    std::fs::write(&p, b"linked three times\n").unwrap();
                    group = Some(p.clone());
                }
            },
            Node::Symlink(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
            Node::Fifo => rustix::fs::mknodat(
                rustix::fs::CWD,
                &p,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o644),
                0,
            )
            .unwrap(),
        }
    }
    let mut xs = vec![("user.b", &b"2"[..]), ("user.a", &b"1\0"[..])];
    if reverse {
        xs.reverse();
    }
    for (n, v) in xs {
        xattr::set(root.join("d00/f00"), n, v).unwrap();
    }
    if is_root() {
        for (name, uid, gid) in [("d05/f00", 1000, 1000), ("old/keep", 0, 42)] {
            common::lchown(&root.join(name), uid, gid);
        }
    }
    // Deepest first, so directories keep their times.
    let mut paths = common::walk(root);
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let atime = time + if reverse { 12_345 } else { 0 };
    for p in paths {
        let old = p.starts_with(root.join("old"));
        set_times(
            &p,
            atime,
            if old { 1_000_000_000 } else { time },
            250_000_000,
        );
    }
}

/// Run alientar in `cwd` with `env` set (`SOURCE_DATE_EPOCH` and the thread
/// settings), on one core when `one_core`.
fn run_env(cwd: &Path, args: &[&str], env: &[(&str, &str)], one_core: bool) -> Output {
    let mut c = if one_core {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(bin());
        c
    } else {
        Command::new(bin())
    };
    c.current_dir(cwd)
        .args(args)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("RAYON_NUM_THREADS")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run alientar")
}

fn must(out: Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Assert `a` and `b` hold the same bytes, saying where they part.
fn assert_same_bytes(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    if x != y {
        let at = x.iter().zip(&y).position(|(p, q)| p != q);
        panic!(
            "{} ({} bytes) and {} ({} bytes) differ, first at byte {at:?}",
            a.display(),
            x.len(),
            b.display(),
            y.len()
        );
    }
}

/// The same tree made twice, differently — at another path, files made in
/// the reverse order (other inodes, directory order and first name of a
/// hard-link group), later (other mtimes and atimes, made equal by
/// `SOURCE_DATE_EPOCH`), on one core and on all, to standard output and to
/// a file, with and without `-C` — gives byte-identical archives: frames,
/// entry index and seek table included. GNU tar and bsdtar list them.
#[test]
fn same_tree_made_differently_gives_the_same_bytes() {
    if !have("taskset") {
        skip("same_tree_made_differently", "taskset (util-linux) missing");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("elsewhere/deeper/b"));
    build(&a, false, SDE + 100_000_000);
    build(&b, true, SDE + 200_000_000);
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let sde = SDE.to_string();
    let env = [("SOURCE_DATE_EPOCH", sde.as_str())];
    let one = [
        ("SOURCE_DATE_EPOCH", sde.as_str()),
        ("RAYON_NUM_THREADS", "1"),
    ];
    let (cwd, o) = (t.path(), out.to_str().unwrap());
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
    for ext in ["tar.zst", "tar"] {
        let first = format!("{o}/a.{ext}");
        must(
            run_env(cwd, &["create", "-f", &first, "-C", sa, "."], &env, false),
            "create a",
        );
        // Another path, no -C, to standard output, on one core.
        let compress = if ext == "tar" {
            "--no-compress"
        } else {
            "--zstd"
        };
        let bytes = must(
            run_env(&b, &["create", "-f", "-", compress, "."], &one, true),
            "create b on one core",
        );
        let second = out.join(format!("b1.{ext}"));
        std::fs::write(&second, bytes).unwrap();
        assert_same_bytes(Path::new(&first), &second);
        // To a file, on every core.
        let third = format!("{o}/b2.{ext}");
        must(
            run_env(cwd, &["create", "-f", &third, "-C", sb, "."], &env, false),
            "create b",
        );
        assert_same_bytes(Path::new(&first), Path::new(&third));
    }
    let zst = out.join("a.tar.zst");
    let bytes = std::fs::read(&zst).unwrap();
    assert_eq!(
        bytes[bytes.len() - 4..],
        0x8F92_EAB1u32.to_le_bytes(),
        "the archive ends with a seek table"
    );
    check_members(&zst);
    if !have("bsdtar") {
        skip("same_tree_made_differently", "bsdtar missing");
        return;
    }
    for lister in ["tar -tvf", "bsdtar -tvf"] {
        let cmd = format!("{lister} {}", zst.display());
        let listed = common::sh_ok(&cmd);
        assert_eq!(
            listed.lines().count(),
            nodes().len() + 1,
            "{cmd}:\n{listed}"
        );
        assert!(listed.contains("2023"), "{cmd}: clamped times:\n{listed}");
    }
}

/// The members of the archive made from [`build`]'s tree with
/// `SOURCE_DATE_EPOCH`: times clamped (those before it kept), the hard-link
/// group stored at its first name in walk order.
fn check_members(archive: &Path) {
    let json = common::ok(["list", "--json", "-f", archive.to_str().unwrap()]);
    let members: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let get = |p: &str| {
        members
            .iter()
            .find(|m| m["path"] == p)
            .unwrap_or_else(|| panic!("{p} not in {json}"))
    };
    assert_eq!(get("./old/keep")["mtime"], "1000000000");
    assert_eq!(get("./big/b0")["mtime"], SDE.to_string());
    assert_eq!(get(".")["mtime"], SDE.to_string());
    assert_eq!(get("./d03/f01")["type"], "file");
    for l in ["./d17/f09", "./zz-link"] {
        assert_eq!(get(l)["type"], "hardlink", "{l}");
        assert_eq!(get(l)["link"], "./d03/f01", "{l}");
    }
}

/// The members of `archive` by path, as `list --json` gives them.
fn members(archive: &Path, cfg: Option<&Path>) -> Vec<serde_json::Value> {
    let mut c = Command::new(bin());
    c.args(["list", "--json", "-f"]).arg(archive);
    match cfg {
        Some(cfg) => c.env("XDG_CONFIG_HOME", cfg),
        None => c.env_remove("XDG_CONFIG_HOME"),
    };
    let out = must(c.output().unwrap(), "list --json");
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The member `path` of `m`.
fn member<'a>(m: &'a [serde_json::Value], path: &str) -> &'a serde_json::Value {
    m.iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("{path} not among {m:?}"))
}

/// Create `archive` from `dir` with `extra` options (and `env`); the
/// members, or the error.
fn create(dir: &Path, archive: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["create", "-f", archive.to_str().unwrap(), "-C"];
    args.push(dir.to_str().unwrap());
    args.push(".");
    args.extend_from_slice(extra);
    run_env(Path::new("/"), &args, env, false)
}

/// Create and list: the members.
fn made(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let archive = dir.with_extension("tar");
    must(
        create(dir, &archive, extra, env),
        &format!("create {extra:?}"),
    );
    members(&archive, None)
}

/// A small tree: `f` (1.5 s after [`SDE`]), `old` (long before it), `d/`.
fn small_tree(root: &Path) -> PathBuf {
    let t = root.join("t");
    std::fs::create_dir_all(t.join("d")).unwrap();
    std::fs::write(t.join("f"), b"f\n").unwrap();
    std::fs::write(t.join("old"), b"old\n").unwrap();
    common::chmod(&t.join("f"), 0o4755);
    set_times(&t.join("f"), 0, SDE + 1, 500_000_000);
    set_times(&t.join("old"), 0, 1_000_000_000, 0);
    set_times(&t.join("d"), 0, SDE + 10, 0);
    set_times(&t, 0, SDE + 10, 0);
    t
}

/// `--mtime` in each form gives every member that time; `--clamp-mtime`
/// only the newer ones; fractions of a second are kept with
/// `--nanoseconds`, else cut as every mtime is.
#[test]
fn mtime_in_every_form() {
    let tmp = tempfile::tempdir().unwrap();
    let t = small_tree(tmp.path());
    let reference = tmp.path().join("ref");
    std::fs::write(&reference, b"").unwrap();
    set_times(&reference, 0, 1_234_567_890, 0);
    let r = reference.to_str().unwrap();
    let utc = [("TZ", "UTC")];
    for (arg, want) in [
        ("@1600000000", "1600000000"),
        ("2020-09-13", "1599955200"),
        ("2020-09-13 12:26", "1599999960"),
        ("2020-09-13 12:26:40", "1600000000"),
        ("2020-09-13T14:26:40+02:00", "1600000000"),
        ("2020-09-13T12:26:40.75Z", "1600000000"),
        (r, "1234567890"),
    ] {
        let m = made(&t, &["--mtime", arg], &utc);
        for p in [".", "./d", "./f", "./old"] {
            assert_eq!(member(&m, p)["mtime"], want, "--mtime {arg}: {p}");
        }
    }
    let m = made(&t, &["--mtime", "@1600000000.75", "--nanoseconds"], &[]);
    assert_eq!(member(&m, "./old")["mtime"], "1600000000.750000000");
    let m = made(&t, &["--mtime", &format!("@{SDE}"), "--clamp-mtime"], &[]);
    assert_eq!(member(&m, "./old")["mtime"], "1000000000");
    assert_eq!(member(&m, "./f")["mtime"], SDE.to_string());
    assert_eq!(member(&m, "./d")["mtime"], SDE.to_string());
    let bad = create(&t, &tmp.path().join("x.tar"), &["--mtime", "soon"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--mtime") && err.contains("soon"), "{err}");
}

/// `SOURCE_DATE_EPOCH` clamps every newer time to it; an explicit `--mtime`
/// wins; `--no-clamp-mtime` keeps the files' times; an empty value is unset;
/// an invalid one is an error that names the variable.
#[test]
fn source_date_epoch_clamps_unless_told_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let t = small_tree(tmp.path());
    let sde = SDE.to_string();
    let env = [("SOURCE_DATE_EPOCH", sde.as_str())];
    let m = made(&t, &[], &env);
    assert_eq!(member(&m, "./f")["mtime"], sde);
    assert_eq!(member(&m, ".")["mtime"], sde);
    assert_eq!(member(&m, "./old")["mtime"], "1000000000");
    let m = made(&t, &["--mtime", "@5"], &env);
    assert_eq!(member(&m, "./old")["mtime"], "5");
    let m = made(&t, &["--mtime", "@5", "--clamp-mtime"], &env);
    assert_eq!(member(&m, "./f")["mtime"], "5");
    let own = (SDE + 1).to_string();
    let m = made(&t, &["--no-clamp-mtime"], &env);
    assert_eq!(member(&m, "./f")["mtime"], own);
    let m = made(&t, &[], &[("SOURCE_DATE_EPOCH", "")]);
    assert_eq!(member(&m, "./f")["mtime"], own);
    for bad in ["yesterday", "-1", "1.5"] {
        let out = create(
            &t,
            &tmp.path().join("x.tar"),
            &[],
            &[("SOURCE_DATE_EPOCH", bad)],
        );
        assert_eq!(out.status.code(), Some(2), "SOURCE_DATE_EPOCH={bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("SOURCE_DATE_EPOCH"), "{err}");
    }
    // --clamp-mtime needs a date from somewhere.
    let out = create(&t, &tmp.path().join("x.tar"), &["--clamp-mtime"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let help = must(
        run_env(Path::new("/"), &["create", "--help"], &[], false),
        "help",
    );
    let help = String::from_utf8_lossy(&help);
    assert!(help.contains("SOURCE_DATE_EPOCH") && help.contains("--no-clamp-mtime"));
    let man = must(
        run_env(Path::new("/"), &["man", "create"], &[], false),
        "man",
    );
    assert!(String::from_utf8_lossy(&man).contains("SOURCE_DATE_EPOCH"));
}

/// An `XDG_CONFIG_HOME` under `root` defining the context `img`, whose
/// names databases say `builder` is 4242 and `staff` is 77, and the context
/// `bare`, with none; both map IDs 0-65535 to themselves.
fn contexts(root: &Path) -> PathBuf {
    let names = root.join("img-root/etc");
    std::fs::create_dir_all(&names).unwrap();
    std::fs::write(names.join("passwd"), "builder:x:4242:77::/:/bin/sh\n").unwrap();
    std::fs::write(names.join("group"), "staff:x:77:\n").unwrap();
    let cfg = root.join("cfg");
    std::fs::create_dir_all(cfg.join("alientar")).unwrap();
    let toml = format!(
        "[img]\nuidmap = \"0:0:65536\"\ngidmap = \"0:0:65536\"\nnames = \"{}\"\n\n\
         [bare]\nuidmap = \"0:0:65536\"\ngidmap = \"0:0:65536\"\n",
        root.join("img-root").display()
    );
    std::fs::write(cfg.join("alientar/contexts.toml"), toml).unwrap();
    cfg
}

/// Create with the contexts of `cfg`; the members, or the error message.
fn made_in(cfg: &Path, dir: &Path, extra: &[&str]) -> Result<Vec<serde_json::Value>, String> {
    let archive = dir.with_extension("tar");
    let mut c = Command::new(bin());
    c.args(["create", "-f"])
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .args(extra)
        .env("XDG_CONFIG_HOME", cfg)
        .env_remove("SOURCE_DATE_EPOCH");
    let out = c.output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(members(&archive, Some(cfg)))
}

/// (uid, gid, uname, gname) of member `p`.
fn owner_of(m: &[serde_json::Value], p: &str) -> (u64, u64, serde_json::Value, serde_json::Value) {
    let e = member(m, p);
    (
        e["uid"].as_u64().unwrap(),
        e["gid"].as_u64().unwrap(),
        e["uname"].clone(),
        e["gname"].clone(),
    )
}

/// `--owner`, `--group` and `--squash` store owners in the context view,
/// after translation (so an owner outside the map is no error), with names
/// from the context's databases, GNU tar's forms and `--numeric-owner`.
#[test]
fn owners_given_are_in_the_context_view() {
    let tmp = tempfile::tempdir().unwrap();
    let t = small_tree(tmp.path());
    let cfg = contexts(tmp.path());
    let null = serde_json::Value::Null;
    let s = |x: &str| serde_json::Value::String(x.into());
    // The files' owner is outside this map: an error, unless replaced.
    let map = ["--map", "0:50000:10"];
    assert!(made_in(&cfg, &t, &map).unwrap_err().contains("not covered"));
    let m = made_in(
        &cfg,
        &t,
        &[&map[..], &["--owner", "0:root", "--group", "0"]].concat(),
    );
    assert_eq!(
        owner_of(&m.unwrap(), "./f"),
        (0, 0, s("root"), null.clone())
    );
    // Names from the context's own databases, both ways.
    let img = ["--context", "img"];
    let m = made_in(
        &cfg,
        &t,
        &[&img[..], &["--owner", "builder", "--group", "77"]].concat(),
    );
    assert_eq!(
        owner_of(&m.unwrap(), "./f"),
        (4242, 77, s("builder"), s("staff"))
    );
    // GNU tar's NAME:ID, the name stored as given; --numeric-owner: none.
    let m = made_in(
        &cfg,
        &t,
        &[&img[..], &["--owner", "pkg:12", "--group", "staff:13"]].concat(),
    );
    assert_eq!(owner_of(&m.unwrap(), "./d"), (12, 13, s("pkg"), s("staff")));
    let numeric = ["--owner", "pkg:12", "--group", "staff", "--numeric-owner"];
    let m = made_in(&cfg, &t, &[&img[..], &numeric[..]].concat());
    assert_eq!(
        owner_of(&m.unwrap(), "./d"),
        (12, 77, null.clone(), null.clone())
    );
    // A name the context's databases lack, or a context without any.
    let e = made_in(&cfg, &t, &[&img[..], &["--owner", "nobody-here"]].concat()).unwrap_err();
    assert!(e.contains("nobody-here") && e.contains("passwd"), "{e}");
    let e = made_in(&cfg, &t, &["--context", "bare", "--group", "staff"]).unwrap_err();
    assert!(e.contains("--group staff") && e.contains("names"), "{e}");
    // --squash: one owner, setuid and setgid dropped unless kept.
    let m = made_in(&cfg, &t, &[&map[..], &["--squash", "7:8"]].concat()).unwrap();
    assert_eq!(owner_of(&m, "./f").0, 7);
    assert_eq!(owner_of(&m, "./old").1, 8);
    assert_eq!(member(&m, "./f")["mode"], "0755");
    let m = made_in(&cfg, &t, &["--squash", "7:8", "--keep-setid"]).unwrap();
    assert_eq!(member(&m, "./f")["mode"], "4755");
    let e = made_in(&cfg, &t, &["--squash", "7"]).unwrap_err();
    assert!(e.contains("--squash"), "{e}");
}

/// `--mode` changes every member's mode as chmod would (X: directories and
/// executables), octal too.
#[test]
fn mode_changes_every_member() {
    let tmp = tempfile::tempdir().unwrap();
    let t = small_tree(tmp.path());
    common::chmod(&t.join("old"), 0o600);
    common::chmod(&t.join("d"), 0o700);
    let m = made(&t, &["--mode", "u-s,go+rX,o-w"], &[]);
    assert_eq!(member(&m, "./f")["mode"], "0755");
    assert_eq!(member(&m, "./old")["mode"], "0644");
    assert_eq!(member(&m, "./d")["mode"], "0755");
    let m = made(&t, &["--mode", "0640"], &[]);
    assert_eq!(member(&m, "./old")["mode"], "0640");
    assert_eq!(member(&m, "./d")["mode"], "0640");
    let bad = create(&t, &tmp.path().join("x.tar"), &["--mode", "u+q"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--mode"));
}

/// The xattr filters: GNU tar's patterns over names (ACLs are xattrs
/// here), `--no-xattrs`; the context label is kept whatever they say, and
/// `--from-xattrs` still reads its records.
#[test]
fn xattr_filters_choose_what_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let t = small_tree(tmp.path());
    let f = t.join("f");
    xattr::set(&f, "user.keep.me", b"1").unwrap();
    xattr::set(&f, "user.drop", b"2").unwrap();
    xattr::set(&t, "user.alientar.context", b"img").unwrap();
    if !have("setfacl") {
        skip(
            "xattr_filters_choose_what_is_stored",
            "setfacl (acl) missing",
        );
        return;
    }
    common::sh_ok(&format!("setfacl -m u:1234:r {}", f.display()));
    let cfg = contexts(tmp.path());
    let names = |m: &[serde_json::Value]| {
        let x = &member(m, "./f")["xattrs"];
        x.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let m = made_in(&cfg, &t, &[]).unwrap();
    assert_eq!(
        names(&m),
        ["system.posix_acl_access", "user.drop", "user.keep.me"]
    );
    let m = made_in(
        &cfg,
        &t,
        &["--xattrs-include", "user.*", "--xattrs-exclude", "*.drop"],
    );
    let m = m.unwrap();
    assert_eq!(names(&m), ["user.keep.me"]);
    assert_eq!(member(&m, "./f")["context"], "img", "the label is kept");
    let m = made_in(&cfg, &t, &["--xattrs-include", "system.posix_acl_*"]).unwrap();
    assert_eq!(names(&m), ["system.posix_acl_access"]);
    let m = made_in(&cfg, &t, &["--no-xattrs"]).unwrap();
    assert!(names(&m).is_empty());
    assert_eq!(member(&m, "./f")["context"], "img", "the label is kept");
    // An override record is read before the filters drop it.
    xattr::set(&f, "user.containers.override_stat", b"3:4:0700:file").unwrap();
    let m = made_in(&cfg, &t, &["--from-xattrs", "--no-xattrs"]).unwrap();
    assert_eq!(owner_of(&m, "./f").0, 3);
    assert_eq!(member(&m, "./f")["mode"], "0700");
    assert!(names(&m).is_empty());
}

/// The shell block of docs/guide.md tagged `<!-- guide-test: NAME WHO -->`.
fn guide_block(name: &str) -> String {
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md");
    let text = std::fs::read_to_string(guide).unwrap();
    let tag = format!("<!-- guide-test: {name} ");
    let start = text.find(&tag).unwrap_or_else(|| panic!("no block {name}"));
    let body = &text[start..];
    let body = &body[body.find("```sh\n").unwrap() + 6..];
    body[..body.find("```\n").unwrap()].to_string()
}

/// docs/guide.md's "Reproducible archives" block, run as the test user as
/// written: the two archives are identical, and GNU tar lists the clamped
/// time and the normalized owners and modes.
#[test]
fn guide_reproducible_block_runs_as_written() {
    let Some(_) = common::test_user("guide_reproducible_block") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    common::chmod(tmp.path(), 0o777);
    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let out = Command::new("runuser")
        .args(["-u", common::TEST_USER, "--", "env"])
        .arg(format!("PATH={path}"))
        .arg(format!("HOME={}", tmp.path().display()))
        .arg("TZ=UTC")
        .args(["sh", "-ec", &guide_block("b-reproducible")])
        .current_dir(tmp.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "block failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("identical\n"), "{stdout}");
    let hi = stdout
        .lines()
        .find(|l| l.ends_with("./usr/bin/hi"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        hi.starts_with("-rwxr-xr-x root/root") && hi.contains("2023-11-14 22:13"),
        "{hi}"
    );
}
