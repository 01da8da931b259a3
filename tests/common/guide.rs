//! docs/guide.md's tested blocks: each shell block preceded by `<!--
//! guide-test: NAME WHO -->`, run with `sh -e` and the alientar under
//! test first on `PATH`, as root (`WHO` = `root`) or as the test user
//! (`WHO` = `user`, dropped to with `runuser`), in a directory standing
//! for the user's home. tests/guide.rs and tests/images.rs run them.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::*;

/// The guide's tested blocks: name → (who, script).
pub fn blocks() -> HashMap<String, (String, String)> {
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md");
    let text = std::fs::read_to_string(&guide).expect("docs/guide.md");
    let mut out = HashMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let Some(tag) = l
            .trim()
            .strip_prefix("<!-- guide-test:")
            .and_then(|r| r.strip_suffix("-->"))
        else {
            continue;
        };
        let mut it = tag.split_whitespace();
        let (name, who) = (it.next().unwrap().to_owned(), it.next().unwrap().to_owned());
        assert!(who == "root" || who == "user", "{name}: who is {who}");
        let fence = lines.next().unwrap_or_default();
        assert_eq!(
            fence.trim(),
            "```sh",
            "{name}: a ```sh block must follow the tag"
        );
        let mut script = String::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            script.push_str(l);
            script.push('\n');
        }
        assert!(
            out.insert(name.clone(), (who, script)).is_none(),
            "{name} twice"
        );
    }
    out
}

/// Run a guide block as its `who`, in `dir`, with HOME = `home`; its
/// standard output. It must succeed.
pub fn run_block(name: &str, dir: &Path, home: &Path) -> String {
    run_block_env(name, dir, home, &[])
}

/// As [`run_block`], with `env` set too.
pub fn run_block_env(name: &str, dir: &Path, home: &Path, env: &[(String, String)]) -> String {
    let out = block_output(name, dir, home, env);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a guide block as [`run_block_env`] does; its whole output (the
/// block must succeed: stderr is the tools' messages).
pub fn block_output(name: &str, dir: &Path, home: &Path, env: &[(String, String)]) -> Output {
    let b = blocks();
    let (who, script) = &b[name];
    let bindir = bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bindir.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let mut cmd = if who == "user" {
        let mut c = Command::new("runuser");
        c.args(["-u", TEST_USER, "--", "env"]);
        c
    } else {
        Command::new("env")
    };
    cmd.arg(format!("HOME={}", home.display()))
        .args(env.iter().map(|(k, v)| format!("{k}={v}")))
        .arg(format!("PATH={path}"))
        .args(["sh", "-ec", script])
        .env_remove("XDG_CONFIG_HOME")
        .current_dir(dir)
        .stdin(Stdio::null());
    let out: Output = cmd.output().expect("run block");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "guide block {name} (as {who}) failed ({:?}):\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code(),
    );
    eprintln!("--- {name} (as {who}):\n{stdout}\n--- stderr:\n{stderr}");
    out
}
