#!/bin/bash
# make-rootfs.sh OUT [UID] [SUBUID_START]
#
# Builds test fixtures for alientar:
#   OUT/rootfs          Debian bookworm minbase tree (mmdebstrap --mode=root), real ownership
#   OUT/rootfs-shifted  cp -a copy of rootfs with ownership shifted the way rootless
#                       podman stores it for a user with uid/gid U and subuid/subgid start S:
#                         id 0 -> U,  id N (N>=1) -> S+N-1
#
# Must run as root. If OUT/rootfs already exists the mmdebstrap step is skipped;
# OUT/rootfs-shifted is always rebuilt from OUT/rootfs.
set -euo pipefail

usage() { echo "usage: $0 OUT [UID=1001] [SUBUID_START=100000] [GID=UID] [SUBGID_START=SUBUID_START]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 5 ] || usage

OUT=$1
SHIFT_UID=${2:-1001}
SHIFT_START=${3:-100000}
SHIFT_GID=${4:-$SHIFT_UID}
SHIFT_GSTART=${5:-$SHIFT_START}
MIRROR=http://deb.debian.org/debian
SUITE=bookworm

if [ "$(id -u)" -ne 0 ]; then
    echo "error: must run as root (mmdebstrap --mode=root, mknod, chown)" >&2
    exit 1
fi
if ! command -v python3 >/dev/null; then
    echo "error: python3 is required" >&2
    exit 1
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOTFS=$OUT/rootfs
SHIFTED=$OUT/rootfs-shifted

# ---------------------------------------------------------------- rootfs
if [ -e "$ROOTFS" ]; then
    echo "== $ROOTFS exists, skipping mmdebstrap"
else
    if ! command -v mmdebstrap >/dev/null; then
        echo "error: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2
        exit 1
    fi
    # build into a temporary dir and rename on success, so an interrupted run
    # doesn't leave a half-built rootfs that a later run would skip.
    rm -rf "$ROOTFS.tmp"
    echo "== mmdebstrap --variant=minbase --mode=root $SUITE $ROOTFS"
    start=$(date +%s)
    mmdebstrap --variant=minbase --mode=root "$SUITE" "$ROOTFS.tmp" "$MIRROR"
    echo "== mmdebstrap took $(( $(date +%s) - start ))s"
    mv "$ROOTFS.tmp" "$ROOTFS"
fi

# Standard device nodes (mmdebstrap normally creates these; add any missing).
# Restore the /dev mtime (with nanoseconds) afterwards if we had to touch it.
mkdir -p "$ROOTFS/dev"
devref=$(mktemp)
touch -r "$ROOTFS/dev" "$devref"
changed=0
while read -r name maj min; do
    p=$ROOTFS/dev/$name
    if [ ! -c "$p" ]; then
        echo "== creating missing device node dev/$name ($maj,$min)"
        rm -f "$p"
        mknod -m 0666 "$p" c "$maj" "$min"
        chown 0:0 "$p"
        changed=1
    fi
done <<'EOF'
null 1 3
zero 1 5
full 1 7
random 1 8
urandom 1 9
tty 5 0
console 5 1
ptmx 5 2
EOF
if [ "$changed" = 1 ]; then touch -r "$devref" "$ROOTFS/dev"; fi
rm -f "$devref"

# ---------------------------------------------------------------- rootfs-shifted
echo "== copying $ROOTFS -> $SHIFTED"
rm -rf "$SHIFTED" "$SHIFTED.tmp"
cp -a "$ROOTFS" "$SHIFTED.tmp"

echo "== shifting ownership: uid 0 -> $SHIFT_UID, N -> $SHIFT_START+N-1; gid 0 -> $SHIFT_GID, N -> $SHIFT_GSTART+N-1"
python3 - "$SHIFTED.tmp" "$SHIFT_UID" "$SHIFT_START" "$SHIFT_GID" "$SHIFT_GSTART" <<'PY'
import os, stat, sys

root, U, S, G, GS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
CAP = "security.capability"

def shift(i):
    return U if i == 0 else S + i - 1

def gshift(i):
    return G if i == 0 else GS + i - 1

# Collect everything first (top-down), then apply bottom-up so that directory
# mtimes are restored after their children have been processed.
paths = [root]
for dirpath, dirnames, filenames in os.walk(root):
    for n in dirnames + filenames:
        paths.append(os.path.join(dirpath, n))

n = 0
seen = set()  # hard-linked inodes must be shifted only once
for p in reversed(paths):
    st = os.lstat(p)
    if (st.st_dev, st.st_ino) in seen:
        continue
    seen.add((st.st_dev, st.st_ino))
    is_link = stat.S_ISLNK(st.st_mode)
    # chown drops security.capability; save and restore it
    cap = None
    if not is_link:
        try:
            cap = os.getxattr(p, CAP, follow_symlinks=False)
        except OSError:
            cap = None
    os.lchown(p, shift(st.st_uid), gshift(st.st_gid))
    if not is_link:
        # chown clears setuid/setgid on regular files
        os.chmod(p, stat.S_IMODE(st.st_mode))
        if cap is not None:
            os.setxattr(p, CAP, cap, follow_symlinks=False)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    n += 1
print(f"shifted {n} inodes ({len(paths)} paths)")
PY
mv "$SHIFTED.tmp" "$SHIFTED"
# The shift, for the tests: UID SUBUID_START GID SUBGID_START.
echo "$SHIFT_UID $SHIFT_START $SHIFT_GID $SHIFT_GSTART" > "$OUT/shift.txt"

echo "== done"
echo "   $ROOTFS: $(find "$ROOTFS" | wc -l) entries"
echo "   $SHIFTED: $(find "$SHIFTED" | wc -l) entries"
