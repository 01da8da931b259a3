//! Disk images from an ordinary user's build: docs/guide.md's section (g)
//! run as written by the test user ("U"), on a Debian tree that
//! `mmdebstrap --mode=unshare` makes (essential, with passwd's
//! root:shadow etc/shadow and iputils-ping's file capability), and checked
//! member by member:
//! - the archive `alientar create --map subuid` makes of the tree (plus a
//!   spec of /dev) equals `mmdebstrap --format=tar` of the same suite and
//!   packages: types, modes, owners, devices, link targets, xattrs;
//! - `sqfstar` and `tar2sqfs` images list (`unsquashfs -lln`) the
//!   archive's owners, modes, device nodes and setuid bits, the image root
//!   included, and hold its xattrs (`sqfs2tar`);
//! - an ext4 image `mke2fs -d` makes inside `alientar unshare` from a tree
//!   restored with `--owners userns` shows the same in `debugfs stat`,
//!   file capability included, and no other xattr.
//!
//! And what the guide says each consumer needs: sqfstar's complaints about
//! alientar's global header, gone with `--format pax`, and its image root
//! without `-root-*`. The tests need the mirror http://deb.debian.org (as
//! .ci/run's fixture does), mmdebstrap, squashfs-tools,
//! squashfs-tools-ng, e2fsprogs, jq and attr.

mod common;

use common::guide::*;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use alientar::Kind;
use alientar::internals::tar::Reader;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// The test user, when every tool the recipes use is installed.
fn prerequisites(test: &str) -> Option<User> {
    let u = test_user(test)?;
    for tool in [
        "mmdebstrap",
        "sqfstar",
        "unsquashfs",
        "tar2sqfs",
        "sqfs2tar",
        "mke2fs",
        "debugfs",
        "jq",
        "setfattr",
    ] {
        if !have(tool) {
            skip(
                test,
                &format!(
                    "{tool} missing (apt-get install mmdebstrap squashfs-tools squashfs-tools-ng e2fsprogs jq attr)"
                ),
            );
            return None;
        }
    }
    Some(u)
}

/// A scratch home for U under /var/tmp (the Debian trees are large).
fn home_for(u: &User) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::Builder::new()
        .prefix("alientar-images-")
        .tempdir_in("/var/tmp")
        .unwrap();
    chmod(t.path(), 0o755);
    let home = t.path().join("home");
    std::fs::create_dir(&home).unwrap();
    lchown(&home, u.uid, u.gid);
    (t, home)
}

/// An archive member as a file system keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    /// `ls`'s type letter: `-`, `d`, `l`, `c`, `b`, `p`.
    kind: char,
    /// Permission bits with setuid, setgid and sticky (symlinks: 0, as
    /// file systems do not keep theirs).
    mode: u32,
    uid: u64,
    gid: u64,
    /// (major, minor) of a device.
    dev: Option<(u32, u32)>,
    /// A symlink's target.
    target: Option<String>,
}

/// Members and their xattrs, by name without `./` (the root is "").
struct Members {
    nodes: BTreeMap<String, Node>,
    /// A hard link's name → its target's.
    links: BTreeMap<String, String>,
    xattrs: BTreeMap<String, Vec<(String, Vec<u8>)>>,
}

fn key(p: &[u8]) -> String {
    let mut p = String::from_utf8_lossy(p).into_owned();
    while let Some(r) = p.strip_prefix("./") {
        p = r.to_string();
    }
    let p = p.trim_end_matches('/');
    if p == "." {
        String::new()
    } else {
        p.to_string()
    }
}

fn kind_char(k: Kind) -> char {
    match k {
        Kind::File | Kind::HardLink => '-',
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Char => 'c',
        Kind::Block => 'b',
        Kind::Fifo => 'p',
    }
}

/// The members of a tar archive (any compression), hard links resolved.
fn members(archive: &Path) -> Members {
    let (_, r) = alientar::internals::input::open(archive).unwrap();
    let mut rd = Reader::new(r);
    let mut m = Members {
        nodes: BTreeMap::new(),
        links: BTreeMap::new(),
        xattrs: BTreeMap::new(),
    };
    while let Some(e) = rd.next_entry().unwrap() {
        let k = key(&e.path);
        if e.kind == Kind::HardLink {
            let target = key(e.link.as_deref().unwrap());
            let node = m.nodes[&target].clone();
            m.xattrs.insert(k.clone(), m.xattrs[&target].clone());
            m.nodes.insert(k.clone(), node);
            m.links.insert(k, target);
            continue;
        }
        let symlink = e.kind == Kind::Symlink;
        m.nodes.insert(
            k.clone(),
            Node {
                kind: kind_char(e.kind),
                mode: if symlink { 0 } else { e.mode },
                uid: e.uid,
                gid: e.gid,
                dev: e.kind.is_device().then_some((e.dev_major, e.dev_minor)),
                target: symlink.then(|| String::from_utf8_lossy(e.link.as_deref().unwrap()).into()),
            },
        );
        let mut x = e.xattrs.clone();
        x.sort();
        m.xattrs.insert(k, x);
    }
    m
}

