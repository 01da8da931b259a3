//! Live contexts: `--map`/`--context pid:PID` and `ns:PATH`, registry
//! entries with `userns = "PATH"`, and `contexts --live`. The test user
//! ("U") owns a user namespace made with `unshare --map-auto
//! --map-root-user` (as `podman unshare` makes one); alientar enters it
//! with setns(2) to extract, create and diff. The tests run as root and
//! drop to U; they skip loudly when that is impossible (CI has it all).
//! tests/podman.rs does the same against a real rootless container.

mod common;

use common::live::*;
use common::*;
use std::path::Path;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// The image tree archived by root with its owners as they are, labelled
/// `rootless`, readable by U: (the tree, the archive).
fn image_archive(tmp: &Path) -> (std::path::PathBuf, String) {
    let t = image_tree(tmp);
    let a = s(&tmp.join("img.tar"));
    ok([
        "create",
        "-f",
        &a,
        "--context",
        "rootless",
        "--map",
        "host",
        "-C",
        &s(&t),
        ".",
    ]);
    chmod(Path::new(&a), 0o644);
    (t, a)
}

/// The owners the image's files must have on the host after a restore
/// into the namespace (0 → U, N → sub + N − 1).
fn assert_restored(u: &User, d: &Path) {
    let (su, sg) = (u.sub_uid - 1, u.sub_gid - 1);
    let want = [
        ("etc/shadow", (u.uid, sg + 42, 0o640)),
        ("etc/secret", (su + 7, sg + 8, 0o600)),
        ("usr/bin/su", (u.uid, u.gid, 0o4755)),
        ("var/lib/app", (su + 100, sg + 101, 0o755)),
        ("var/lib/app/data", (su + 100, sg + 101, 0o644)),
        ("run/fifo", (u.uid, sg + 5, 0o620)),
    ];
    for (p, w) in want {
        assert_eq!(owner_mode(&d.join(p)), w, "{p}");
    }
    let (lu, lg, _) = owner_mode(&d.join("run/shadow-link"));
    assert_eq!((lu, lg), (su + 7, sg + 8), "run/shadow-link");
    assert_eq!(
        xattr::get(d.join("var/lib/app/data"), "user.note").unwrap(),
        Some(b"kept".to_vec())
    );
}

