//! Rootless podman as the test user, in storage of its own: a private HOME
//! (whose containers.conf and storage.conf say what this machine needs) and
//! a private `XDG_RUNTIME_DIR`, so tests run in parallel and never touch
//! the user's own storage. Used by tests/podman.rs and tests/guide.rs.
//!
//! What rootless podman 4.3 (Debian 12) needs here: the `vfs` storage
//! driver (no fuse-overlayfs, no systemd), an `XDG_RUNTIME_DIR` owned by
//! the user with mode 0700, the `runc` runtime (crun refuses the hybrid
//! cgroup v1 mount: "cannot set memory limit"), cgroupfs, events in a
//! file, and no network (slirp4netns finds no /dev/net/tun).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::*;

/// containers.conf for the tests' podman.
const CONTAINERS_CONF: &str = "\
[containers]
netns = \"none\"

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
";

/// storage.conf for the tests' podman.
const STORAGE_CONF: &str = "\
[storage]
driver = \"vfs\"
";

/// Rootless podman for the test user in a private home (see the module's
/// documentation); its containers and pause process end when dropped.
pub struct Podman {
    /// The user's private home (podman's storage is under it).
    pub home: PathBuf,
    /// Its `XDG_RUNTIME_DIR`.
    pub runtime: PathBuf,
    tmp: tempfile::TempDir,
}

impl Podman {
    /// Set up, check that `podman info` works; `None` after saying why
    /// `test` is skipped.
    pub fn new(test: &str, u: &User) -> Option<Podman> {
        for tool in ["podman", "runc"] {
            if !have(tool) {
                skip(
                    test,
                    &format!("{tool} missing (apt-get install podman runc)"),
                );
                return None;
            }
        }
        let tmp = tempfile::tempdir_in("/tmp").unwrap();
        chmod(tmp.path(), 0o755);
        let home = tmp.path().join("home");
        let runtime = tmp.path().join("run");
        for d in [&home, &runtime] {
            std::fs::create_dir(d).unwrap();
            lchown(d, u.uid, u.gid);
        }
        chmod(&runtime, 0o700);
        let conf = home.join(".config/containers");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("containers.conf"), CONTAINERS_CONF).unwrap();
        std::fs::write(conf.join("storage.conf"), STORAGE_CONF).unwrap();
        for p in [home.join(".config"), conf.clone()] {
            lchown(&p, u.uid, u.gid);
        }
        let p = Podman { home, runtime, tmp };
        let info = p.run(&["info", "--format", "{{.Store.GraphDriverName}}"]);
        if !info.status.success() {
            skip(
                test,
                &format!(
                    "rootless podman does not work for {TEST_USER}: {}",
                    String::from_utf8_lossy(&info.stderr)
                ),
            );
            return None;
        }
        Some(p)
    }

    /// A directory the test user may use, beside the home.
    pub fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    /// The environment the test user's commands run with.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), self.home.display().to_string()),
            ("XDG_RUNTIME_DIR".into(), self.runtime.display().to_string()),
        ]
    }

    /// `program args` as the test user with [`Podman::env`], from the home.
    pub fn user_cmd(&self, program: &Path, args: &[&str]) -> Output {
        let mut c = Command::new("runuser");
        c.args([
            "-u",
            TEST_USER,
            "--",
            "env",
            "-u",
            "XDG_CONFIG_HOME",
            "-u",
            "XDG_DATA_HOME",
        ]);
        for (k, v) in self.env() {
            c.arg(format!("{k}={v}"));
        }
        c.arg(program)
            .args(args)
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .output()
            .expect("run as the test user")
    }

    /// `podman args` as the test user.
    pub fn run(&self, args: &[&str]) -> Output {
        self.user_cmd(Path::new("podman"), args)
    }

    /// `podman args`, asserting success; returns stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "podman {args:?} as {TEST_USER} failed ({:?}):\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Import `tarball` (readable by the test user) as `name`; returns the
    /// folder podman stored its one layer in (`vfs/dir/ID`).
    pub fn import(&self, tarball: &Path, name: &str) -> PathBuf {
        let dirs = self.home.join(".local/share/containers/storage/vfs/dir");
        let before: Vec<PathBuf> = std::fs::read_dir(&dirs)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        self.ok(&["import", tarball.to_str().unwrap(), name]);
        let mut new: Vec<PathBuf> = std::fs::read_dir(&dirs)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| !before.contains(p))
            .collect();
        assert_eq!(new.len(), 1, "podman import made one layer: {new:?}");
        new.pop().unwrap()
    }

    /// The PID of the pause process holding the user's namespace.
    pub fn pause_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.runtime.join("libpod/tmp/pause.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The Debian rootfs fixture archived by root with its owners as they
    /// are, labelled `rootless`, in the scratch directory: its path (or
    /// `None` after saying why `test` is skipped).
    pub fn rootfs_archive(&self, test: &str) -> Option<PathBuf> {
        let Some(fx) = std::env::var_os("ALIENTAR_TEST_ROOTFS") else {
            skip(test, "ALIENTAR_TEST_ROOTFS is not set (.ci/run sets it)");
            return None;
        };
        let rootfs = Path::new(&fx).join("rootfs");
        if !rootfs.is_dir() {
            skip(test, &format!("{} missing", rootfs.display()));
            return None;
        }
        let a = self.scratch().join("rootfs.tar");
        let (a_s, r_s) = (a.to_str().unwrap(), rootfs.to_str().unwrap());
        ok([
            "create",
            "-f",
            a_s,
            "--context",
            "rootless",
            "--map",
            "host",
            "-C",
            r_s,
            ".",
        ]);
        chmod(&a, 0o644);
        Some(a)
    }

    /// The Debian rootfs fixture restored by the test user with
    /// `--owners xattr` into `tree` in the home (owners in override
    /// xattrs): its path (or `None` after saying why `test` is skipped).
    pub fn rootfs_xattr_tree(&self, test: &str, u: &User) -> Option<PathBuf> {
        let a = self.rootfs_archive(test)?;
        let tree = self.home.join("tree");
        std::fs::create_dir(&tree).unwrap();
        lchown(&tree, u.uid, u.gid);
        let (a_s, tree_s) = (a.to_str().unwrap(), tree.to_str().unwrap());
        let out = self.user_cmd(
            &bin(),
            &["extract", "--owners", "xattr", "-f", a_s, "-C", tree_s],
        );
        assert!(
            out.status.success(),
            "extract --owners xattr as {TEST_USER}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(tree)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "--all", "--force", "--time", "0"]);
        // The pause process this storage's podman started (by its PID), and
        // any other one started with this home: a tool run without the
        // private XDG_RUNTIME_DIR (skopeo, podman through a shell) falls back
        // to /tmp/podman-run-UID, and its pause process would outlive the
        // test holding copies of every mount made meanwhile.
        // SIGKILL: a pause process has nothing to clean up. Looked for
        // again a moment later: one forked by the last podman may not have
        // become catatonit yet.
        let mut pids: Vec<u32> = self.pause_pid().into_iter().collect();
        for _ in 0..3 {
            pids.extend(pause_processes_with_home(&self.home));
            for pid in pids.drain(..) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// PIDs of `catatonit` processes whose environment has `HOME=home`.
fn pause_processes_with_home(home: &Path) -> Vec<u32> {
    let want = format!("HOME={}", home.display()).into_bytes();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            comm.trim() == "catatonit" && env.split(|&b| b == 0).any(|v| v == want.as_slice())
        })
        .collect()
}
