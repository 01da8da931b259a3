use alientar::tar::Reader;
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("ALIENTAR_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/corpus"));
    p.is_dir().then_some(p)
}

fn walk(d: &Path, out: &mut Vec<PathBuf>) {
    let mut v: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            walk(&p, out)
        } else {
            out.push(p)
        }
    }
}

#[test]
#[ignore]
fn dump() {
    let root = corpus().unwrap();
    let mut files = Vec::new();
    walk(&root, &mut files);
    for f in files {
        println!("=== {}", f.strip_prefix(&root).unwrap().display());
        let (c, r) = match alientar::input::open(&f) {
            Ok(x) => x,
            Err(e) => {
                println!("OPEN ERR {e}");
                continue;
            }
        };
        let mut rd = Reader::new(r);
        let mut n = 0;
        loop {
            match rd.next_entry() {
                Ok(None) => {
                    println!("EOF ({c:?})");
                    break;
                }
                Ok(Some(e)) => {
                    n += 1;
                    let mut h = 0u64;
                    let mut buf = vec![0u8; 65536];
                    let mut tot = 0u64;
                    let mut err = None;
                    loop {
                        match rd.read_data(&mut buf) {
                            Ok(0) => break,
                            Ok(k) => {
                                for &b in &buf[..k] {
                                    h = h.wrapping_mul(31).wrapping_add(b as u64)
                                }
                                tot += k as u64
                            }
                            Err(e) => {
                                err = Some(e);
                                break;
                            }
                        }
                    }
                    if n <= 60 {
                        println!(
                            "{:?} {:?} m{:o} {}/{} {:?}/{:?} sz{} read{} t{} link={:?} dev{},{} x={:?} {}",
                            String::from_utf8_lossy(&e.path)
                                .chars()
                                .take(120)
                                .collect::<String>(),
                            e.kind,
                            e.mode,
                            e.uid,
                            e.gid,
                            e.uname
                                .as_ref()
                                .map(|u| String::from_utf8_lossy(u).into_owned()),
                            e.gname
                                .as_ref()
                                .map(|u| String::from_utf8_lossy(u).into_owned()),
                            e.size,
                            tot,
                            e.mtime,
                            e.link.as_ref().map(|u| String::from_utf8_lossy(u)
                                .chars()
                                .take(80)
                                .collect::<String>()),
                            e.dev_major,
                            e.dev_minor,
                            e.xattrs
                                .iter()
                                .map(|(k, v)| (k.clone(), v.len()))
                                .collect::<Vec<_>>(),
                            if let Some(e) = &err {
                                format!("DATAERR {e}")
                            } else {
                                String::new()
                            }
                        );
                    }
                    if err.is_some() {
                        break;
                    }
                }
                Err(e) => {
                    println!("ERR after {n}: {e}");
                    break;
                }
            }
        }
    }
}