/// U extracts into its running namespace, named three ways: the files get
/// the owners the namespace gives the archive's IDs, and `diff` inside the
/// namespace finds the tree equal, then finds an owner changed behind it.
#[test]
fn extract_and_diff_run_inside_a_running_namespace() {
    let t = "extract_and_diff_run_inside_a_running_namespace";
    let Some(u) = test_user(t) else { return };
    let (tmp, mine) = user_tmp(&u);
    let (_, a) = image_archive(tmp.path());
    let Some(ns) = UserNs::start(t) else { return };
    let pid = format!("pid:{}", ns.pid);
    let file = format!("ns:/proc/{}/ns/user", ns.pid);
    let forms: [&[&str]; 3] = [
        &["--context", &pid],
        &["--map", &pid, "--owners", "userns"],
        &["--map", &file],
    ];
    for (i, form) in forms.iter().enumerate() {
        let d = mine.join(format!("x{i}"));
        std::fs::create_dir(&d).unwrap();
        lchown(&d, u.uid, u.gid);
        let mut args = vec!["extract", "-f", &a, "-C", d.to_str().unwrap()];
        args.extend_from_slice(form);
        as_user_ok(&[], &args);
        assert_restored(&u, &d);
    }
    let d = s(&mine.join("x0"));
    as_user_ok(&[], &["diff", "-f", &a, "-C", &d, "--context", &pid]);
    lchown(&mine.join("x0/etc/shadow"), u.uid, u.sub_gid);
    let out = as_user(&[], &["diff", "-f", &a, "-C", &d, "--context", &pid]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("etc/shadow"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// U archives a tree stored the way its namespace shows it (a file only
/// the namespace's uid 7 may read among it) from inside that namespace:
/// the owners are the original's, the label the registry's context with
/// the namespace's maps.
#[test]
fn create_runs_inside_a_running_namespace() {
    let t = "create_runs_inside_a_running_namespace";
    let Some(u) = test_user(t) else { return };
    let (tmp, mine) = user_tmp(&u);
    let (tree, a) = image_archive(tmp.path());
    let Some(ns) = UserNs::start(t) else { return };
    let shifted = tmp.path().join("shifted");
    shifted_copy(&tree, &shifted, (u.uid, u.sub_uid), (u.gid, u.sub_gid));
    let conf = tmp.path().join("conf");
    std::fs::create_dir_all(conf.join("alientar")).unwrap();
    let spec = ns.uid_spec();
    std::fs::write(
        conf.join("alientar/contexts.toml"),
        format!("[ns-test]\nmap = \"{spec}\"\n"),
    )
    .unwrap();
    let env = [("XDG_CONFIG_HOME", conf.to_str().unwrap())];
    let back = s(&mine.join("back.tar"));
    let pid = format!("pid:{}", ns.pid);
    as_user_ok(
        &env,
        &[
            "create",
            "-f",
            &back,
            "--context",
            &pid,
            "-C",
            &s(&shifted),
            ".",
        ],
    );
    let (want, got) = (listing(&a), listing(&back));
    let keys = [
        "type", "mode", "uid", "gid", "size", "mtime", "link", "xattrs",
    ];
    let diffs = listing_diffs(&want, &got, &keys);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(want.len(), got.len());
    assert!(got.values().all(|e| e["context"] == "ns-test"), "{got:?}");
}

/// `-C` and the archive are opened before the namespace is entered: U
/// restores into and backs up from `/proc/PID/root/...` of its running
/// namespace's process, both in a namespace alientar builds (`--owners
/// userns`, `--map rootless`), which may not open that path, and in the
/// running one.
#[test]
fn paths_through_proc_pid_root_are_opened_before_entering() {
    let t = "paths_through_proc_pid_root_are_opened_before_entering";
    let Some(u) = test_user(t) else { return };
    let (tmp, mine) = user_tmp(&u);
    let (_, a) = image_archive(tmp.path());
    let Some(ns) = UserNs::start(t) else { return };
    let root = format!("/proc/{}/root", ns.pid);
    let pid = format!("pid:{}", ns.pid);
    let forms: [&[&str]; 2] = [
        &["--owners", "userns", "--map", "rootless"],
        &["--context", &pid],
    ];
    for (i, form) in forms.iter().enumerate() {
        let d = mine.join(format!("x{i}"));
        std::fs::create_dir(&d).unwrap();
        lchown(&d, u.uid, u.gid);
        let via = format!("{root}{}", d.display());
        let mut args = vec!["extract", "-f", &a, "-C", &via];
        args.extend_from_slice(form);
        as_user_ok(&[], &args);
        assert_restored(&u, &d);
        let back = format!("{root}{}/back{i}.tar", mine.display());
        let mut args = vec!["create", "-f", &back, "-C", &via, "."];
        args.extend_from_slice(&form[form.len() - 2..]);
        as_user_ok(&[], &args);
        let diffs = listing_diffs(&listing(&a), &listing(&back), &["uid", "gid", "mode"]);
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    }
}

/// The errors a user can act on: a process that is gone, a namespace the
/// user does not own, a file that is no namespace, a map that does not
/// cover the archive (naming the ID), a malformed PID.
#[test]
fn live_context_errors_say_what_to_do() {
    let t = "live_context_errors_say_what_to_do";
    let Some(u) = test_user(t) else { return };
    let (tmp, mine) = user_tmp(&u);
    let Some(ns) = UserNs::start(t) else { return };
    let tree = tmp.path().join("far");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("far"), "x").unwrap();
    lchown(&tree.join("far"), 70_000, 0);
    let a = s(&tmp.path().join("far.tar"));
    ok(["create", "-f", &a, "--map", "host", "-C", &s(&tree), "."]);
    chmod(Path::new(&a), 0o644);
    let gone = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        c.wait().unwrap();
        c.id()
    };
    let d = s(&mine);
    let cases = [
        (
            format!("pid:{gone}"),
            vec![format!("no process {gone} is running")],
        ),
        (
            "pid:1".to_string(),
            vec!["another user's".into(), "owner or root".into()],
        ),
        (
            "ns:/etc/passwd".to_string(),
            vec!["not a user namespace file".into()],
        ),
        ("pid:x".to_string(), vec!["takes a process ID".into()]),
        (
            format!("pid:{}", ns.pid),
            vec!["70000".into(), "far".into()],
        ),
    ];
    for (spec, wants) in cases {
        let out = as_user(&[], &["extract", "-f", &a, "-C", &d, "--context", &spec]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{spec}: {err}");
        for w in wants {
            assert!(err.contains(&w), "{spec}: wanted {w:?} in: {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `contexts --live` (and `--json`) lists the user's running namespace
/// with its PID, owner, maps, command line and the registry's context of
/// the same maps; root sees it too. A registry entry `userns = "PATH"`
/// reads its maps when used, and extract enters it.
#[test]
fn contexts_live_and_registry_userns() {
    let t = "contexts_live_and_registry_userns";
    let Some(u) = test_user(t) else { return };
    let (tmp, mine) = user_tmp(&u);
    let (_, a) = image_archive(tmp.path());
    let Some(ns) = UserNs::start(t) else { return };
    let conf = tmp.path().join("conf");
    std::fs::create_dir_all(conf.join("alientar")).unwrap();
    let spec = ns.uid_spec();
    std::fs::write(
        conf.join("alientar/contexts.toml"),
        format!(
            "[ns-test]\nmap = \"{spec}\"\n[live-test]\nuserns = \"/proc/{}/ns/user\"\n",
            ns.pid
        ),
    )
    .unwrap();
    let env = [("XDG_CONFIG_HOME", conf.to_str().unwrap())];
    let out = as_user(&env, &["contexts", "--live", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mine_ns: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["pid"] == ns.pid)
        .collect();
    assert_eq!(mine_ns.len(), 1, "{text}");
    let v = &mine_ns[0];
    assert_eq!(v["owner"], u.uid, "{v}");
    assert_eq!(v["uidmap"], spec.as_str(), "{v}");
    assert_eq!(v["command"], "sleep 600", "{v}");
    assert!(
        v["contexts"]
            .as_array()
            .unwrap()
            .contains(&"ns-test".into()),
        "{v}"
    );
    let table =
        String::from_utf8_lossy(&as_user(&env, &["contexts", "--live"]).stdout).into_owned();
    assert!(
        table.lines().any(|l| l.starts_with(&ns.pid.to_string())
            && l.contains("ns-test")
            && l.ends_with("sleep 600")),
        "{table}"
    );
    let all = ok(["contexts", "--live"]);
    assert!(
        all.lines()
            .any(|l| l.starts_with(&ns.pid.to_string()) && l.contains(&spec)),
        "{all}"
    );
    let shown =
        String::from_utf8_lossy(&as_user(&env, &["contexts", "live-test"]).stdout).into_owned();
    assert!(
        shown.contains(&format!("userns:  /proc/{}/ns/user", ns.pid)),
        "{shown}"
    );
    assert!(shown.contains("uid          1     100000"), "{shown}");
    as_user_ok(
        &env,
        &[
            "extract",
            "-f",
            &a,
            "-C",
            &s(&mine),
            "--context",
            "live-test",
        ],
    );
    assert_restored(&u, &mine);
}

/// A destination only the namespace's IDs may open (a subordinate ID's
/// 0700 directory) is opened inside the namespace when opening it before
/// fails: extract and create work there as before (a regression the
/// first version of opening before entering had).
#[test]
fn a_destination_only_the_namespace_opens_still_works() {
    let t = "a_destination_only_the_namespace_opens_still_works";
    let Some(u) = test_user(t) else { return };
    let (tmp, mine) = user_tmp(&u);
    let (_, a) = image_archive(tmp.path());
    let d = mine.join("private");
    std::fs::create_dir(&d).unwrap();
    lchown(&d, u.sub_uid + 998, u.sub_gid + 998);
    chmod(&d, 0o700);
    let ds = s(&d);
    as_user_ok(
        &[],
        &[
            "extract", "-f", &a, "-C", &ds, "--owners", "userns", "--map", "rootless",
        ],
    );
    assert_restored(&u, &d);
    let back = s(&mine.join("back.tar"));
    as_user_ok(
        &[],
        &[
            "create",
            "-f",
            &back,
            "--map",
            "rootless",
            "-C",
            &s(&d),
            "etc",
        ],
    );
    assert_eq!(listing(&back)["etc/shadow"]["gid"], 42);
}