/// What differs between `want` and `got` (members of `want` only), at most
/// 20 lines.
fn differences<T: PartialEq + std::fmt::Debug>(
    want: &BTreeMap<String, T>,
    got: &BTreeMap<String, T>,
) -> Vec<String> {
    want.iter()
        .filter_map(|(k, w)| match got.get(k) {
            None => Some(format!("{k:?}: missing")),
            Some(g) if g != w => Some(format!("{k:?}: want {w:?}, got {g:?}")),
            _ => None,
        })
        .take(20)
        .collect()
}

/// `ls -l`'s permission letters (`rwsr-xr-x`) as mode bits.
fn mode_bits(perms: &str) -> u32 {
    let c: Vec<char> = perms.chars().collect();
    let mut m = 0;
    for (i, bit) in [0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1]
        .into_iter()
        .enumerate()
    {
        if !matches!(c[i], '-' | 'S' | 'T') {
            m |= bit;
        }
    }
    for (i, special) in [(2, 0o4000), (5, 0o2000), (8, 0o1000)] {
        if matches!(c[i], 's' | 'S' | 't' | 'T') {
            m |= special;
        }
    }
    m
}

/// `unsquashfs -lln IMAGE`, parsed: every file's node by name.
fn unsquashfs_nodes(image: &Path) -> BTreeMap<String, Node> {
    let out = sh_ok(&format!("unsquashfs -lln {}", s(image)));
    let mut nodes = BTreeMap::new();
    for line in out.lines().filter(|l| l.contains("squashfs-root")) {
        let t: Vec<&str> = line.split_whitespace().collect();
        let (perms, owner) = (t[0], t[1]);
        let kind = perms.chars().next().unwrap();
        let (dev, rest) = if kind == 'c' || kind == 'b' {
            let major = t[2].trim_end_matches(',').parse().unwrap();
            (Some((major, t[3].parse().unwrap())), 6)
        } else {
            (None, 5)
        };
        // The name is the rest of the line after the time.
        let at = line.find(t[rest - 1]).unwrap() + t[rest - 1].len();
        let name = line[at..].trim_start();
        let (name, target) = match name.split_once(" -> ") {
            Some((n, t)) => (n, Some(t.to_string())),
            None => (name, None),
        };
        let name = name.strip_prefix("squashfs-root").unwrap();
        let (uid, gid) = owner.split_once('/').unwrap();
        nodes.insert(
            name.trim_start_matches('/').to_string(),
            Node {
                kind,
                mode: if kind == 'l' {
                    0
                } else {
                    mode_bits(&perms[1..])
                },
                uid: uid.parse().unwrap(),
                gid: gid.parse().unwrap(),
                dev,
                target,
            },
        );
    }
    nodes
}

/// `debugfs stat` of every member of `want` in `image`: its node and xattr
/// names, by name.
fn debugfs_nodes(
    image: &Path,
    want: &BTreeMap<String, Node>,
) -> (BTreeMap<String, Node>, BTreeMap<String, Vec<String>>) {
    let script: String = want.keys().map(|k| format!("stat \"/{k}\"\n")).collect();
    let mut c = Command::new("debugfs")
        .args(["-f", "-", &s(image)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        std::io::Write::write_all(&mut stdin, script.as_bytes()).unwrap();
    });
    let out = c.wait_with_output().unwrap();
    writer.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (mut nodes, mut xattrs) = (BTreeMap::new(), BTreeMap::new());
    for block in text.split("debugfs: stat \"/").skip(1) {
        let (name, body) = block.split_once("\"\n").unwrap();
        let (node, names) = parse_stat(body);
        nodes.insert(name.to_string(), node);
        xattrs.insert(name.to_string(), names);
    }
    (nodes, xattrs)
}

