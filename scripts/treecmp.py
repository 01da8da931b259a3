#!/usr/bin/env python3
"""Compare two trees: types, modes, owners, mtimes (ns), contents, symlink
targets, hard-link groups, device numbers and xattrs. Exit 0 when equal.

usage: treecmp.py A B [--owners-b-from-a PY_EXPR]   (e.g. 'lambda i: 1001 if i == 0 else 100000 + i - 1')
       --no-owners   ignore owners; --no-root  ignore the top directory's own metadata
"""
import hashlib, os, stat, sys

args = sys.argv[1:]
flags = {a for a in args if a.startswith("--no-")}
args = [a for a in args if not a.startswith("--no-")]
A, B = args[0], args[1]
fn = eval(args[3]) if len(args) > 3 and args[2] == "--owners-b-from-a" else (lambda i: i)

def walk(r):
    out = {".": os.lstat(r)}
    for d, dn, fns in os.walk(r):
        for n in dn + fns:
            p = os.path.join(d, n)
            out[os.path.relpath(p, r)] = os.lstat(p)
    return out

def digest(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

def xattrs(p):
    try:
        return sorted((n, os.getxattr(p, n, follow_symlinks=False)) for n in os.listxattr(p, follow_symlinks=False))
    except OSError:
        return []

a, b = walk(A), walk(B)
errs = []
if set(a) != set(b):
    errs.append(("path sets differ", sorted(set(a) ^ set(b))[:10]))
ia, ib = {}, {}
for p in sorted(set(a) & set(b)):
    if p == "." and "--no-root" in flags:
        continue
    x, y = a[p], b[p]
    pa, pb = os.path.join(A, p), os.path.join(B, p)
    if stat.S_IFMT(x.st_mode) != stat.S_IFMT(y.st_mode): errs.append((p, "type")); continue
    if x.st_mode != y.st_mode: errs.append((p, "mode", oct(x.st_mode), oct(y.st_mode)))
    if not stat.S_ISLNK(x.st_mode) or True:
        if x.st_mtime_ns != y.st_mtime_ns and not stat.S_ISLNK(x.st_mode) or (stat.S_ISLNK(x.st_mode) and x.st_mtime_ns != y.st_mtime_ns):
            errs.append((p, "mtime", x.st_mtime_ns, y.st_mtime_ns))
    if "--no-owners" not in flags and (fn(x.st_uid), fn(x.st_gid)) != (y.st_uid, y.st_gid):
        errs.append((p, "owner", x.st_uid, x.st_gid, y.st_uid, y.st_gid))
    if x.st_nlink != y.st_nlink and not stat.S_ISDIR(x.st_mode): errs.append((p, "nlink", x.st_nlink, y.st_nlink))
    if (stat.S_ISCHR(x.st_mode) or stat.S_ISBLK(x.st_mode)) and x.st_rdev != y.st_rdev: errs.append((p, "rdev"))
    if stat.S_ISREG(x.st_mode) and (x.st_size != y.st_size or digest(pa) != digest(pb)): errs.append((p, "content"))
    if stat.S_ISLNK(x.st_mode) and os.readlink(pa) != os.readlink(pb): errs.append((p, "target"))
    if "--no-xattrs" not in flags and xattrs(pa) != xattrs(pb): errs.append((p, "xattrs", xattrs(pa), xattrs(pb)))
    if not stat.S_ISDIR(x.st_mode):
        ia.setdefault(x.st_ino, []).append(p); ib.setdefault(y.st_ino, []).append(p)
ga = sorted(sorted(v) for v in ia.values() if len(v) > 1)
gb = sorted(sorted(v) for v in ib.values() if len(v) > 1)
if ga != gb: errs.append(("hard-link groups differ", ga, gb))
ns = sum(1 for s in a.values() if s.st_mtime_ns % 10**9)
kinds = {}
for s in a.values():
    k = stat.S_IFMT(s.st_mode); kinds[k] = kinds.get(k, 0) + 1
print(f"paths={len(a)} hard-link groups={len(ga)} nonzero-ns mtimes={ns} devices={kinds.get(stat.S_IFCHR,0)+kinds.get(stat.S_IFBLK,0)} symlinks={kinds.get(stat.S_IFLNK,0)} differences={len(errs)}")
for e in errs[:20]:
    print(" ", e)
sys.exit(1 if errs else 0)
