//! Property tests (proptest), with small case counts so they run in
//! seconds:
//! * random trees → `create` → `extract` → the same tree;
//! * random ID maps: inverse ∘ map is the identity on the covered range,
//!   nothing outside it maps, the SPEC form prints and parses back;
//! * random entries → `encode_entry` → `Reader` → the same entry and data.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;

use alientar::internals::tar::Reader;
use alientar::internals::tar::{encode_entry, end_of_archive, pad};
use alientar::{Entry, Kind, Time};
use alientar::{Extent, IdMap, UidKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A name component: 1 to 12 characters, some of them awkward (spaces,
/// non-ASCII, `#`, `=`, `\`), never `.` or `..`.
fn component() -> impl Strategy<Value = String> {
    let chars: Vec<char> = "abcxyz019_-. #=\\éü".chars().collect();
    prop::collection::vec(prop::sample::select(chars), 1..12)
        .prop_map(|v| v.into_iter().collect::<String>())
        .prop_filter("not . or ..", |c| c != "." && c != "..")
}

// ---------------------------------------------------------------------------
// Trees

/// One node to add to a random tree.
#[derive(Clone, Debug)]
enum Node {
    Dir(u32),
    File(Vec<u8>, u32),
    Symlink(String),
    /// A hard link to the n-th file made so far (if any).
    HardLink(usize),
    Fifo,
}

fn node() -> impl Strategy<Value = Node> {
    let file_mode = prop::sample::select(vec![0o644u32, 0o600, 0o755, 0o400, 0o4755, 0o2711]);
    let dir_mode = prop::sample::select(vec![0o755u32, 0o700, 0o1777, 0o750]);
    prop_oneof![
        3 => dir_mode.prop_map(Node::Dir),
        5 => (prop::collection::vec(any::<u8>(), 0..3000), file_mode)
            .prop_map(|(d, m)| Node::File(d, m)),
        1 => component().prop_map(Node::Symlink),
        1 => (0usize..8).prop_map(Node::HardLink),
        1 => Just(Node::Fifo),
    ]
}

/// (parent pick, name, node, mtime seconds, nanoseconds, xattr value).
type Spec = (usize, String, Node, i64, u32, Option<Vec<u8>>);

fn build_tree(root: &Path, specs: &[Spec]) {
    std::fs::create_dir(root).unwrap();
    let mut dirs: Vec<std::path::PathBuf> = vec![root.to_path_buf()];
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut made: Vec<(std::path::PathBuf, i64, u32)> = Vec::new();
    let mut dir_modes = Vec::new();
    for (parent, name, node, sec, nsec, xattr) in specs {
        let p = dirs[parent % dirs.len()].join(name);
        if std::fs::symlink_metadata(&p).is_ok() {
            continue;
        }
        match node {
            Node::Dir(m) => {
                std::fs::create_dir(&p).unwrap();
                dirs.push(p.clone());
                dir_modes.push((p.clone(), *m));
            }
            Node::File(data, m) => {
                std::fs::write(&p, data).unwrap();
                chmod(&p, *m);
                files.push(p.clone());
            }
            Node::Symlink(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
            Node::HardLink(i) => match files.get(*i) {
                Some(f) => std::fs::hard_link(f, &p).unwrap(),
                None => continue,
            },
            Node::Fifo => {
                sh_ok(&format!("mkfifo '{}'", s(&p).replace('\'', "'\\''")));
            }
        }
        if let Some(v) = xattr
            && matches!(node, Node::File(..) | Node::Dir(_))
        {
            xattr::set(&p, "user.prop", v).unwrap();
        }
        made.push((p, *sec, *nsec));
    }
    // Times deepest first, directory modes last (a 0500 directory is still
    // written into above).
    made.sort_by_key(|(p, ..)| std::cmp::Reverse(p.components().count()));
    for (p, sec, nsec) in &made {
        set_mtime(p, *sec, i64::from(*nsec));
    }
    for (p, m) in dir_modes.iter().rev() {
        chmod(p, *m);
    }
    set_mtime(root, 1_600_000_000, 0);
}

/// Random trees survive create → extract unchanged (plain and zstd).
#[test]
fn random_trees_round_trip() {
    let spec = (
        0usize..64,
        component(),
        node(),
        -1_000_000_000i64..4_000_000_000,
        0u32..1_000_000_000,
        prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 0..40)),
    );
    let mut runner = TestRunner::new(Config {
        cases: 10,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(spec, 1..40), |specs| {
            let tmp = tempfile::tempdir().unwrap();
            let t = tmp.path().join("t");
            build_tree(&t, &specs);
            // The plain archive with whole-second mtimes (the default),
            // the compressed one with nanoseconds.
            for (name, ns) in [("a.tar", false), ("a.tar.zst", true)] {
                let a = tmp.path().join(name);
                let (file, dir) = (s(&a), s(tmp.path()));
                let mut args = vec!["create", "-f", &file, "-C", &dir, "t", "--no-progress"];
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
                    &s(&a),
                    "-C",
                    &s(&dest),
                    "--owners",
                    sink,
                    "--no-progress",
                ]);
                let mut want = snapshot(&t);
                let mut got = snapshot(&dest.join("t"));
                if !ns {
                    for m in want.values_mut() {
                        m.mtime.1 = 0;
                    }
                }
                if !is_root() {
                    for m in want.values_mut().chain(got.values_mut()) {
                        (m.uid, m.gid) = (0, 0);
                        m.mode &= !0o6000;
                    }
                }
                prop_assert_eq!(&want, &got, "{}", name);
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// ID maps

/// A valid map: extents in random order, disjoint on both sides.
fn valid_map() -> impl Strategy<Value = Vec<Extent>> {
    prop::collection::vec((0u32..5000, 1u32..100_000, 0u32..5000), 1..12)
        .prop_flat_map(|parts| {
            let n = parts.len();
            (Just(parts), Just(n).prop_shuffle_indices())
        })
        .prop_map(|(parts, order)| {
            // Inside: gaps and counts in order. Outside: the same extents
            // placed in a shuffled order, with their own gaps.
            let mut inside = Vec::new();
            let mut at = 0u64;
            for &(gap, count, _) in &parts {
                at += u64::from(gap);
                inside.push(at as u32);
                at += u64::from(count);
            }
            let mut outside = vec![0u32; parts.len()];
            let mut at = 7u64;
            for &i in &order {
                at += u64::from(parts[i].2);
                outside[i] = at as u32;
                at += u64::from(parts[i].1);
            }
            let mut ext: Vec<Extent> = (0..parts.len())
                .map(|i| Extent {
                    inside: inside[i],
                    outside: outside[i],
                    count: parts[i].1,
                })
                .collect();
            ext.reverse();
            ext
        })
}

trait ShuffleIndices {
    fn prop_shuffle_indices(self) -> BoxedStrategy<Vec<usize>>;
}

impl ShuffleIndices for Just<usize> {
    fn prop_shuffle_indices(self) -> BoxedStrategy<Vec<usize>> {
        Just((0..self.0).collect::<Vec<usize>>())
            .prop_shuffle()
            .boxed()
    }
}

#[test]
fn random_maps_invert_on_their_range() {
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(valid_map(), prop::collection::vec(any::<u32>(), 20)),
            |(ext, probes)| {
                let m = IdMap::<UidKind>::new(ext.clone()).expect("a disjoint map is valid");
                let inv = m.inverse();
                for e in &ext {
                    let last = e.count - 1;
                    for off in [0, last / 2, last, (probes[0] % e.count)] {
                        let id = e.inside + off;
                        let host = m.to_host(id);
                        prop_assert_eq!(host, Some(e.outside + off));
                        prop_assert_eq!(m.to_context(host.unwrap()), Some(id));
                        prop_assert_eq!(inv.to_host(host.unwrap()), Some(id));
                        prop_assert_eq!(inv.to_context(id), host);
                    }
                }
                // Outside the covered range nothing maps; inside, everything
                // maps back.
                let covered = |id: u32| {
                    ext.iter()
                        .any(|e| id >= e.inside && id - e.inside < e.count)
                };
                for &id in &probes {
                    match m.to_host(id) {
                        Some(h) => {
                            prop_assert!(covered(id));
                            prop_assert_eq!(m.to_context(h), Some(id));
                        }
                        None => prop_assert!(!covered(id)),
                    }
                }
                prop_assert_eq!(m.to_host(u32::MAX), None);
                prop_assert_eq!(&IdMap::<UidKind>::parse_list(&m.to_string()).unwrap(), &m);
                prop_assert_eq!(&inv.inverse(), &m);
                Ok(())
            },
        )
        .unwrap();
}

/// Arbitrary extents: either refused, or a map with the same properties.
#[test]
fn arbitrary_extents_are_refused_or_invertible() {
    let ext = prop::collection::vec(
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(i, o, c)| Extent {
            inside: i % 1000,
            outside: o % 1000,
            count: c % 300,
        }),
        0..6,
    );
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&ext, |ext| {
            if let Ok(m) = IdMap::<UidKind>::new(ext.clone()) {
                let mut hosts = BTreeSet::new();
                for id in 0..1400u32 {
                    if let Some(h) = m.to_host(id) {
                        prop_assert!(hosts.insert(h), "two IDs map to {}", h);
                        prop_assert_eq!(m.to_context(h), Some(id));
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// Entries

fn bytes_no_nul(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 1..max)
}

fn entry() -> impl Strategy<Value = (Entry, Vec<u8>)> {
    let kind = prop::sample::select(vec![
        Kind::File,
        Kind::Dir,
        Kind::Symlink,
        Kind::HardLink,
        Kind::Char,
        Kind::Block,
        Kind::Fifo,
    ]);
    let label_chars: Vec<char> = "abzAZ09-_.@+".chars().collect();
    let label = prop::collection::vec(prop::sample::select(label_chars), 1..20)
        .prop_map(|v| v.into_iter().collect::<String>());
    let xattrs = prop::collection::btree_map(
        component().prop_map(|c| format!("user.{c}")),
        prop::collection::vec(any::<u8>(), 0..50),
        0..4,
    );
    (
        prop::collection::vec(component(), 1..25),
        kind,
        0u32..=0o7777,
        (any::<u64>(), any::<u64>()),
        (
            prop::option::of(bytes_no_nul(40)),
            prop::option::of(bytes_no_nul(40)),
        ),
        (-(1i64 << 40)..(1i64 << 40), 0u32..1_000_000_000),
        bytes_no_nul(300),
        (any::<u32>(), any::<u32>()),
        xattrs,
        prop::option::of(label),
        prop::collection::vec(any::<u8>(), 0..1500),
    )
        .prop_map(
            |(
                comps,
                kind,
                mode,
                (uid, gid),
                (uname, gname),
                (sec, nsec),
                link,
                dev,
                xattrs,
                label,
                data,
            )| {
                let mut e = Entry::new(comps.join("/").into_bytes(), kind);
                e.mode = mode;
                e.uid = uid;
                e.gid = gid;
                e.uname = uname;
                e.gname = gname;
                e.mtime = Time { sec, nsec };
                if matches!(kind, Kind::Symlink | Kind::HardLink) {
                    e.link = Some(link);
                }
                if kind.is_device() {
                    (e.dev_major, e.dev_minor) = dev;
                }
                e.xattrs = xattrs.into_iter().collect();
                e.label = label;
                let data = if kind == Kind::File { data } else { Vec::new() };
                e.size = data.len() as u64;
                (e, data)
            },
        )
}

/// Entries survive encode → decode, one at a time and several in a row.
#[test]
fn random_entries_encode_and_decode_unchanged() {
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(entry(), 1..6), |entries| {
            let mut tar = Vec::new();
            for (e, data) in &entries {
                encode_entry(e, &mut tar);
                tar.extend_from_slice(data);
                pad(&mut tar, data.len() as u64);
            }
            end_of_archive(&mut tar);
            let mut r = Reader::new(&tar[..]);
            for (want, data) in &entries {
                let got = r.next_entry().unwrap().expect("an entry");
                prop_assert_eq!(&got, want);
                let mut buf = Vec::new();
                r.copy_data(&mut buf).unwrap();
                prop_assert_eq!(&buf, data);
            }
            prop_assert!(r.next_entry().unwrap().is_none());
            Ok(())
        })
        .unwrap();
}