/// One `debugfs stat` output: the node and its xattrs' names.
fn parse_stat(body: &str) -> (Node, Vec<String>) {
    let field = |label: &str| -> &str {
        let at = body
            .find(label)
            .unwrap_or_else(|| panic!("no {label} in {body}"));
        body[at + label.len()..].split_whitespace().next().unwrap()
    };
    let kind = match body
        .split("Type: ")
        .nth(1)
        .unwrap()
        .split("   ")
        .next()
        .unwrap()
        .trim()
    {
        "regular" => '-',
        "directory" => 'd',
        "symlink" => 'l',
        "character special" => 'c',
        "block special" => 'b',
        "FIFO" => 'p',
        other => panic!("type {other}"),
    };
    let dev = body.find("Device major/minor number: ").map(|at| {
        let v = body[at + 27..].split_whitespace().next().unwrap();
        let (a, b) = v.split_once(':').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    });
    // debugfs shows the target of a fast symlink (up to 59 bytes) only.
    let target = body
        .lines()
        .find_map(|l| l.split_once("link dest: "))
        .map(|(_, v)| v.trim_matches('"').to_string());
    let mut names: Vec<String> = body
        .split("Extended attributes:\n")
        .nth(1)
        .map(|x| {
            x.lines()
                .take_while(|l| l.starts_with("  "))
                .map(|l| l.trim().split(' ').next().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let node = Node {
        kind,
        mode: if kind == 'l' {
            0
        } else {
            u32::from_str_radix(field("Mode:"), 8).unwrap()
        },
        uid: field("User:").parse().unwrap(),
        gid: field("Group:").parse().unwrap(),
        dev,
        target,
    };
    (node, names)
}

/// The guide's mmdebstrap command with `--format=tar` into `reference.tar`:
/// the same suite, packages and mirror.
fn reference_command() -> String {
    let b = blocks();
    let script = &b["g-mmdebstrap"].1;
    let mut cmd = String::new();
    for l in script.lines() {
        cmd.push_str(l.trim_end_matches('\\'));
        if !l.ends_with('\\') {
            break;
        }
    }
    assert!(cmd.contains("--format=directory bookworm rootfs "), "{cmd}");
    cmd.replace(
        "--format=directory bookworm rootfs ",
        "--format=tar bookworm reference.tar ",
    )
}

/// Section (g), start to end, on a Debian tree: see the file's
/// documentation.
#[test]
fn images_guide_recipes_from_mmdebstrap_to_squashfs_and_ext4() {
    let t = "images_guide_recipes_from_mmdebstrap_to_squashfs_and_ext4";
    let Some(u) = prerequisites(t) else { return };
    let (_tmp, home) = home_for(&u);
    // mmdebstrap's own tarball of the same build, made at the same time.
    let reference = Command::new("runuser")
        .args(["-u", TEST_USER, "--", "env"])
        .arg(format!("HOME={}", home.display()))
        .args(["sh", "-ec", &reference_command()])
        .current_dir(&home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = run_block("g-mmdebstrap", &home, &home);
    let reference = reference.wait_with_output().unwrap();
    assert!(
        reference.status.success(),
        "mmdebstrap --format=tar: {}",
        String::from_utf8_lossy(&reference.stderr)
    );
    for line in ["-rw-r----- 0/42", "./etc/shadow [subuid]", "crw-rw-rw- 0/0"] {
        assert!(out.contains(line), "no '{line}' in:\n{out}");
    }
    let archive = members(&home.join("rootfs.tar.zst"));
    let mmdebstrap = members(&home.join("reference.tar"));
    assert_eq!(
        archive.nodes.keys().collect::<Vec<_>>(),
        mmdebstrap.nodes.keys().collect::<Vec<_>>(),
        "the same members"
    );
    assert_eq!(
        differences(&mmdebstrap.nodes, &archive.nodes),
        Vec::<String>::new()
    );
    assert_eq!(
        differences(&mmdebstrap.xattrs, &archive.xattrs),
        Vec::<String>::new()
    );
    assert_eq!(archive.links, mmdebstrap.links, "hard links");
    let ping = &archive.xattrs["usr/bin/ping"];
    assert_eq!(ping.len(), 1, "{ping:?}");
    // cap_net_raw+ep, in the form without a namespace root (v2).
    assert_eq!(&ping[0].1[..4], &[1, 0, 0, 2], "{ping:?}");
    assert_eq!(archive.nodes["etc/shadow"].gid, 42);

    squashfs_recipe(&home, &archive);
    ext4_recipe(&home, &archive);
}

/// Section (g)'s squashfs block: both images hold the archive.
fn squashfs_recipe(home: &Path, archive: &Members) {
    let out = block_output("g-squashfs", home, home, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Unrecognised keyword"),
        "--format pax leaves sqfstar nothing to complain of:\n{stderr}"
    );
    for line in [
        "drwxr-xr-x 0/0",
        "-rw-r----- 0/42",
        "-rwsr-xr-x 0/0",
        "squashfs-root/dev/null",
    ] {
        assert_eq!(
            stdout.matches(line).count(),
            2,
            "'{line}' once per image:\n{stdout}"
        );
    }
    for image in ["rootfs.sqfs", "rootfs-ng.sqfs"] {
        let image = home.join(image);
        let nodes = unsquashfs_nodes(&image);
        assert_eq!(
            differences(&archive.nodes, &nodes),
            Vec::<String>::new(),
            "{}",
            image.display()
        );
        assert_eq!(nodes.len(), archive.nodes.len(), "{}", image.display());
        // The xattrs: sqfs2tar writes the image back as a tar.
        let back = image.with_extension("back.tar");
        sh_ok(&format!("sqfs2tar -r . {} > {}", s(&image), s(&back)));
        let back = members(&back);
        assert_eq!(
            differences(&archive.xattrs, &back.xattrs),
            Vec::<String>::new(),
            "{}",
            image.display()
        );
    }
}

/// Section (g)'s ext4 block: `debugfs stat` of every member shows the
/// archive's, and no xattr the archive does not have.
fn ext4_recipe(home: &Path, archive: &Members) {
    let out = run_block("g-ext4", home, home);
    for line in [
        "User:     0   Group:    42",
        "security.capability (20) = 01 00 00 02",
    ] {
        assert!(out.contains(line), "no '{line}' in:\n{out}");
    }
    let image = home.join("rootfs.ext4");
    let (mut nodes, xattrs) = debugfs_nodes(&image, &archive.nodes);
    // A slow symlink's target debugfs does not show: the rest of it is
    // compared.
    let mut slow = 0;
    for (k, n) in nodes.iter_mut() {
        if n.kind == 'l' && n.target.is_none() {
            n.target.clone_from(&archive.nodes[k].target);
            slow += 1;
        }
    }
    assert!(slow < 100, "{slow} symlinks without a target");
    assert_eq!(differences(&archive.nodes, &nodes), Vec::<String>::new());
    let want: BTreeMap<String, Vec<String>> = archive
        .xattrs
        .iter()
        .map(|(k, x)| (k.clone(), x.iter().map(|(n, _)| n.clone()).collect()))
        .collect();
    assert_eq!(differences(&want, &xattrs), Vec::<String>::new());
    let fsck = Command::new("e2fsck")
        .args(["-fn", &s(&image)])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "e2fsck: {}",
        String::from_utf8_lossy(&fsck.stdout)
    );
}

/// What the guide says sqfstar (4.5.1) needs, on a small tree U owns:
/// alientar's global header draws one "Unrecognised keyword" line per key,
/// `--format pax` none; the `./` member is skipped with a message, and the
/// root is sqfstar's own: U's (`-root-uid` changes nothing), mode 0777,
/// unless sqfstar runs in `alientar unshare` with `-root-mode`.
#[test]
fn images_sqfstar_needs_pax_and_its_root_options() {
    let t = "images_sqfstar_needs_pax_and_its_root_options";
    let Some(u) = prerequisites(t) else { return };
    let (_tmp, home) = home_for(&u);
    let as_u = |cmd: &str| {
        let out = Command::new("runuser")
            .args(["-u", TEST_USER, "--", "env", "HOME=/tmp"])
            .arg(format!(
                "PATH={}:/usr/bin:/bin:/usr/sbin:/sbin",
                bin().parent().unwrap().display()
            ))
            .args(["sh", "-ec", cmd])
            .current_dir(&home)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    as_u("mkdir -p tree/etc && echo x > tree/etc/shadow && chmod 640 tree/etc/shadow");
    let make = |format: &str, sqfstar: &str, img: &str| {
        as_u(&format!(
            "alientar create -f - {format} --map rootless -C tree . | \
             {sqfstar} -no-progress -comp lz4 {img}"
        ))
    };
    let stderr = make("", "sqfstar -root-uid 0 -root-gid 0", "default.sqfs");
    for key in [
        "ALIENTAR.version",
        "ALIENTAR.context",
        "ALIENTAR.context.rootless.uidmap",
        "ALIENTAR.context.rootless.gidmap",
    ] {
        let line = format!("Unrecognised keyword \"{key}\" in pax header, ignoring");
        assert_eq!(stderr.matches(&line).count(), 1, "{line}:\n{stderr}");
    }
    let root = unsquashfs_nodes(&home.join("default.sqfs"))[""].clone();
    assert_eq!(
        (root.uid, root.gid, root.mode),
        (u64::from(u.uid), u64::from(u.gid), 0o777),
        "sqfstar's own root, whatever -root-uid says"
    );
    let stderr = make(
        "--format pax",
        "alientar unshare -- sqfstar -root-mode 755",
        "pax.sqfs",
    );
    assert!(!stderr.contains("Unrecognised keyword"), "{stderr}");
    assert!(
        stderr.contains("Empty tar filename after skipping leading /, ./, or ../, ignoring"),
        "{stderr}"
    );
    let nodes = unsquashfs_nodes(&home.join("pax.sqfs"));
    assert_eq!(
        (nodes[""].uid, nodes[""].gid, nodes[""].mode),
        (0, 0, 0o755)
    );
    assert_eq!(
        (nodes["etc/shadow"].uid, nodes["etc/shadow"].mode),
        (0, 0o640)
    );
}
