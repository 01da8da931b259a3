//! `alientar unshare`: a command run inside a context's user namespace, as
//! `podman unshare` runs one. The test user ("U", uid 1001 with the range
//! 100000:65536) runs it: root inside; the maps of the context (rootless
//! by default, subuid, a map given, a running namespace joined); the
//! command in alientar's place, so that its standard streams, environment,
//! signals and exit status are its own; the exit statuses of `env` when
//! the namespace or the command fails. A tree restored with `extract
//! --owners userns` shows its context's owners there. Root builds
//! namespaces too, writing the maps itself (no subordinate ranges).

mod common;

use common::live::*;
use common::*;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A PATH every user can search (root's may hold directories U cannot
/// read, which makes a missing command "Permission denied", as for `env`).
const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

/// `alientar ARGS` as U, exec'ed by setpriv (no parent of U's in between:
/// the PID is alientar's, then the command's), with HOME=/tmp.
fn as_u(args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid", TEST_USER, "--regid", TEST_USER, "--init-groups"])
        .arg(bin())
        .args(args)
        .env("PATH", PATH)
        .env("HOME", "/tmp")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("ALIENTAR_UNSHARE")
        .current_dir("/tmp");
    c
}

fn out(mut c: Command) -> Output {
    c.stdin(Stdio::null())
        .output()
        .expect("run alientar unshare")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

#[test]
fn unshare_runs_the_command_as_root_in_the_rootless_layout() {
    let t = "unshare_runs_the_command_as_root_in_the_rootless_layout";
    let Some(u) = test_user(t) else { return };
    let script = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; \
                  echo \"$ALIENTAR_UNSHARE $HOME $GREETING\"; echo to-stderr >&2; exit 7";
    let mut c = as_u(&["unshare", "--", "sh", "-c", script]);
    c.env("GREETING", "kept");
    let o = out(c);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    let want = format!(
        "0\n0\n0 {uid} 1\n1 {su} 65536\n0 {gid} 1\n1 {sg} 65536\nrootless /tmp kept\n",
        uid = u.uid,
        su = u.sub_uid,
        gid = u.gid,
        sg = u.sub_gid
    );
    let got: String = text(&o.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        text(&o.stderr),
        "to-stderr\n",
        "the command's stderr, nothing else"
    );

    // Standard input is the command's.
    let mut c = as_u(&["unshare", "cat"]);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), "from stdin\n");

    // Without a command: $SHELL.
    let mut c = as_u(&["unshare"]);
    c.env("SHELL", "/bin/sh");
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"id -u\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(text(&o.stdout), "0\n");
}

