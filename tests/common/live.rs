//! Running user namespaces for the live-context tests (tests/live.rs,
//! tests/podman.rs): a process of the test user in a namespace of its own,
//! alientar run as that user, and a small image tree without device nodes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::*;

/// A process of the test user in a user namespace it owns (`unshare
/// --map-auto --map-root-user sleep`, as `podman unshare` makes one):
/// killed when dropped.
pub struct UserNs {
    /// The process (its namespace's only one).
    pub pid: u32,
    child: Child,
}

impl UserNs {
    /// Start it; `None` after saying why `test` is skipped.
    pub fn start(test: &str) -> Option<UserNs> {
        if !have("unshare") || !have("setpriv") {
            skip(test, "unshare or setpriv missing (util-linux)");
            return None;
        }
        // setpriv and unshare exec what follows: the child's PID is sleep's.
        let child = Command::new("setpriv")
            .args(["--reuid", TEST_USER, "--regid", TEST_USER, "--init-groups"])
            .args(["unshare", "--map-auto", "--map-root-user", "sleep", "600"])
            .current_dir("/tmp")
            .stdin(Stdio::null())
            .spawn()
            .expect("start unshare");
        let ns = UserNs {
            pid: child.id(),
            child,
        };
        // Ready once its maps are written.
        for _ in 0..200 {
            let map = std::fs::read_to_string(format!("/proc/{}/uid_map", ns.pid));
            if map.is_ok_and(|m| !m.trim().is_empty())
                && std::fs::read_link(format!("/proc/{}/exe", ns.pid))
                    .is_ok_and(|e| e.ends_with("sleep"))
            {
                return Some(ns);
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        skip(
            test,
            "unshare --map-auto --map-root-user made no namespace for the test user",
        );
        None
    }

    /// Its uid map as a SPEC (`0:1001:1,1:100000:65535`).
    pub fn uid_spec(&self) -> String {
        map_spec(&std::fs::read_to_string(format!("/proc/{}/uid_map", self.pid)).unwrap())
    }
}

impl Drop for UserNs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/proc/PID/uid_map` text as a SPEC.
pub fn map_spec(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(":"))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Run alientar as the test user from /tmp, with `env` set (and no
/// `XDG_CONFIG_HOME` unless given).
pub fn as_user(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new("runuser");
    c.args(["-u", TEST_USER, "--", "env", "-u", "XDG_CONFIG_HOME"]);
    for (k, v) in env {
        c.arg(format!("{k}={v}"));
    }
    c.arg(bin())
        .args(args)
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .output()
        .expect("run alientar as the test user")
}

/// As [`as_user`], asserting success; returns stderr.
pub fn as_user_ok(env: &[(&str, &str)], args: &[&str]) -> String {
    let out = as_user(env, args);
    assert!(
        out.status.success(),
        "as {TEST_USER}: alientar {args:?} failed ({:?}):\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temporary directory the test user may enter, and a directory of its
/// own inside (returned second).
pub fn user_tmp(u: &User) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    chmod(t.path(), 0o755);
    let mine = t.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    lchown(&mine, u.uid, u.gid);
    (t, mine)
}

/// A small image tree made by root (`root/img`): foreign owners (etc/shadow
/// 0:42, an unreadable 7:8 file, a directory 100:101, a symlink 7:8),
/// setuid, a FIFO, a hard link, an xattr, nanosecond mtimes; no device
/// nodes.
pub fn image_tree(root: &Path) -> PathBuf {
    let t = root.join("img");
    for d in ["etc", "usr/bin", "var/lib/app", "run"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    std::fs::write(t.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(t.join("etc/secret"), "only 7 reads this\n").unwrap();
    std::fs::write(t.join("usr/bin/su"), "#!/bin/sh\n").unwrap();
    std::fs::hard_link(t.join("usr/bin/su"), t.join("usr/bin/su-link")).unwrap();
    std::fs::write(t.join("var/lib/app/data"), "app data\n").unwrap();
    std::os::unix::fs::symlink("../etc/shadow", t.join("run/shadow-link")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        t.join("run/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o620),
        0,
    )
    .unwrap();
    xattr::set(t.join("var/lib/app/data"), "user.note", b"kept").unwrap();
    chmod(&t.join("etc/shadow"), 0o640);
    chmod(&t.join("etc/secret"), 0o600);
    chmod(&t.join("run/fifo"), 0o620);
    chmod(&t.join("usr/bin/su"), 0o4755);
    lchown(&t.join("etc/shadow"), 0, 42);
    lchown(&t.join("etc/secret"), 7, 8);
    lchown(&t.join("var/lib/app"), 100, 101);
    lchown(&t.join("var/lib/app/data"), 100, 101);
    lchown(&t.join("run/shadow-link"), 7, 8);
    lchown(&t.join("run/fifo"), 0, 5);
    let mut all = walk(&t);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in all.iter().enumerate() {
        set_mtime(p, 1_700_000_000 + i as i64, 987_654_321 - i as i64);
    }
    t
}

/// `stat` of `p` as (uid, gid, mode).
pub fn owner_mode(p: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// `list --json` as path → object, paths normalized (`./x` → `x`, `.` → ``).
pub fn listing(archive: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
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

/// The differences between two listings in `keys` (entries of `a` only;
/// an entry missing from `b` is one).
pub fn listing_diffs(
    a: &std::collections::BTreeMap<String, serde_json::Value>,
    b: &std::collections::BTreeMap<String, serde_json::Value>,
    keys: &[&str],
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (p, x) in a {
        let Some(y) = b.get(p) else {
            diffs.push(format!("{p}: missing"));
            continue;
        };
        for k in keys {
            if x[k] != y[k] {
                diffs.push(format!("{p}: {k}: {} vs {}", x[k], y[k]));
            }
        }
    }
    diffs
}
