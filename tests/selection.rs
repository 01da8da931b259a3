//! Selection as GNU tar does it, compared with GNU tar itself: the members
//! `create` stores with `--exclude` (and the matching options),
//! `--exclude-from`, `-T` with and without `--null`, `--exclude-vcs`,
//! `--exclude-caches*` and `--one-file-system`, on the same tree; the
//! members `list` shows and `extract` and `diff` take with the same
//! options and `--strip-components`, on the same archive.

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// Is `tar` GNU tar? Says loudly that `test` is skipped when not.
fn gnu_tar(test: &str) -> bool {
    let gnu = sh("tar --version").stdout.starts_with(b"tar (GNU tar)");
    if !gnu {
        skip(test, "GNU tar is not installed as `tar`");
    }
    gnu
}

/// The cache tag's signature line.
const CACHE_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n";

/// `root/t` with object files at several depths, a name with a `*` and one
/// with a capital, version-control files, a valid and an invalid cache tag,
/// a hard link whose other name an exclusion catches, a symlink to an
/// excluded file, and a name with a newline.
fn tree(root: &Path) -> PathBuf {
    let t = root.join("t");
    for d in [
        "a/b/c",
        "a/x",
        "b",
        ".git/objects",
        "sub/.svn",
        "sub/CVS",
        "cache/deep",
        "fake-cache",
        "other",
    ] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    let files: &[(&str, &str)] = &[
        ("a/b/c/f.o", "1"),
        ("a/b/g.c", "2"),
        ("a/x/f.o", "3"),
        ("b/f.c", "4"),
        ("b/*.o", "star"),
        ("A.O", "upper"),
        (".git/HEAD", "ref"),
        (".gitignore", "*.o\n"),
        ("sub/.svn/entries", "5"),
        ("sub/CVS/Root", "6"),
        ("sub/y", "7"),
        ("sub/.github", "not vcs"),
        ("cache/CACHEDIR.TAG", CACHE_TAG),
        ("cache/data", "8"),
        ("cache/deep/more", "9"),
        ("fake-cache/CACHEDIR.TAG", "Signature: not the one\n"),
        ("fake-cache/data", "10"),
        ("other/line\nbreak", "11"),
    ];
    for (p, c) in files {
        std::fs::write(t.join(p), c).unwrap();
    }
    std::fs::hard_link(t.join("a/x/f.o"), t.join("other/hard")).unwrap();
    std::os::unix::fs::symlink("../a/x/f.o", t.join("other/to-object")).unwrap();
    for p in walk(&t) {
        set_mtime(&p, 1_600_000_000, 0);
    }
    t
}

/// `tar -tf archive` (GNU tar lists both makers' archives alike): names,
/// a directory's trailing `/` removed, sorted.
fn listed(archive: &Path) -> Vec<String> {
    let out = sh_ok(&format!("tar -tf '{}'", s(archive)));
    sorted_names(&out)
}

fn sorted_names(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect();
    v.sort();
    v
}

