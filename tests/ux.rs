//! What a user of GNU tar, bsdtar and podman expects of the command line:
//! help naming every command, `--version`, completions and a man page,
//! progress on a terminal and silence elsewhere, quiet `| head`, errors
//! that name their path, `extract -v`, and `diff`.

mod common;

use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

const COMMANDS: &[&str] = &[
    "create",
    "list",
    "extract",
    "check",
    "remap",
    "diff",
    "contexts",
    "unshare",
    "completions",
    "man",
];

#[test]
fn help_names_every_command_and_the_exit_codes() {
    let long = ok(["--help"]);
    for c in COMMANDS {
        assert!(
            long.lines().any(|l| l.trim_start().starts_with(c)),
            "--help does not name {c}:\n{long}"
        );
    }
    assert!(long.contains("Exit status"), "{long}");
    for code in ["0  success", "1  some entries failed", "2  fatal"] {
        assert!(long.contains(code), "--help lacks '{code}':\n{long}");
    }
    let short = ok(["-h"]);
    for c in COMMANDS {
        assert!(short.contains(c), "-h does not name {c}");
    }
    for c in COMMANDS {
        let h = ok([c, "--help"]);
        assert!(h.contains("Usage: alientar"), "{c} --help: {h}");
    }
}

#[test]
fn version() {
    let v = ok(["--version"]);
    assert_eq!(v.trim(), format!("alientar {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_for_bash_zsh_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(["completions", shell]);
        assert!(out.len() > 1000, "{shell}: only {} bytes", out.len());
        for word in [
            "extract",
            "diff",
            "contexts",
            "map",
            "owners",
            "from-manifest",
        ] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bad = run(["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
    if have("bash") {
        // The bash script loads and registers the completion.
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("alientar.bash");
        std::fs::write(&f, ok(["completions", "bash"])).unwrap();
        let out = sh_ok(&format!("bash -c '. {} && complete -p alientar'", s(&f)));
        assert!(out.contains("alientar"), "{out}");
    }
}

#[test]
fn man_pages_generate() {
    let main = ok(["man"]);
    assert!(
        main.starts_with(".ie") || main.contains(".TH alientar 1"),
        "{main}"
    );
    assert!(main.contains(".TH alientar 1"));
    for c in ["create", "extract", "diff", "remap", "check"] {
        assert!(
            main.contains(&format!("alientar\\-{c}(1)")),
            "no {c} in:\n{main}"
        );
    }
    for section in ["EXIT STATUS", "FILES", "SEE ALSO", "SUBCOMMANDS"] {
        assert!(main.contains(section), "no {section}");
    }
    assert!(main.contains("contexts.toml"));
    let create = ok(["man", "create"]);
    assert!(create.contains(".TH alientar-create 1"), "{create}");
    assert!(create.contains("\\-\\-from\\-manifest"), "{create}");
    let bad = run(["man", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("create, list"));
    let tmp = tempfile::tempdir().unwrap();
    ok(["man", "--dir", &s(tmp.path())]);
    for c in COMMANDS {
        let p = tmp.path().join(format!("alientar-{c}.1"));
        assert!(p.exists(), "{} missing", p.display());
    }
    assert!(tmp.path().join("alientar.1").exists());
    if have("man") {
        let text = sh_ok(&format!(
            "MANWIDTH=100 man -l {}/alientar.1 2>/dev/null",
            s(tmp.path())
        ));
        assert!(text.contains("EXIT STATUS"), "{text}");
    }
}

/// The commands run with stderr redirected to a file, as in a script.
#[test]
fn success_leaves_stderr_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let t = make_tree(tmp.path());
    let d = s(tmp.path());
    let x = tmp.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let owners = if is_root() { "chown" } else { "none" };
    let bin = bin();
    for cmd in [
        format!("{} create -f {d}/a.tar.zst -C {d} t", bin.display()),
        format!(
            "{} extract -f {d}/a.tar.zst -C {d}/x --owners {owners}",
            bin.display()
        ),
        format!("{} list -v -f {d}/a.tar.zst >/dev/null", bin.display()),
        format!("{} check -f {d}/a.tar.zst >/dev/null", bin.display()),
        format!(
            "{} remap -f {d}/a.tar.zst -o {d}/b.tar --map host",
            bin.display()
        ),
    ] {
        sh_ok(&format!("{cmd} 2>{d}/err"));
        let err = std::fs::read_to_string(tmp.path().join("err")).unwrap();
        assert_eq!(err, "", "`{cmd}` wrote to stderr");
    }
    let _ = t;
}

/// A create of ~600 MiB under a pseudo-terminal shows a bar with bytes,
/// total, rate and ETA; the same create with stderr not a terminal shows
/// nothing.
#[test]
fn progress_bar_on_a_terminal_only() {
    if !have("script") {
        return skip(
            "progress_bar_on_a_terminal_only",
            "`script` (util-linux) missing: no pseudo-terminal",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = s(tmp.path());
    std::fs::create_dir(tmp.path().join("big")).unwrap();
    sh_ok(&format!("truncate -s 600M {d}/big/zero"));
    let cmd = format!("{} create -f {d}/big.tar.zst -C {d} big", bin().display());
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    assert!(out.status.success(), "{out:?}");
    let tty = String::from_utf8_lossy(&out.stdout);
    for want in ["creating", "/600.00 MiB", "iB/s", "ETA", "/2 entries"] {
        assert!(
            tty.contains(want),
            "no '{want}' in the terminal output: {tty:?}"
        );
    }
    assert!(tty.contains('\r'), "the bar is redrawn in place");
    // Not a terminal: nothing.
    let plain = run([
        "create",
        "-f",
        &format!("{d}/big2.tar.zst"),
        "-C",
        &d,
        "big",
    ]);
    assert!(plain.status.success());
    assert_eq!(String::from_utf8_lossy(&plain.stderr), "");
    // --no-progress on a terminal: nothing either.
    let cmd = format!(
        "{} create --no-progress -f {d}/big3.tar.zst -C {d} big",
        bin().display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // Extract shows the archive's read position against its size.
    std::fs::create_dir(tmp.path().join("x")).unwrap();
    let owners = if is_root() { "chown" } else { "none" };
    let cmd = format!(
        "{} extract -f {d}/big.tar.zst -C {d}/x --owners {owners}",
        bin().display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    assert!(out.status.success(), "{out:?}");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("extracting"), "{tty:?}");
}

/// `list -v ... | head -1` on an archive far larger than a pipe's buffer:
/// one line, no error, the status 141 of a death by SIGPIPE, as for
/// `tar -tvf ... | head -1`.
#[test]
fn list_into_head_is_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("many");
    for i in 0..40 {
        let dir = t.join(format!("dir-{i:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for j in 0..100 {
            std::fs::write(dir.join(format!("file-with-a-longish-name-{j:04}")), b"x").unwrap();
        }
    }
    let d = s(tmp.path());
    for a in ["a.tar.zst", "a.tar"] {
        ok(["create", "-f", &format!("{d}/{a}"), "-C", &d, "many"]);
        for args in ["list -v", "list", "list --json"] {
            let out = Command::new("bash")
                .arg("-c")
                .arg(format!(
                    "{} {args} -f {d}/{a} | head -1; exit ${{PIPESTATUS[0]}}",
                    bin().display()
                ))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(err, "", "{args} {a} | head -1");
            assert_eq!(out.status.code(), Some(141), "{args} {a}: {err}");
            assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
        }
    }
    if have("tar") {
        let gnu = sh(&format!(
            "bash -c 'tar -tvf {d}/a.tar | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}'"
        ));
        assert_eq!(gnu.status.code(), Some(141), "GNU tar, for comparison");
    }
}

#[test]
fn missing_archive_error_names_its_path() {
    let p = "/nonexistent-dir/missing-archive.tar.zst";
    for args in [
        vec!["list", "-f", p],
        vec!["extract", "-f", p],
        vec!["diff", "-f", p],
        vec!["check", "-f", p],
        vec!["remap", "-f", p, "-o", "/tmp/unused.tar", "--map", "host"],
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(p), "{args:?}: no path in {err}");
        assert!(
            err.contains("cannot open archive"),
            "{args:?}: no operation in {err}"
        );
        assert!(
            err.contains("No such file or directory"),
            "{args:?}: no cause in {err}"
        );
        assert!(!err.contains("os error"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn extract_verbose_names_each_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = s(tmp.path());
    let t = tmp.path().join("t");
    std::fs::create_dir_all(t.join("etc")).unwrap();
    std::fs::write(t.join("etc/hosts"), "h\n").unwrap();
    std::fs::write(t.join("etc/passwd"), "p\n").unwrap();
    std::os::unix::fs::symlink("etc/hosts", t.join("link")).unwrap();
    ok(["create", "-f", &format!("{d}/a.tar"), "-C", &d, "t"]);
    std::fs::create_dir(tmp.path().join("x")).unwrap();
    let out = ok([
        "extract",
        "-v",
        "-f",
        &format!("{d}/a.tar"),
        "-C",
        &format!("{d}/x"),
        "--owners",
        "none",
    ]);
    let names: Vec<&str> = out.lines().collect();
    assert_eq!(
        names,
        ["t", "t/etc", "t/etc/hosts", "t/etc/passwd", "t/link"]
    );
    let out = ok(["create", "-v", "-f", &format!("{d}/b.tar"), "-C", &d, "t"]);
    assert_eq!(out.lines().count(), 5, "{out}");
}

/// `diff` is quiet and 0 on an identical tree; after a change it names the
/// file, says what differs, and exits 1.
#[test]
fn diff_reports_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = s(tmp.path());
    let t = make_tree(tmp.path());
    let a = format!("{d}/a.tar.zst");
    ok(["create", "-f", &a, "-C", &d, "t"]);
    let same = run(["diff", "-f", &a, "-C", &d]);
    assert_eq!(
        (
            same.status.code(),
            String::from_utf8_lossy(&same.stdout).as_ref(),
            String::from_utf8_lossy(&same.stderr).as_ref()
        ),
        (Some(0), "", ""),
        "identical tree"
    );
    let diff = |what: &str| -> String {
        let out = run(["diff", "-f", &a, "-C", &d]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{what}: {text}");
        text
    };
    // Same size, one byte changed, mtime put back: only the content differs.
    let shadow = t.join("etc/shadow");
    let md = std::fs::symlink_metadata(&shadow).unwrap();
    let mut bytes = std::fs::read(&shadow).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&shadow, &bytes).unwrap();
    set_mtime(&shadow, md.mtime(), md.mtime_nsec());
    assert_eq!(diff("content"), "t/etc/shadow: Contents differ\n");
    bytes[0] ^= 1;
    std::fs::write(&shadow, &bytes).unwrap();
    set_mtime(&shadow, md.mtime(), md.mtime_nsec());
    assert!(run(["diff", "-f", &a, "-C", &d]).status.success());
    // chmod.
    chmod(&shadow, 0o644);
    assert_eq!(
        diff("chmod"),
        "t/etc/shadow: Mode differs (archive 0640, disk 0644)\n"
    );
    chmod(&shadow, 0o640);
    // An xattr changed, and one added.
    let empty = t.join("etc/empty");
    xattr::set(&empty, "user.note", b"changed").unwrap();
    xattr::set(&empty, "user.extra", b"1").unwrap();
    assert_eq!(
        diff("xattr"),
        "t/etc/empty: Xattr user.note differs\nt/etc/empty: Xattr user.extra not in archive\n"
    );
    xattr::set(&empty, "user.note", b"hello\0bytes").unwrap();
    xattr::remove(&empty, "user.extra").unwrap();
    // A different context label on disk is reported; none is not.
    xattr::set(&empty, "user.alientar.context", b"elsewhere").unwrap();
    assert_eq!(
        diff("label"),
        "t/etc/empty: Context label differs (archive none, disk elsewhere)\n"
    );
    xattr::remove(&empty, "user.alientar.context").unwrap();
    // Only the named members are compared.
    assert!(run(["diff", "-f", &a, "-C", &d, "t/usr"]).status.success());
    // Directory mtimes change below; put them back afterwards.
    let dir_times: Vec<_> = ["t", "t/etc"]
        .iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(tmp.path().join(p)).unwrap();
            (tmp.path().join(p), m.mtime(), m.mtime_nsec())
        })
        .collect();
    let put_back = || {
        for (p, sec, nsec) in &dir_times {
            set_mtime(p, *sec, *nsec);
        }
    };
    // A file the archive lacks, and one it has but the disk lacks.
    std::fs::write(t.join("etc/new"), "n").unwrap();
    std::fs::rename(t.join("etc/empty"), tmp.path().join("empty")).unwrap();
    let out = diff("added and removed");
    assert!(out.contains("t/etc/empty: Missing on disk\n"), "{out}");
    assert!(out.contains("t/etc/new: Not in archive\n"), "{out}");
    std::fs::remove_file(t.join("etc/new")).unwrap();
    std::fs::rename(tmp.path().join("empty"), t.join("etc/empty")).unwrap();
    // A symlink in place of a directory is not followed.
    let usr = tmp.path().join("usr-real");
    std::fs::rename(t.join("usr"), &usr).unwrap();
    std::os::unix::fs::symlink(&usr, t.join("usr")).unwrap();
    let out = diff("symlinked directory");
    assert!(
        out.contains("t/usr: File type differs (archive dir, disk symlink)"),
        "{out}"
    );
    assert!(
        out.contains(
            "t/usr/bin/su: Missing on disk (t/usr is a symlink, not a directory; not followed)"
        ),
        "{out}"
    );
    std::fs::remove_file(t.join("usr")).unwrap();
    std::fs::rename(&usr, t.join("usr")).unwrap();
    put_back();
    assert!(
        run(["diff", "-f", &a, "-C", &d]).status.success(),
        "restored"
    );
    if !is_root() {
        return skip("diff_reports_changes (chown)", "not root");
    }
    lchown(&shadow, 1001, 42);
    assert_eq!(
        diff("chown"),
        "t/etc/shadow: Uid differs (archive 0, disk 1001)\n"
    );
    lchown(&shadow, 0, 42);
    // Owners are compared in the host view: through the map extract uses.
    let x = tmp.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let map = "0:2001:1,1:300000:65536,3000000:3000000:1000001";
    ok(["extract", "-f", &a, "-C", &s(&x), "--map", map]);
    let out = run(["diff", "-f", &a, "-C", &s(&x), "--map", map]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(["diff", "-f", &a, "-C", &s(&x)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("t/etc/shadow: Uid differs (archive 0, disk 2001)"),
        "{text}"
    );
    assert!(
        text.contains("t/etc/shadow: Gid differs (archive 42, disk 300041)"),
        "{text}"
    );
}

/// A 0-byte input is not an archive (GNU tar: "This does not look like a
/// tar archive", exit 2), for every command that reads one, from a file or
/// from standard input; a lone end-of-archive marker is a valid empty
/// archive.
#[test]
fn an_empty_input_is_not_an_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let d = s(tmp.path());
    let e = format!("{d}/e.tar");
    std::fs::write(&e, b"").unwrap();
    std::fs::create_dir(tmp.path().join("x")).unwrap();
    let x = format!("{d}/x");
    let out_tar = format!("{d}/o.tar");
    for args in [
        vec!["list", "-f", &e],
        vec!["list", "-v", "-f", &e],
        vec!["extract", "-f", &e, "-C", &x],
        vec!["check", "-f", &e],
        vec!["diff", "-f", &e, "-C", &x],
        vec!["remap", "-f", &e, "-o", &out_tar, "--map", "host"],
    ] {
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err,
            format!("alientar: {e}: this does not look like a tar archive (it is empty)\n"),
            "{args:?}"
        );
    }
    assert!(!tmp.path().join("o.tar").exists(), "remap wrote no output");
    let out = Command::new(bin())
        .args(["list", "-f", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "alientar: standard input: this does not look like a tar archive (it is empty)\n"
    );
    // One or two zero blocks: an archive with no members, as for GNU tar.
    for n in [512, 1024, 10240] {
        std::fs::write(&e, vec![0u8; n]).unwrap();
        let out = run(["list", "-f", &e]);
        assert_eq!(out.status.code(), Some(0), "{n} zero bytes");
        assert_eq!(out.stdout, b"", "{n} zero bytes");
        if have("tar") {
            assert!(sh(&format!("tar -tf {e} 2>/dev/null")).status.success());
        }
    }
    // Fewer zero bytes than a block: not an archive either.
    std::fs::write(&e, vec![0u8; 100]).unwrap();
    assert_eq!(run(["list", "-f", &e]).status.code(), Some(2));
}

/// Files the archive lacks are found directory by directory as the archive
/// leaves each one, not from a list of every member: an archive that
/// comes back to a directory (appended with `tar -r`) and one whose members
/// come before their directory's entry report exactly what no member
/// names, in archive order of the directories, sorted within each.
#[test]
fn diff_finds_files_not_in_archive_in_any_member_order() {
    if !have("tar") {
        return skip(
            "diff_finds_files_not_in_archive_in_any_member_order",
            "no GNU tar",
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = s(tmp.path());
    for f in ["d/a", "d/b", "d/c", "d/z", "e/x", "e/y", "top"] {
        let p = tmp.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, f).unwrap();
    }
    let a = format!("{d}/t.tar");
    let tar = |op: &str, names: &[&str]| {
        let st = Command::new("tar")
            .args([op, &a, "-C", &d, "--no-recursion"])
            .args(names)
            .status()
            .unwrap();
        assert!(st.success());
    };
    tar("-cf", &["d/a", "d", "e", "e/x"]);
    tar("-rf", &["d/b"]);
    let out = run(["diff", "-f", &a, "-C", &d]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "d/c: Not in archive\nd/z: Not in archive\ne/y: Not in archive\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// Run alientar with standard output a pipe nobody reads (its read end
/// closed before the start, as when `| head` has exited).
fn run_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(bin())
        .args(args)
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// `alientar completions bash | head` panicked in about half the runs. A
/// closed standard output ends every command quietly, killed by SIGPIPE
/// as GNU tar is (the shell's status 141), wherever it writes there.
#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = s(tmp.path());
    make_tree(tmp.path());
    let a = format!("{d}/a.tar");
    ok(["create", "-f", &a, "-C", &d, "t"]);
    std::fs::create_dir(tmp.path().join("x")).unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let x = format!("{d}/x");
    let c = format!("{d}/c.tar");
    let cases: Vec<Vec<&str>> = vec![
        vec!["completions", "bash"],
        vec!["completions", "zsh"],
        vec!["completions", "fish"],
        vec!["man"],
        vec!["man", "create"],
        vec!["contexts"],
        vec!["contexts", "host"],
        vec!["list", "-f", &a],
        vec!["list", "-v", "-f", &a],
        vec!["list", "--json", "-f", &a],
        vec!["check", "-f", &a],
        vec!["diff", "-f", &a, "-C", &x],
        vec!["create", "-v", "-f", &c, "-C", &d, "t"],
        vec!["create", "-f", "-", "-C", &d, "t"],
        vec!["extract", "-v", "-f", &a, "-C", &x, "--owners", "none"],
        vec!["remap", "-f", &a, "-o", "-", "--map", "host"],
    ];
    for args in &cases {
        for _ in 0..3 {
            let out = run_into_closed_pipe(args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert_eq!(err, "", "{args:?}");
            assert_eq!(
                out.status.signal(),
                Some(libc::SIGPIPE),
                "{args:?}: {:?}",
                out.status
            );
        }
    }
    // clap prints --help itself, and swallows the error.
    let out = run_into_closed_pipe(&["--help"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(out.status.code() == Some(0) || out.status.signal() == Some(libc::SIGPIPE));
}

/// A tree whose names hold a newline, a tab, a backslash, a byte that is
/// not UTF-8 and a printable UTF-8 letter; a symlink and a hard link whose
/// targets hold some of them. Archived as `t`.
fn awkward_names(root: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let t = root.join("t");
    std::fs::create_dir(&t).unwrap();
    let p = |b: &[u8]| t.join(std::ffi::OsStr::from_bytes(b));
    for n in [
        &b"a\nb"[..],
        b"\xff",
        b"tab\there",
        b"back\\slash",
        "é".as_bytes(),
    ] {
        std::fs::write(p(n), b"x").unwrap();
    }
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(b"tgt\nx\xff"), p(b"sym")).unwrap();
    std::fs::hard_link(p(b"a\nb"), p(b"hard\x01")).unwrap();
    let a = format!("{}/names.tar", s(root));
    ok(["create", "-f", &a, "-C", &s(root), "t"]);
    a
}

/// Names are shown as GNU tar shows them in a UTF-8 locale (its default
/// quoting style "escape"): `\n`, `\t`, `\\`, octal for other bytes that
/// are not printable, printable UTF-8 as it is; one line per member.
#[test]
fn names_are_escaped_as_gnu_tar_escapes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let a = awkward_names(tmp.path());
    let names = run(["list", "-f", &a]).stdout;
    let mut want: Vec<&[u8]> = vec![
        b"t/",
        b"t/a\\nb",
        b"t/\\377",
        b"t/tab\\there",
        b"t/back\\\\slash",
        "t/é".as_bytes(),
        b"t/sym",
        b"t/hard\\001",
    ];
    let mut got: Vec<&[u8]> = names
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&names));
    if have("tar") {
        let gnu = sh(&format!("LC_ALL=C.UTF-8 tar -tf {a}"));
        assert!(gnu.status.success());
        assert_eq!(
            String::from_utf8_lossy(&names),
            String::from_utf8_lossy(&gnu.stdout),
            "list and GNU tar -t, byte for byte"
        );
        assert_eq!(names, gnu.stdout);
    }
    let long = ok(["list", "-v", "-f", &a]);
    assert_eq!(long.lines().count(), 8, "{long}");
    assert!(long.contains(" t/sym -> tgt\\nx\\377\n"), "{long}");
    assert!(
        long.contains(" t/hard\\001 link to t/a\\nb\n")
            || long.contains(" t/a\\nb link to t/hard\\001\n"),
        "{long}"
    );
    assert!(!long.contains('\u{fffd}'), "{long}");
    // create -v and extract -v print the same names.
    let d = s(tmp.path());
    let created = run(["create", "-v", "-f", &format!("{d}/b.tar"), "-C", &d, "t"]).stdout;
    let mut c: Vec<&[u8]> = created
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    c.sort();
    let strip = |v: &[&[u8]]| -> Vec<Vec<u8>> {
        v.iter()
            .map(|l| l.strip_suffix(b"/").unwrap_or(l).to_vec())
            .collect()
    };
    assert_eq!(strip(&c), strip(&want), "create -v");
    std::fs::create_dir(tmp.path().join("x")).unwrap();
    let extracted = run([
        "extract",
        "-v",
        "-f",
        &a,
        "-C",
        &format!("{d}/x"),
        "--owners",
        "none",
    ])
    .stdout;
    let mut x: Vec<&[u8]> = extracted
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    x.sort();
    assert_eq!(strip(&x), strip(&want), "extract -v");
}

/// `--json` keeps every name's bytes: `path` (and `link`) as text, and,
/// only when a name is not valid UTF-8, `path_base64` (`link_base64`)
/// with its exact bytes.
#[test]
fn json_keeps_the_bytes_of_names() {
    let tmp = tempfile::tempdir().unwrap();
    let a = awkward_names(tmp.path());
    let out = ok(["list", "--json", "-f", &a]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 8, "{out}");
    let row = |p: &str| {
        rows.iter()
            .find(|r| r["path"] == p)
            .unwrap_or_else(|| panic!("{p}: {out}"))
    };
    assert_eq!(row("t/a\nb")["path_base64"], serde_json::Value::Null);
    assert_eq!(row("t/é")["path_base64"], serde_json::Value::Null);
    assert_eq!(row("t/\u{fffd}")["path_base64"], "dC//");
    let sym = row("t/sym");
    assert_eq!(sym["link"], "tgt\nx\u{fffd}");
    assert_eq!(sym["link_base64"], "dGd0Cnj/");
    if have("base64") {
        let bytes = sh(&format!(
            "echo {} | base64 -d",
            sym["link_base64"].as_str().unwrap()
        ))
        .stdout;
        assert_eq!(bytes, b"tgt\nx\xff");
    }
}

/// A failed write reads as a sentence: operation, path, cause.
#[test]
fn errors_name_operation_path_and_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let d = s(tmp.path());
    std::fs::create_dir_all(tmp.path().join("t/d")).unwrap();
    let a = format!("{d}/a.tar");
    ok(["create", "-f", &a, "-C", &format!("{d}/t"), "d"]);
    // --map @FILE names the map file.
    let out = run(["list", "-f", &a, "--map", "@/nonexistent/uid_map"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "alientar: cannot read the map file /nonexistent/uid_map: No such file or directory\n"
    );
    // man --dir creates its directory.
    let man = tmp.path().join("share/man/man1");
    ok(["man", "--dir", &s(&man)]);
    assert!(man.join("alientar-extract.1").is_file());
    // Directory metadata that cannot be set (an immutable directory).
    if !is_root() {
        return skip("errors_name_operation_path_and_cause (chattr)", "not root");
    }
    let x = tmp.path().join("x/d");
    std::fs::create_dir_all(&x).unwrap();
    if !sh(&format!("chattr +i {}", s(&x))).status.success() {
        return skip(
            "errors_name_operation_path_and_cause (chattr)",
            "chattr +i unsupported here",
        );
    }
    let out = run(["extract", "-f", &a, "-C", &format!("{d}/x")]);
    sh(&format!("chattr -i {}", s(&x)));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "alientar: cannot set the metadata of directory d: Operation not permitted\n"
    );
}

/// `diff` names a differing member as `list` does: escaped, one line each.
#[test]
fn diff_escapes_names() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let a = awkward_names(tmp.path());
    let t = tmp.path().join("t");
    std::fs::write(t.join(std::ffi::OsStr::from_bytes(b"\xff")), b"changed").unwrap();
    let out = run(["diff", "-f", &a, "-C", &s(tmp.path())]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.lines().any(|l| l.starts_with("t/\\377: ")), "{text}");
    assert!(!text.contains('\u{fffd}'), "{text}");
}
