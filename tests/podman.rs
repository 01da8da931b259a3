//! Against a real container engine: rootless podman run by the test user
//! ("U") in storage of its own (tests/common/podman.rs says what it needs).
//! An alientar archive of the Debian rootfs imported by podman is archived
//! back from podman's storage unchanged; a running container's files are
//! restored through its user namespace (`--context pid:PID`) and podman
//! sees the archive's owners; `contexts --live` lists the container's
//! namespace with podman's pause process. Without podman the tests say
//! SKIPPED loudly (and fail under CI, which installs it).

mod common;

use common::live::{as_user_ok, image_tree, listing};
use common::podman::Podman;
use common::*;
use std::path::Path;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// `podman import` of an alientar archive of the Debian rootfs, then
/// `create --map rootless` of the layer podman stored: the same entries
/// with the same owners, modes, types, sizes, times, links, xattrs and
/// labels; only the device nodes (podman import drops them) and the top
/// directory's mtime (podman's own) differ.
#[test]
fn podman_import_then_backup_of_its_storage_lists_equal() {
    let t = "podman_import_then_backup_of_its_storage_lists_equal";
    let Some(u) = test_user(t) else { return };
    let Some(pm) = Podman::new(t, &u) else { return };
    let Some(a) = pm.rootfs_archive(t) else {
        return;
    };
    let layer = pm.import(&a, "localhost/alientar-test:rootfs");
    let back = pm.home.join("storage-backup.tar");
    let (back_s, layer_s) = (s(&back), s(&layer));
    let env: Vec<(&str, &str)> = vec![("HOME", pm.home.to_str().unwrap())];
    as_user_ok(
        &env,
        &[
            "create", "-f", &back_s, "--map", "rootless", "-C", &layer_s, ".",
        ],
    );
    let (want, got) = (listing(&s(&a)), listing(&back_s));
    let keys = [
        "type", "mode", "uid", "gid", "size", "mtime", "link", "xattrs", "context",
    ];
    let mut diffs = Vec::new();
    let mut devices = 0;
    for (p, x) in &want {
        if x["type"] == "char" || x["type"] == "block" {
            devices += 1;
            assert!(
                !got.contains_key(p),
                "{p}: podman import kept a device node"
            );
            continue;
        }
        let Some(y) = got.get(p) else {
            diffs.push(format!("{p}: missing"));
            continue;
        };
        for k in keys {
            if x[k] != y[k] && !(p.is_empty() && k == "mtime") {
                diffs.push(format!("{p}: {k}: {} vs {}", x[k], y[k]));
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(20)].join("\n")
    );
    assert!(devices > 0 && want.len() > 8000, "{} entries", want.len());
    assert_eq!(got.len(), want.len() - devices);
}

/// A running rootless container: U restores an archive into its /srv
/// through its user namespace (`--context pid:PID`, `-C /proc/PID/root/srv`)
/// and `podman exec stat` shows the archive's owners by the image's own
/// names (`root shadow` on etc/shadow); U backs the restored tree up the
/// same way and gets the archive's owners back; `contexts --live` lists the
/// container's namespace with podman's pause process.
#[test]
fn podman_restore_into_a_running_container() {
    let t = "podman_restore_into_a_running_container";
    let Some(u) = test_user(t) else { return };
    let Some(pm) = Podman::new(t, &u) else { return };
    let Some(rootfs) = pm.rootfs_archive(t) else {
        return;
    };
    pm.import(&rootfs, "localhost/alientar-test:rootfs");
    let tree = image_tree(pm.scratch());
    let a = s(&pm.scratch().join("img.tar"));
    ok([
        "create",
        "-f",
        &a,
        "--context",
        "rootless",
        "--map",
        "host",
        "-C",
        &s(&tree),
        ".",
    ]);
    chmod(Path::new(&a), 0o644);
    pm.ok(&[
        "run",
        "-d",
        "--name",
        "ct",
        "localhost/alientar-test:rootfs",
        "sleep",
        "1000",
    ]);
    let pid = pm.ok(&["inspect", "--format", "{{.State.Pid}}", "ct"]);
    let srv = format!("/proc/{pid}/root/srv");
    let ctx = format!("pid:{pid}");
    as_user_ok(&[], &["extract", "-f", &a, "--context", &ctx, "-C", &srv]);
    let stat = |format: &str, paths: &[&str]| {
        let mut args = vec!["exec", "ct", "stat", "-c", format];
        args.extend_from_slice(paths);
        pm.ok(&args)
    };
    let names = stat(
        "%U %G %a %n",
        &["/srv/etc/shadow", "/srv/etc/secret", "/srv/usr/bin/su"],
    );
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [
            "root shadow 640 /srv/etc/shadow",
            "lp mail 600 /srv/etc/secret",
            "root root 4755 /srv/usr/bin/su",
        ],
        "{names}"
    );
    let ids = stat("%u:%g %a %n", &["/srv/var/lib/app", "/srv/run/fifo"]);
    assert_eq!(
        ids.lines().collect::<Vec<_>>(),
        ["100:101 755 /srv/var/lib/app", "0:5 620 /srv/run/fifo"],
        "{ids}"
    );
    let back = s(&pm.home.join("srv.tar"));
    let env: Vec<(&str, &str)> = vec![("HOME", pm.home.to_str().unwrap())];
    as_user_ok(
        &env,
        &["create", "-f", &back, "--context", &ctx, "-C", &srv, "."],
    );
    let (want, got) = (listing(&a), listing(&back));
    for (p, x) in &want {
        let y = &got[p];
        for k in ["type", "mode", "uid", "gid", "size", "link", "context"] {
            assert_eq!(x[k], y[k], "{p}: {k}");
        }
    }

    let pause = pm.pause_pid().expect("podman's pause process");
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/user")).unwrap();
    assert_eq!(
        ns(&pid),
        ns(&pause.to_string()),
        "the container runs in the pause process's namespace"
    );
    let out = pm.user_cmd(&bin(), &["contexts", "--live", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["pid"] == pause)
        .unwrap_or_else(|| panic!("pause process {pause} not listed:\n{text}"));
    assert_eq!(v["owner"], u.uid, "{v}");
    assert!(v["processes"].as_u64().unwrap() >= 2, "{v}");
    assert!(
        v["contexts"]
            .as_array()
            .unwrap()
            .contains(&"rootless".into()),
        "{v}"
    );
    assert_eq!(
        v["uidmap"],
        format!("0:{}:1,1:{}:65536", u.uid, u.sub_uid),
        "{v}"
    );
}