/// Run GNU tar with `args`, `input` on its standard input.
fn gnu(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new("tar")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Run alientar with `args`, `input` on its standard input.
fn ours(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn succeeded(who: &str, args: &[&str], out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{who} {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One way of choosing what create stores: the options (spelled alike for
/// both tools), the paths, and what goes to standard input.
struct Case {
    opts: Vec<String>,
    paths: Vec<String>,
    stdin: Vec<u8>,
}

fn case(opts: &[&str], paths: &[&str]) -> Case {
    Case {
        opts: opts.iter().map(|o| o.to_string()).collect(),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        stdin: Vec::new(),
    }
}

/// The members GNU tar and alientar store for `c`, from `dir`.
fn both_create(c: &Case, dir: &Path, work: &Path) -> (Vec<String>, Vec<String>) {
    let (g, a) = (work.join("gnu.tar"), work.join("ours.tar"));
    // GNU tar's -C and selection options are positional: before the
    // names they apply to.
    let mut args: Vec<&str> = vec!["-cf", g.to_str().unwrap(), "-C", dir.to_str().unwrap()];
    args.extend(c.opts.iter().map(String::as_str));
    args.extend(c.paths.iter().map(String::as_str));
    let out = gnu(&args, &c.stdin);
    // (GNU tar warns about absolute names; it still succeeds.)
    succeeded("tar", &args, &out);
    let mut args: Vec<&str> = vec!["create", "--no-progress", "-f", a.to_str().unwrap()];
    args.extend(c.opts.iter().map(String::as_str));
    args.extend(["-C", dir.to_str().unwrap()]);
    args.extend(c.paths.iter().map(String::as_str));
    let out = ours(&args, &c.stdin);
    succeeded("alientar", &args, &out);
    (listed(&g), listed(&a))
}

/// The exclusions and their matching options, -X, --exclude-vcs and the
/// cache tags select the same members as with GNU tar.
#[test]
fn create_excludes_as_gnu_tar() {
    if !gnu_tar("create_excludes_as_gnu_tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let xfile = tmp.path().join("exclude.list");
    std::fs::write(&xfile, "*.c  \n\n   \nsub\n").unwrap();
    let x = s(&xfile);
    let abs_a = s(&t.join("a"));
    let abs_b = format!("{abs_a}/b");
    let cases = [
        case(&["--exclude", "*.o"], &["."]),
        case(&["--exclude", "f.o"], &["."]),
        case(&["--exclude", "b"], &["."]),
        case(&["--exclude", "a/b"], &["."]),
        case(&["--exclude", "./a/b"], &["."]),
        case(&["--anchored", "--exclude", "a/b"], &["."]),
        case(&["--anchored", "--exclude", "./a/b"], &["."]),
        case(&["--exclude", "b/"], &["."]),
        case(&["--exclude", "a/*"], &["."]),
        case(&["--exclude", "a?b"], &["."]),
        case(&["--no-wildcards-match-slash", "--exclude", "a?b"], &["."]),
        case(
            &["--no-wildcards-match-slash", "--exclude", "*/f.o"],
            &["."],
        ),
        case(
            &["--no-wildcards-match-slash", "--exclude", "./*.o"],
            &["."],
        ),
        case(&["--ignore-case", "--exclude", "*.o"], &["."]),
        case(&["--no-wildcards", "--exclude", "*.o"], &["."]),
        case(&["--exclude", "[ab]"], &["."]),
        case(&["--exclude", "*line*"], &["."]),
        case(&["--exclude", "t"], &["t"]),
        case(&["--exclude", "t/a"], &["t"]),
        case(&["--exclude", "x"], &["t/a", "t/b"]),
        case(&["--exclude", &abs_b], &[&abs_a]),
        case(&["--anchored", "--exclude", &abs_b], &[&abs_a]),
        case(&["--exclude", abs_b.trim_start_matches('/')], &[&abs_a]),
        case(&["-X", &x], &["."]),
        case(&["--exclude-from", &x, "--exclude", "*.o"], &["."]),
        case(&["--exclude-vcs"], &["."]),
        case(&["--exclude-vcs"], &["t/.git", "t/sub"]),
        case(&["--exclude-caches"], &["."]),
        case(&["--exclude-caches-under"], &["."]),
        case(&["--exclude-caches-all"], &["."]),
        case(&["--exclude-caches-all"], &["cache", "fake-cache"]),
    ];
    for c in &cases {
        // Paths under t/ or absolute are given from above the tree.
        let above = c
            .paths
            .iter()
            .all(|p| p.starts_with('t') || p.starts_with('/'));
        let dir = if above { tmp.path() } else { &t };
        let (want, got) = both_create(c, dir, tmp.path());
        assert_eq!(got, want, "{:?} {:?}", c.opts, c.paths);
    }
}

/// `-T` lists: directories walked, trailing slashes and empty lines
/// dropped, names after the PATHs, from a file or standard input, with
/// `--null` names holding newlines; as GNU tar stores them.
#[test]
fn create_files_from_as_gnu_tar() {
    if !gnu_tar("create_files_from_as_gnu_tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let list = tmp.path().join("names");
    std::fs::write(&list, "a/x\n\nb/\ncache/data\nother/hard\n").unwrap();
    let null = tmp.path().join("names0");
    std::fs::write(&null, b"other/line\nbreak\0sub/\0-dash-free\0").unwrap();
    std::fs::write(t.join("-dash-free"), "d").unwrap();
    let (l, n) = (s(&list), s(&null));
    let mut cases = vec![
        case(&["-T", &l], &[]),
        case(&["--exclude", "*.o", "--files-from", &l], &[]),
        case(&["-T", &l], &["sub"]),
        case(&["--null", "-T", &n], &[]),
        case(&["--null", "-T", &n], &["A.O"]),
    ];
    let mut from_stdin = case(&["-T", "-"], &[]);
    from_stdin.stdin = b"a/b\nsub/y\n".to_vec();
    cases.push(from_stdin);
    let mut null_stdin = case(&["--null", "-T", "-"], &[]);
    null_stdin.stdin = b"b\0other\0".to_vec();
    cases.push(null_stdin);
    for c in &cases {
        let (want, got) = both_create(c, &t, tmp.path());
        assert_eq!(got, want, "{:?} {:?}", c.opts, c.paths);
    }
    // A name starting with '-' is refused without --null (GNU tar would
    // take it for an option).
    let dashed = tmp.path().join("dashed");
    std::fs::write(&dashed, "a\n-dash-free\n").unwrap();
    let out = run([
        "create",
        "-f",
        &s(&tmp.path().join("x.tar")),
        "-C",
        &s(&t),
        "-T",
        &s(&dashed),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("--null"), "{err}");
}

/// A hard link whose other name is excluded is stored as a file, with its
/// data; a symlink to an excluded file is kept; exclusions see the names
/// before --transform.
#[test]
fn create_excludes_links_and_transform_as_gnu_tar() {
    if !gnu_tar("create_excludes_links_and_transform_as_gnu_tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let c = case(
        &["--exclude", "*.o", "--transform", "s,^\\./b,./a,"],
        &["."],
    );
    let (want, got) = both_create(&c, &t, tmp.path());
    assert_eq!(got, want);
    assert!(got.contains(&"./a/f.c".to_string()), "{got:?}");
    let c = case(&["--exclude", "*.o"], &["."]);
    both_create(&c, &t, tmp.path());
    let long = sh_ok(&format!("tar -tvf '{}'", s(&tmp.path().join("ours.tar"))));
    let hard = long.lines().find(|l| l.ends_with("./other/hard")).unwrap();
    assert!(hard.starts_with('-'), "stored as a file: {hard}");
    assert!(
        long.contains("./other/to-object -> ../a/x/f.o"),
        "the symlink is kept: {long}"
    );
    let x = tmp.path().join("x");
    std::fs::create_dir(&x).unwrap();
    sh_ok(&format!(
        "tar -xf '{}' -C '{}'",
        s(&tmp.path().join("ours.tar")),
        s(&x)
    ));
    assert_eq!(std::fs::read(x.join("other/hard")).unwrap(), b"3");
}

/// `--one-file-system`: a directory on another filesystem (a tmpfs mounted
/// in the tree) is stored, empty; given as a path, it is walked.
#[test]
fn create_one_file_system_as_gnu_tar() {
    if !gnu_tar("create_one_file_system_as_gnu_tar") {
        return;
    }
    if !is_root() {
        skip(
            "create_one_file_system_as_gnu_tar",
            "mounting a tmpfs needs root",
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let mnt = t.join("b/mnt");
    std::fs::create_dir(&mnt).unwrap();
    sh_ok(&format!("mount -t tmpfs -o size=1m tmpfs '{}'", s(&mnt)));
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = sh(&format!("umount '{}'", self.0.display()));
        }
    }
    let _guard = Unmount(mnt.clone());
    std::fs::create_dir(mnt.join("in")).unwrap();
    std::fs::write(mnt.join("in/file"), "x").unwrap();
    for (opts, paths) in [
        (vec!["--one-file-system"], vec!["."]),
        (vec!["--one-file-system"], vec!["b/mnt", "a"]),
        (vec![], vec!["b"]),
    ] {
        let (want, got) = both_create(&case(&opts, &paths), &t, tmp.path());
        assert_eq!(got, want, "{opts:?} {paths:?}");
        let inside = got.iter().any(|n| n.contains("mnt/in"));
        assert_eq!(inside, paths != ["."], "{opts:?} {paths:?}: {got:?}");
    }
}

/// The members list shows with exclusions, -T and the matching options,
/// on an archive GNU tar made, are those GNU tar lists.
#[test]
fn list_selects_as_gnu_tar() {
    if !gnu_tar("list_selects_as_gnu_tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    std::fs::remove_file(tmp.path().join("t/other/line\nbreak")).unwrap();
    let a = tmp.path().join("g.tar");
    sh_ok(&format!("tar -cf '{}' -C '{}' t", s(&a), s(tmp.path())));
    let list = tmp.path().join("names");
    std::fs::write(&list, "t/a/x\nt/sub/\n").unwrap();
    let null = tmp.path().join("names0");
    std::fs::write(&null, "t/b\0t/cache\0").unwrap();
    let (l, n) = (s(&list), s(&null));
    let cases: Vec<Vec<&str>> = vec![
        vec!["--exclude", "a"],
        vec!["--exclude", "a/*"],
        vec!["--exclude", "t/*.o"],
        vec!["--no-wildcards-match-slash", "--exclude", "t/*.o"],
        vec!["--anchored", "--exclude", "a"],
        vec!["--anchored", "--exclude", "t/a"],
        vec!["--exclude", "b/"],
        vec!["--exclude-vcs"],
        vec!["--ignore-case", "--exclude", "*.O"],
        vec!["-X", &l],
        vec!["-T", &l],
        vec!["-T", &l, "--exclude", "*.o"],
        vec!["--null", "-T", &n],
        vec!["--wildcards", "t/*.o"],
        vec!["--wildcards", "--no-wildcards-match-slash", "t/*/f.c"],
        vec!["--wildcards", "--no-anchored", "b"],
        vec!["--ignore-case", "T/A"],
        vec!["--exclude", "t/a", "t/a"],
    ];
    for opts in cases {
        let mut args = vec!["-tf", a.to_str().unwrap()];
        args.extend(&opts);
        let want = gnu(&args, b"");
        succeeded("tar", &args, &want);
        let mut args = vec!["list", "-f", a.to_str().unwrap()];
        args.extend(&opts);
        let got = ours(&args, b"");
        succeeded("alientar", &args, &got);
        assert_eq!(
            sorted_names(&String::from_utf8_lossy(&got.stdout)),
            sorted_names(&String::from_utf8_lossy(&want.stdout)),
            "{opts:?}"
        );
    }
    // A pattern nothing matches is an error, as in GNU tar.
    let out = run(["list", "-f", &s(&a), "--exclude", "b", "t/nothing"]);
    assert_eq!(out.status.code(), Some(1));
}

/// `extract --strip-components` (with exclusions, and hard links whose
/// target is stripped too) gives GNU tar's tree; `diff` with the same
/// options finds it identical; `list --show-transformed-names` shows the
/// names stripped.
#[test]
fn extract_and_diff_strip_components_as_gnu_tar() {
    if !gnu_tar("extract_and_diff_strip_components_as_gnu_tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    tree(tmp.path());
    let a = tmp.path().join("g.tar");
    sh_ok(&format!("tar -cf '{}' -C '{}' t", s(&a), s(tmp.path())));
    let mut n = 0;
    for opts in [
        vec!["--strip-components", "1"],
        vec!["--strip-components", "2"],
        vec!["--strip-components", "1", "--exclude", "b"],
        vec!["--strip-components", "1", "--exclude", "t/a/x"],
        vec![
            "--strip-components",
            "1",
            "--exclude",
            ".git",
            "--exclude",
            "*.o",
        ],
    ] {
        n += 1;
        let (g, o) = (
            tmp.path().join(format!("g{n}")),
            tmp.path().join(format!("o{n}")),
        );
        std::fs::create_dir(&g).unwrap();
        std::fs::create_dir(&o).unwrap();
        let mut args = vec!["-xf", a.to_str().unwrap(), "-C", g.to_str().unwrap()];
        args.extend(&opts);
        succeeded("tar", &args, &gnu(&args, b""));
        let mut args = vec![
            "extract",
            "-f",
            a.to_str().unwrap(),
            "-C",
            o.to_str().unwrap(),
        ];
        args.extend(&opts);
        succeeded("alientar", &args, &ours(&args, b""));
        let (mut want, mut got) = (snapshot(&g), snapshot(&o));
        // The destinations themselves are not members.
        want.remove("");
        got.remove("");
        assert_same(&want, &got);
        if opts[1] == "2" {
            // Names collide (t/cache/data and t/fake-cache/data are both
            // data): the tree holds the last of each, unlike the others.
            continue;
        }
        let mut args = vec!["diff", "-f", a.to_str().unwrap(), "-C", g.to_str().unwrap()];
        args.extend(&opts);
        let d = ours(&args, b"");
        assert!(
            d.status.success(),
            "{opts:?}: {}{}",
            String::from_utf8_lossy(&d.stdout),
            String::from_utf8_lossy(&d.stderr)
        );
    }
    // Hard links stay links with their targets stripped.
    let md = |p: &Path| std::fs::metadata(p).unwrap();
    use std::os::unix::fs::MetadataExt;
    let o1 = tmp.path().join("o1");
    assert_eq!(
        md(&o1.join("other/hard")).ino(),
        md(&o1.join("a/x/f.o")).ino()
    );
    let args = [
        "-tf",
        a.to_str().unwrap(),
        "--strip-components",
        "2",
        "--show-transformed-names",
    ];
    let want = gnu(&args, b"");
    let got = ours(
        &[
            "list",
            "-f",
            a.to_str().unwrap(),
            "--strip-components",
            "2",
            "--show-transformed-names",
        ],
        b"",
    );
    // GNU tar shows the names with nothing left as empty lines; alientar
    // leaves them out.
    let want: Vec<String> = sorted_names(&String::from_utf8_lossy(&want.stdout))
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(sorted_names(&String::from_utf8_lossy(&got.stdout)), want);
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

/// docs/guide.md's "Leaving things out" block, run as the test user as
/// written: the members and the restored tree the guide names.
#[test]
fn guide_select_block_runs_as_written() {
    if test_user("guide_select_block_runs_as_written").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o777);
    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let out = Command::new("runuser")
        .args(["-u", TEST_USER, "--", "env"])
        .arg(format!("PATH={path}"))
        .arg(format!("HOME={}", tmp.path().display()))
        .args(["sh", "-ec", &guide_block("a-select")])
        .current_dir(tmp.path())
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
    let want = "./\n./.cache/\n./.cache/thumbs/\n./.cache/thumbs/CACHEDIR.TAG\n\
                ./notes/\n./notes/plan\n./src/\n./src/main.rs\nmain.rs\n";
    assert_eq!(stdout, want);
    let sources = ok(["list", "-f", &s(&tmp.path().join("sources.tar.zst"))]);
    assert_eq!(sources, "./src/main.rs\n");
}