#[test]
fn unshare_builds_the_namespace_of_the_context_or_map_given() {
    let t = "unshare_builds_the_namespace_of_the_context_or_map_given";
    let Some(u) = test_user(t) else { return };
    let show = [
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; echo $ALIENTAR_UNSHARE",
    ];
    let run = |opts: &[&str]| {
        let args: Vec<&str> = ["unshare"]
            .iter()
            .chain(opts)
            .chain(["--"].iter())
            .chain(show.iter())
            .copied()
            .collect();
        let o = out(as_u(&args));
        assert!(o.status.success(), "{opts:?}: {}", text(&o.stderr));
        text(&o.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    // subuid: mmdebstrap's layout, 0 -> the first subordinate ID; U is not
    // in it, and is root there.
    assert_eq!(
        run(&["--context", "subuid"]),
        ["0", &format!("0 {} 65536", u.sub_uid), "subuid"]
    );
    let m = format!("0:{}:1,1:{}:1000", u.uid, u.sub_uid);
    assert_eq!(
        run(&["--map", &m]),
        [
            "0".to_string(),
            format!("0 {} 1", u.uid),
            format!("1 {} 1000", u.sub_uid),
            m.clone()
        ]
    );
    // A map without 0: U's own ID inside.
    let m = format!("1000:{}:1", u.uid);
    assert_eq!(
        run(&["--map", &m]),
        ["1000".to_string(), format!("1000 {} 1", u.uid), m.clone()]
    );
}

#[test]
fn unshare_shows_a_userns_tree_with_its_context_owners() {
    let t = "unshare_shows_a_userns_tree_with_its_context_owners";
    let Some(u) = test_user(t) else { return };
    let (tmp, mine) = user_tmp(&u);
    let img = image_tree(tmp.path());
    let archive = s(&tmp.path().join("img.tar"));
    ok([
        "create",
        "-f",
        &archive,
        "--map",
        "host",
        "-C",
        &s(&img),
        ".",
    ]);
    chmod(Path::new(&archive), 0o644);
    std::fs::create_dir(mine.join("tree")).unwrap();
    lchown(&mine.join("tree"), u.uid, u.gid);
    let tree = s(&mine.join("tree"));
    let o = out(as_u(&[
        "extract", "-f", &archive, "-C", &tree, "--owners", "userns", "--map", "rootless",
    ]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Outside: U's IDs and subordinate ones; inside: the image's.
    assert_eq!(
        owner_mode(&mine.join("tree/etc/shadow")),
        (u.uid, u.sub_gid + 41, 0o640)
    );
    let stat = "stat -c '%u:%g %a %n' etc/shadow etc/secret var/lib/app/data usr/bin/su";
    let o = out(as_u(&[
        "unshare",
        "--",
        "sh",
        "-c",
        &format!("cd {tree} && {stat}"),
    ]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "0:42 640 etc/shadow\n7:8 600 etc/secret\n100:101 644 var/lib/app/data\n0:0 4755 usr/bin/su\n"
    );
    // The file only uid 7 may read, root inside reads.
    let o = out(as_u(&["unshare", "cat", &format!("{tree}/etc/secret")]));
    assert_eq!(text(&o.stdout), "only 7 reads this\n");
}

#[test]
fn unshare_is_the_command_for_signals() {
    let t = "unshare_is_the_command_for_signals";
    if test_user(t).is_none() {
        return;
    }
    let mut c = as_u(&["unshare", "--", "sleep", "600"]);
    let mut child = c.stdin(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    // alientar becomes sleep: the same PID, in the namespace.
    let mut became = false;
    for _ in 0..200 {
        if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e.ends_with("sleep")) {
            became = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(became, "alientar did not become the command");
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert!(map.split_whitespace().take(2).eq(["0", "1001"]), "{map}");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");

    // SIGPIPE is not ignored in the command (Rust ignores it in alientar).
    let mut c = as_u(&["unshare", "yes"]);
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 2];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut line).unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
}

#[test]
fn unshare_exit_statuses_of_its_own_failures() {
    let t = "unshare_exit_statuses_of_its_own_failures";
    let Some(u) = test_user(t) else { return };
    let o = out(as_u(&["unshare", "no-such-command-here"]));
    assert_eq!(o.status.code(), Some(127));
    assert!(
        text(&o.stderr).contains("cannot run no-such-command-here")
            && text(&o.stderr).contains("No such file"),
        "{}",
        text(&o.stderr)
    );
    let o = out(as_u(&["unshare", "/etc/passwd"]));
    assert_eq!(o.status.code(), Some(126), "{}", text(&o.stderr));
    // A map U's ranges do not cover: newuidmap refuses it.
    let o = out(as_u(&["unshare", "--map", "0:5000:1", "true"]));
    assert_eq!(o.status.code(), Some(125));
    let e = text(&o.stderr);
    assert!(
        e.contains("the map was refused (uid 0:5000:1 gid 0:5000:1)") && e.contains("newuidmap"),
        "{e}"
    );
    let o = out(as_u(&["unshare", "--context", "no-such-context", "true"]));
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("no-such-context"),
        "{}",
        text(&o.stderr)
    );
    // Not U's namespace (init's, the initial one): only its owner or root
    // may enter it.
    let o = out(as_u(&["unshare", "--context", "pid:1", "true"]));
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("pid:1"), "{}", text(&o.stderr));
    let _ = u;
}

#[test]
fn unshare_joins_a_running_namespace() {
    let t = "unshare_joins_a_running_namespace";
    if test_user(t).is_none() {
        return;
    }
    let Some(ns) = UserNs::start(t) else { return };
    let target = std::fs::read_link(format!("/proc/{}/ns/user", ns.pid)).unwrap();
    let spec = format!("pid:{}", ns.pid);
    let o = out(as_u(&[
        "unshare",
        "--context",
        &spec,
        "--",
        "sh",
        "-c",
        "readlink /proc/self/ns/user; id -u; echo $ALIENTAR_UNSHARE",
    ]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        format!("{}\n0\n{spec}\n", target.display())
    );
}

#[test]
fn unshare_as_root_writes_the_maps_itself() {
    let t = "unshare_as_root_writes_the_maps_itself";
    if !is_root() {
        return skip(t, "needs root");
    }
    // Root has no /etc/subuid range: newuidmap would refuse this map.
    let o = Command::new(bin())
        .args([
            "unshare",
            "--uid-map",
            "0:200000:65536",
            "--gid-map",
            "0:300000:10",
        ])
        .args([
            "--",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map /proc/self/gid_map",
        ])
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let got: Vec<String> = text(&o.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(got, ["0", "0 200000 65536", "0 300000 10"]);
}
