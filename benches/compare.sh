#!/usr/bin/env bash
# Compare alientar with GNU tar + zstd -T0 and bsdtar on the same trees, in
# the same run, alternating the tools run by run; print medians and ratios
# (alientar / GNU tar) as a Markdown table.
#
# usage: benches/compare.sh [-n RUNS] [-N SCALE_RUNS] [-w WORKDIR] [-r ROOTFS] [-e EXT4DIR]
#                           [-o TABLE.md] [--quick] [--only PARTS]
#   RUNS     runs per tool and operation (default 5; the median is reported)
#   SCALE_RUNS  the same for the scale part (default RUNS, at most 5: a
#            round of the million files takes minutes, and its long runs
#            move less from run to run)
#   WORKDIR  where workloads and outputs go (default /var/tmp/alientar-bench, on ext4)
#   EXT4DIR  where the "extract ext4" rows extract to. Default: a fresh ext4
#            filesystem (mkfs.ext4 defaults: journal, fully initialized)
#            in a 40 GiB sparse file under WORKDIR, on a loop device with
#            direct I/O, mounted for the run.
#            Why: on an ext4 *without* a journal (this project's machines'
#            root filesystem), inode allocation skips recently freed inodes
#            (recently_deleted() in fs/ext4/ialloc.c); in block groups where
#            trees were deleted, every file creation then costs ~0.3 ms
#            instead of ~0.02 ms, for every tool (perf: 26-36 % of an
#            extraction's time in recently_deleted). Earlier runs' deletions
#            would decide the result; a fresh filesystem measures the tools.
#   ROOTFS   a Debian root filesystem (default: WORKDIR/rootfs, built with
#            mmdebstrap --variant=minbase when missing and mmdebstrap exists;
#            else a synthetic tree of similar shape)
#   progress: WORKDIR/progress.log has a line per timed run as it ends
#   --quick  smaller large files (3 x 32 MiB), 100 000 and 10 000 tiny files
#            instead of 1 000 000 and 100 000 (the rows say which), and 3
#            runs, to check the script
#   PARTS    comma-separated parts to run (default all): trees (create, list
#            and extract of the three workloads), userns (the test user's
#            rows), images (the OCI image rows, with umoci), incremental (the
#            small files' incremental chain against GNU tar's
#            --listed-incremental), scale (trees with many entries: 1 000 000
#            and 100 000 tiny files from benches/tinytree.py, and /usr/share
#            and /usr/lib of 22 Debian packages fetched with apt-get
#            download, each created from and extracted to ext4 and tmpfs)
# The "image unpack" rows (when umoci is installed) unpack a three-layer OCI
# image of ROOTFS built with umoci (the rootfs; deletions; an opaque
# directory) with alientar and with umoci unpack, as root and as the test
# user (--owners userns against umoci unpack --rootless); their ratio is
# alientar / umoci, in a table of their own.
# Needs root (extract restores owners; tmpfs mount; userns runs drop to the
# user alientar-test, which needs /etc/subuid ranges). With sqfstar, tar2sqfs
# and mke2fs installed, the userns rows include docs/guide.md (g)'s
# disk-image pipelines against the same fed by GNU tar. Extracts always go to
# fresh directories, deleted only at the end, so discard work from deleting
# does not land in a timed run (except in the scale part, where a million
# files' copies would not fit: see there).
# Max RSS is /usr/bin/time -f %M. In the scale part GNU tar and zstd run as
# an explicit pipeline (tar -cf - | zstd -3 -T0 > A; zstd -dc A | tar -xf -:
# the processes tar -I makes), each under its own /usr/bin/time, and the
# table gives both peaks. (The %M of a whole process tree is the largest
# process's only where every parent waits for its children: with -f
# /dev/null, tar -I leaves zstd to a grandchild nobody waits for, and
# /usr/bin/time reported 2.6 MiB for a pipeline whose zstd took 45.)
set -euo pipefail

RUNS=5
SRUNS=
ONLY=trees,userns,images,incremental,scale
WORK=/var/tmp/alientar-bench
ROOTFS=
OUT=
EXT4=
BIG_MIB=210
QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) RUNS=$2; shift 2 ;;
    -N) SRUNS=$2; shift 2 ;;
    -w) WORK=$2; shift 2 ;;
    -r) ROOTFS=$2; shift 2 ;;
    -o) OUT=$2; shift 2 ;;
    -e) EXT4=$2; shift 2 ;;
    --quick) RUNS=3; BIG_MIB=32; QUICK=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

# want PART: is PART among those to run?
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

here=$(cd "$(dirname "$0")/.." && pwd)
ALIENTAR=${ALIENTAR:-$here/target/release/alientar}
[ -x "$ALIENTAR" ] || (cd "$here" && cargo build --release -q)
for t in tar bsdtar zstd python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
if [ -z "$SRUNS" ]; then SRUNS=$((RUNS < 5 ? RUNS : 5)); fi

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
RES=$WORK/results.tsv
: > "$WORK/progress.log"
: > "$RES"
: > "$WORK/sizes.txt"
SCRATCH=$WORK/scratch
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"
TMPFS=$WORK/tmpfs
mkdir -p "$TMPFS"
mountpoint -q "$TMPFS" || mount -t tmpfs -o size=6g tmpfs "$TMPFS"
E4MNT=$WORK/ext4
cleanup() {
  if [ -n "${PRO_SAVED:-}" ]; then echo "$PRO_SAVED" > "$PRO" || true; fi
  umount "$TMPFS" 2>/dev/null || true
  if mountpoint -q "$E4MNT"; then umount "$E4MNT" || umount -l "$E4MNT" || true; fi
  if [ -n "${LOOPDEV:-}" ]; then losetup -d "$LOOPDEV" 2>/dev/null || true; rm -f "$WORK/ext4.img"; fi
}
trap cleanup EXIT
# Free page reporting (virtio-balloon) returns freed guest memory to the
# host, which must supply it afresh when the guest touches it again. Left on,
# the same extraction of the large files to tmpfs (630 MB of new pages) took
# 0.47-0.54 s right after GNU tar's and 0.78-1.13 s right after another
# alientar run; with it off, 0.44-0.55 s in either slot. Every tool is
# measured with it off (an order above the largest, 10 on x86-64); the
# setting is restored at exit.
PRO=/sys/module/page_reporting/parameters/page_reporting_order
PRO_SAVED=
if [ -w "$PRO" ]; then
  PRO_SAVED=$(cat "$PRO")
  if echo 11 > "$PRO" 2>/dev/null; then
    echo "free page reporting off for the run (was order $PRO_SAVED)" >&2
  else
    PRO_SAVED=
  fi
fi
if [ -e "$PRO" ] && [ -z "$PRO_SAVED" ]; then
  echo "WARNING: cannot turn free page reporting off; times depend on run order (docs/benchmarks.md)" >&2
fi
# new_ext4: a fresh ext4 filesystem at $E4MNT (the last one, if any,
# unmounted and its image deleted); EXT4 names where extractions go.
new_ext4() {
  mkdir -p "$E4MNT"
  if mountpoint -q "$E4MNT"; then umount "$E4MNT"; fi
  losetup -j "$WORK/ext4.img" 2>/dev/null | cut -d: -f1 | xargs -r -n1 losetup -d
  LOOPDEV=
  rm -f "$WORK/ext4.img"; truncate -s 40G "$WORK/ext4.img"
  # Direct I/O on the loop device: the filesystem's writes go to the disk
  # as they would from a partition, not a second time through the page
  # cache of the image file.
  if mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$WORK/ext4.img" \
     && LOOPDEV=$(losetup -f --show --direct-io=on "$WORK/ext4.img") \
     && mount "$LOOPDEV" "$E4MNT"; then
    EXT4=$E4MNT
    echo "extract ext4: a fresh ext4 filesystem at $E4MNT" >&2
  else
    echo "cannot make a fresh ext4 filesystem; extracting to $SCRATCH" >&2
    rm -f "$WORK/ext4.img"; EXT4=$SCRATCH
  fi
}
if [ -z "$EXT4" ]; then
  new_ext4
else
  EXT4=$EXT4/alientar-bench.$$; mkdir -p "$EXT4"
fi

# ---------------------------------------------------------------- workloads
# (Each tree is made only when a part to run uses it.)
if [ -z "$ROOTFS" ] && { want trees || want userns || want images; }; then
  ROOTFS=$WORK/rootfs
  if [ ! -d "$ROOTFS" ]; then
    if command -v mmdebstrap >/dev/null; then
      mmdebstrap --variant=minbase --mode=root bookworm "$ROOTFS" http://deb.debian.org/debian >/dev/null 2>&1 \
        || { echo "mmdebstrap failed; using a synthetic tree" >&2; rm -rf "$ROOTFS"; }
    fi
  fi
  if [ ! -d "$ROOTFS" ]; then
    python3 - "$ROOTFS" <<'EOF'
import os, random, sys
root = sys.argv[1]; r = random.Random(1)
words = [w * r.randint(1, 3) for w in "lorem ipsum dolor sit amet usr share doc lib bin etc".split()]
for d in range(600):
    p = os.path.join(root, "usr/share/doc" if d % 3 else "usr/lib", "pkg%d" % d)
    os.makedirs(p, exist_ok=True)
    for f in range(r.randint(5, 20)):
        with open(os.path.join(p, "f%d" % f), "w") as fh:
            fh.write(" ".join(r.choice(words) for _ in range(r.randint(10, 4000))))
    os.symlink("f0", os.path.join(p, "link"))
EOF
  fi
fi
SMALL=$WORK/small
if [ ! -d "$SMALL" ] && { want trees || want incremental; }; then
  python3 - "$SMALL" <<'EOF'
import os, random, sys
root = sys.argv[1]; r = random.Random(2)
words = "the quick brown fox jumps over a lazy dog 0123456789".split()
for d in range(32):
    p = os.path.join(root, "d%02d" % d)
    os.makedirs(p)
    for f in range(1000):
        with open(os.path.join(p, "file%04d.txt" % f), "w") as fh:
            fh.write(" ".join(r.choice(words) for _ in range(r.randint(20, 800))))
EOF
fi
LARGE=$WORK/large-$BIG_MIB
if [ ! -d "$LARGE" ] && want trees; then
  mkdir -p "$LARGE"
  python3 - "$LARGE/text" "$BIG_MIB" <<'EOF'
import random, sys
r = random.Random(3); words = [("%x" % r.getrandbits(20)) * r.randint(1, 4) for _ in range(5000)]
target = int(sys.argv[2]) << 20
with open(sys.argv[1], "w") as f:
    n = 0
    while n < target:
        line = " ".join(r.choice(words) for _ in range(12)) + "\n"
        f.write(line); n += len(line)
EOF
  head -c $((BIG_MIB << 20)) /dev/urandom > "$LARGE/random"
  head -c $((BIG_MIB << 20)) /dev/zero > "$LARGE/zeros"
fi
# The rootless-podman layout of the root filesystem, for the userns rows.
USER_NAME=alientar-test
HAVE_USER=0
if want userns && id "$USER_NAME" >/dev/null 2>&1 && grep -q "^$USER_NAME:" /etc/subuid && command -v newuidmap >/dev/null \
   && runuser -u "$USER_NAME" -- unshare --map-auto --map-root-user true 2>/dev/null; then
  HAVE_USER=1
  U=$(id -u $USER_NAME); S=$(awk -F: -v u=$USER_NAME '$1==u{print $2; exit}' /etc/subuid)
  SHIFTED=$WORK/rootfs-shifted
  if [ ! -d "$SHIFTED" ]; then
    "$here/scripts/make-rootfs.sh" "$WORK/shift-src" "$U" "$S" >/dev/null 2>&1 || true
    if [ -d "$WORK/shift-src/rootfs-shifted" ]; then mv "$WORK/shift-src/rootfs-shifted" "$SHIFTED"; fi
  fi
  [ -d "$SHIFTED" ] || HAVE_USER=0
  chmod 755 "$WORK"
  chmod 755 "$EXT4"; USCR=$EXT4/uscratch; rm -rf "$USCR"; mkdir -p "$USCR"; chown "$USER_NAME:" "$USCR"
fi

# ---------------------------------------------------------------- timing
now() { date +%s.%N; }
# Every timed run starts from the same state: dirty data written, the page
# cache dropped, then the run's inputs ($WARM: archives or source trees) read
# back in. (Without this, which pages a run's writes get, recently freed or
# long unused ones that this virtual machine's host must first supply,
# changed the same extraction from 0.5 s to 1.8 s for every tool.)
WARM=()
# The tools' executables and libraries, read back with the inputs (alientar's
# release binary carries debug info for profiling: 36 MB).
TOOL_FILES=()
# The disk-image tools of docs/guide.md (g), for the image rows.
HAVE_IMAGES=1
for t in sqfstar tar2sqfs mke2fs; do command -v "$t" >/dev/null || HAVE_IMAGES=0; done
IMAGE_TOOLS=()
if [ $HAVE_IMAGES = 1 ]; then IMAGE_TOOLS=("$(command -v sqfstar)" "$(command -v tar2sqfs)" "$(command -v mke2fs)"); fi
for t in "$ALIENTAR" "$(command -v tar)" "$(command -v bsdtar)" "$(command -v zstd)" /usr/bin/time "$(command -v sh)" "$(command -v bash)" "$(command -v runuser)" "$(command -v unshare)" $(command -v umoci || true) "${IMAGE_TOOLS[@]}"; do
  TOOL_FILES+=("$t")
  while read -r lib; do TOOL_FILES+=("$lib"); done < <(ldd "$t" 2>/dev/null | awk '$3 ~ /^\// {print $3}')
done
if command -v umoci >/dev/null; then TOOL_FILES+=("$(command -v umoci)"); fi
# (Many readers at once: with the caches dropped, reading 100 000 tiny
# files from the fresh ext4 one at a time took 141 s, a round trip to the
# disk each; 16 at a time 5.8 s, 64 at a time 4.4 s.)
warm() {
  local p
  for p in "$@"; do
    if [ -d "$p" ]; then find "$p" -type f -print0 | xargs -0 -r -P 32 -n 256 cat > /dev/null
    else cat "$p" > /dev/null; fi
  done
}
# time_it KEY TOOL CMD... : run, record seconds and max RSS (KiB) in
# $RESFILE. A command may also time its processes one by one with
# `/usr/bin/time -f %M -o $WORK/.rss.NAME`: each NAME=KiB is recorded too.
RESFILE=$RES
time_it() {
  local key=$1 tool=$2; shift 2
  local t0 t1 rss f parts= tp
  tp=$(now)
  sync
  echo 3 > /proc/sys/vm/drop_caches
  warm "${TOOL_FILES[@]}" "${WARM[@]}"
  rm -f "$WORK"/.rss.*
  t0=$(now)
  /usr/bin/time -f %M -o "$WORK/.rss" "$@" >/dev/null 2>"$WORK/.err" || { echo "FAILED: $key $tool: $*" >&2; cat "$WORK/.err" >&2; }
  t1=$(now)
  rss=$(tail -1 "$WORK/.rss")
  for f in "$WORK"/.rss.*; do
    if [ -e "$f" ]; then parts="$parts${parts:+,}${f##*/.rss.}=$(tail -1 "$f")"; fi
  done
  printf '%s\t%s\t%s\t%s\t%s\n' "$key" "$tool" "$(echo "$t1 - $t0" | bc -l)" "$rss" "$parts" >> "$RESFILE"
  # What a long run is doing, and what its untimed preparation costs.
  printf '%s %s %s: %.2f s (prepared in %.1f s)\n' "$(date +%T)" "$key" "$tool" \
    "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t0 - $tp" | bc -l)" >> "$WORK/progress.log"
}

# The disk-image recipes of docs/guide.md (g), as the test user, each
# against the same pipeline fed by GNU tar inside `unshare --map-auto
# --map-root-user` (the namespace alientar's recipe builds, made the way
# scripts do without alientar). The tree is the root filesystem as rootless
# podman stores it; fast compressors (lz4, zstd -3) keep the image tools'
# compression from hiding the archivers. image_rows RUN
image_rows() {
  local run=$1 d sq="sqfstar -comp lz4 -root-mode 755 -quiet -no-progress"
  local t2s="tar2sqfs -q -c zstd -X level=3" mk="mke2fs -q -t ext4 -d"
  WARM=("$SHIFTED")
  time_it "squashfs from a userns tree (sqfstar)" gnu runuser -u $USER_NAME -- unshare --map-auto --map-root-user \
    sh -c "tar --xattrs -cf - -C $SHIFTED . | $sq $USCR/g$run.sqfs"
  time_it "squashfs from a userns tree (sqfstar)" alientar runuser -u $USER_NAME -- \
    sh -c "'$ALIENTAR' create -f - --format pax --map rootless -C $SHIFTED . | '$ALIENTAR' unshare -- $sq $USCR/a$run.sqfs"
  time_it "squashfs from a userns tree (tar2sqfs)" gnu runuser -u $USER_NAME -- unshare --map-auto --map-root-user \
    sh -c "tar --xattrs -cf - -C $SHIFTED . | $t2s $USCR/g$run-ng.sqfs"
  time_it "squashfs from a userns tree (tar2sqfs)" alientar runuser -u $USER_NAME -- \
    sh -c "'$ALIENTAR' create -f - --format pax --map rootless -C $SHIFTED . | $t2s $USCR/a$run-ng.sqfs"
  # ext4: restore the archive with its owners in the namespace, then
  # mke2fs -d there. GNU tar cannot make the device nodes in a user
  # namespace (exit 2, the rest extracted): its status is not the row's.
  WARM=("$USCR"/rootfs.*.tar.zst)
  fresh "$USCR"; d=$D; chown "$USER_NAME:" "$d"
  time_it "ext4 from an archive (extract + mke2fs -d)" gnu runuser -u $USER_NAME -- unshare --map-auto --map-root-user \
    sh -c "mkdir $d/t && { tar -xf $USCR/rootfs.gnu.tar.zst -C $d/t 2>/dev/null; $mk $d/t $d/img.ext4 1G; }"
  fresh "$USCR"; d=$D; chown "$USER_NAME:" "$d"
  time_it "ext4 from an archive (extract + mke2fs -d)" alientar runuser -u $USER_NAME -- \
    sh -c "mkdir $d/t && '$ALIENTAR' extract --owners userns --map rootless -f $USCR/rootfs.ali.tar.zst -C $d/t 2>/dev/null && '$ALIENTAR' unshare -- $mk $d/t $d/img.ext4 1G"
}

# record_sizes FILE WORKLOAD ARCHIVE...: each archive's size, by tool (the
# name's second dot-separated field: gnu, ali, bsd), as tab-separated lines.
record_sizes() {
  local out=$1 wl=$2 a; shift 2
  for a in "$@"; do
    printf '%s\t%s\t%s\n' "$wl" "$(basename "$a" | cut -d. -f2)" "$(stat -c %s "$a")" >> "$out"
  done
}

n=0
# fresh BASE: a new, empty directory in $D. (Not a command substitution:
# the counter must survive the call, or every run extracts over the last.)
fresh() { n=$((n + 1)); D=$1/x$n; mkdir "$D"; }

want trees && for wl in rootfs small large; do
  case $wl in rootfs) SRC=$ROOTFS ;; small) SRC=$SMALL ;; large) SRC=$LARGE ;; esac
  for run in $(seq "$RUNS"); do
    # A new archive name every run: writing over the last run's archive
    # would free its blocks inside the timed run (with `discard`, a
    # synchronous discard of up to 266 MB that moved every tool's create of
    # the large files by a quarter). All are deleted at the end.
    A=$SCRATCH/$wl-r$run
    # create (alternating tools)
    WARM=("$SRC")
    time_it "$wl create" gnu sh -c "tar -I 'zstd -3 -T0' -cf $A.gnu.tar.zst -C $SRC ."
    time_it "$wl create" alientar "$ALIENTAR" create -f "$A.ali.tar.zst" -C "$SRC" .
    time_it "$wl create" bsdtar bsdtar --zstd -cf "$A.bsd.tar.zst" -C "$SRC" .
    # list -v
    WARM=("$A".*.tar.zst)
    time_it "$wl list" gnu tar -tvf "$A.gnu.tar.zst"
    time_it "$wl list" alientar "$ALIENTAR" list -v -f "$A.ali.tar.zst"
    time_it "$wl list" bsdtar bsdtar -tvf "$A.bsd.tar.zst"
    # extract to ext4 and tmpfs, each into a fresh directory
    for fs in ext4 tmpfs; do
      base=$EXT4; [ $fs = tmpfs ] && base=$TMPFS
      fresh "$base"; time_it "$wl extract $fs" gnu tar -xf "$A.gnu.tar.zst" -C "$D"
      fresh "$base"; time_it "$wl extract $fs" alientar "$ALIENTAR" extract -f "$A.ali.tar.zst" -C "$D"
      fresh "$base"; time_it "$wl extract $fs" bsdtar bsdtar -xpf "$A.bsd.tar.zst" -C "$D"
      if [ $fs = tmpfs ]; then rm -rf "${TMPFS:?}"/x*; fi
    done
  done
  record_sizes "$WORK/sizes.txt" "$wl" "$A".*.tar.zst
done

# A three-layer OCI image of the root filesystem, built once with umoci:
# the rootfs; then usr/share/doc and etc/motd deleted and a file added; then
# a layer with an opaque directory (umoci raw add-layer).
IMAGE=$WORK/image-layout
HAVE_UMOCI=0
if want images && command -v umoci >/dev/null; then
  HAVE_UMOCI=1
  if [ ! -f "$IMAGE/index.json" ]; then
    rm -rf "$IMAGE" "$WORK/image-build"; mkdir -p "$WORK/image-build"
    (cd "$WORK/image-build" && umoci init --layout "$IMAGE" && umoci new --image "$IMAGE:t" \
      && umoci unpack --image "$IMAGE:t" b >/dev/null && cp -a "$ROOTFS/." b/rootfs/ \
      && umoci repack --refresh-bundle --image "$IMAGE:t" b \
      && rm -rf b/rootfs/usr/share/doc b/rootfs/etc/motd && echo new > b/rootfs/etc/new \
      && umoci repack --refresh-bundle --image "$IMAGE:t" b \
      && mkdir -p l3/usr/share/man && touch l3/usr/share/man/.wh..wh..opq \
      && echo only > l3/usr/share/man/only \
      && tar --numeric-owner --owner=0 --group=0 -C l3 -cf l3.tar usr \
      && umoci raw add-layer --image "$IMAGE:t" l3.tar) >/dev/null \
      || { echo "cannot build the image with umoci; no image rows" >&2; HAVE_UMOCI=0; rm -rf "$IMAGE"; }
    rm -rf "$WORK/image-build"
  fi
fi
if [ $HAVE_UMOCI = 1 ]; then
  for run in $(seq "$RUNS"); do
    WARM=("$IMAGE")
    fresh "$EXT4"; time_it "image unpack ext4" umoci umoci unpack --image "$IMAGE:t" "$D/bundle"
    fresh "$EXT4"; time_it "image unpack ext4" alientar "$ALIENTAR" extract -f "oci:$IMAGE:t" -C "$D"
  done
fi

if [ $HAVE_USER = 1 ] && want userns; then
  cp "$SCRATCH/rootfs-r$RUNS.ali.tar.zst" "$USCR/rootfs.ali.tar.zst"
  cp "$SCRATCH/rootfs-r$RUNS.gnu.tar.zst" "$USCR/rootfs.gnu.tar.zst"
  chmod 644 "$USCR"/*.tar.zst
  for run in $(seq "$RUNS"); do
    WARM=("$USCR"/rootfs.*.tar.zst)
    fresh "$USCR"; d=$D; chown "$USER_NAME:" "$d"
    time_it "rootfs userns extract" gnu runuser -u $USER_NAME -- unshare --map-auto --map-root-user tar -xf "$USCR/rootfs.gnu.tar.zst" -C "$d"
    fresh "$USCR"; d=$D; chown "$USER_NAME:" "$d"
    time_it "rootfs userns extract" alientar runuser -u $USER_NAME -- "$ALIENTAR" extract --owners userns --map rootless -f "$USCR/rootfs.ali.tar.zst" -C "$d"
    WARM=("$SHIFTED")
    time_it "rootless-storage userns create" gnu runuser -u $USER_NAME -- unshare --map-auto --map-root-user sh -c "tar -I 'zstd -3 -T0' -cf $USCR/s$run.gnu.tar.zst -C $SHIFTED ."
    time_it "rootless-storage userns create" alientar runuser -u $USER_NAME -- "$ALIENTAR" create --map rootless -f "$USCR/s$run.ali.tar.zst" -C "$SHIFTED" .
    if [ $HAVE_IMAGES = 1 ]; then image_rows "$run"; fi
  done
  if [ $HAVE_UMOCI = 1 ]; then
    # (umoci's blobs are root's, mode 0600: a copy the user may read.)
    cp -a "$IMAGE" "$USCR/image"; chmod -R a+rX "$USCR/image"
    for run in $(seq "$RUNS"); do
      WARM=("$USCR/image")
      fresh "$USCR"; d=$D; chown "$USER_NAME:" "$d"
      time_it "image unpack userns ext4" umoci runuser -u $USER_NAME -- umoci unpack --rootless --image "$USCR/image:t" "$d/bundle"
      fresh "$USCR"; d=$D; chown "$USER_NAME:" "$d"
      time_it "image unpack userns ext4" alientar runuser -u $USER_NAME -- "$ALIENTAR" extract --owners userns --map rootless -f "oci:$USCR/image:t" -C "$d"
    done
  fi
fi

# ---------------------------------------------------------------- images
# Image creation, as root, from the same bundle: alientar create --oci of
# its rootfs (a new layout each run; zstd, and -z for gzip) against umoci
# repack of it, which without --refresh-bundle packs the whole tree as a
# new layer each time (gzip, umoci 0.4.7's only compression).
if ! want images; then
  :
elif command -v umoci >/dev/null; then
  IMG=$SCRATCH/images; mkdir -p "$IMG"
  umoci init --layout "$IMG/umoci"
  umoci new --image "$IMG/umoci:base"
  umoci unpack --image "$IMG/umoci:base" "$IMG/bundle" >/dev/null
  cp -a "$ROOTFS/." "$IMG/bundle/rootfs/"
  for run in $(seq "$RUNS"); do
    WARM=("$IMG/bundle/rootfs")
    time_it "rootfs image create" umoci umoci repack --image "$IMG/umoci:r$run" "$IMG/bundle"
    time_it "rootfs image create" alientar "$ALIENTAR" create --oci "$IMG/ali-r$run:t" -C "$IMG/bundle/rootfs" .
    time_it "rootfs image create -z" umoci umoci repack --image "$IMG/umoci:z$run" "$IMG/bundle"
    time_it "rootfs image create -z" alientar "$ALIENTAR" create --oci "$IMG/ali-z$run:t" -z -C "$IMG/bundle/rootfs" .
  done
else
  echo "umoci missing: no image rows" >&2
fi

# ---------------------------------------------------------------- incremental
# The small files as an incremental chain: GNU tar's --listed-incremental
# (a snapshot file) against alientar's --incremental/--incremental-from
# (the previous archive). Level 0 of each is made once; then, timed, the
# increment of the unchanged tree (goal: alientar <= 0.2 x GNU tar), the
# increment after 1 % of the files changed (goal: <= 1.5 % of the full
# archive's size), and the restore of the chain (full, then the 1 %
# increment; GNU tar with --listed-incremental=/dev/null, which deletes).
: > "$WORK/incsizes.txt"
if want incremental; then
  INC=$WORK/inc-tree
  rm -rf "$INC"; cp -a "$SMALL" "$INC"
  IA=$SCRATCH/inc; mkdir -p "$IA"
  # A change in the second or two before an archive is made is stored again
  # by the next increment: let the copy settle.
  sleep 2
  tar -I 'zstd -3 -T0' -g "$IA/gnu.snar0" -cf "$IA/gnu0.tar.zst" -C "$INC" .
  "$ALIENTAR" create --incremental -f "$IA/ali0.tar.zst" -C "$INC" .
  sleep 2
  WARM=("$INC" "$IA/ali0.tar.zst" "$IA/gnu.snar0")
  for run in $(seq "$RUNS"); do
    cp "$IA/gnu.snar0" "$IA/gnu.snar-u$run"
    time_it "small increment, unchanged" gnu tar -I 'zstd -3 -T0' -g "$IA/gnu.snar-u$run" -cf "$IA/gnu-u$run.tar.zst" -C "$INC" .
    time_it "small increment, unchanged" alientar "$ALIENTAR" create -f "$IA/ali-u$run.tar.zst" --incremental-from "$IA/ali0.tar.zst" -C "$INC" .
  done
  # 1 % of the files rewritten (every 100th): 320 of 32 000.
  python3 - "$INC" <<'EOF'
import os, sys
root = sys.argv[1]
names = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
for p in names[::100]:
    with open(p, "a") as fh:
        fh.write(" changed")
EOF
  sleep 2
  for run in $(seq "$RUNS"); do
    cp "$IA/gnu.snar0" "$IA/gnu.snar-c$run"
    time_it "small increment, 1 % changed" gnu tar -I 'zstd -3 -T0' -g "$IA/gnu.snar-c$run" -cf "$IA/gnu-c$run.tar.zst" -C "$INC" .
    time_it "small increment, 1 % changed" alientar "$ALIENTAR" create -f "$IA/ali-c$run.tar.zst" --incremental-from "$IA/ali0.tar.zst" -C "$INC" .
  done
  for f in gnu0 ali0 gnu-u1 ali-u1 gnu-c1 ali-c1; do
    echo "$f $(stat -c %s "$IA/$f.tar.zst")" >> "$WORK/incsizes.txt"
  done
  WARM=("$IA/gnu0.tar.zst" "$IA/gnu-c1.tar.zst" "$IA/ali0.tar.zst" "$IA/ali-c1.tar.zst")
  for run in $(seq "$RUNS"); do
    fresh "$EXT4"; time_it "small chain restore (full + 1 %) ext4" gnu sh -c "tar -g /dev/null -xf $IA/gnu0.tar.zst -C $D && tar -g /dev/null -xf $IA/gnu-c1.tar.zst -C $D"
    fresh "$EXT4"; time_it "small chain restore (full + 1 %) ext4" alientar sh -c "$ALIENTAR extract -f $IA/ali0.tar.zst -C $D && $ALIENTAR extract -f $IA/ali-c1.tar.zst -C $D"
  done
  rm -rf "$INC"
fi

# ---------------------------------------------------------------- scale
# Trees with many entries: the tiny files of benches/tinytree.py (1 000 000,
# and 100 000 to show whether memory stays flat in the entry count; with
# --quick 100 000 and 10 000) and a real tree, /usr/share and /usr/lib of
# the Debian packages below (fetched once with apt-get download into
# WORK/debs, unpacked with dpkg-deb -x; the output names their versions).
# Each tree is made on the ext4 filesystem and made again on the tmpfs
# (cp -a of the million files from the ext4, their pages gone, took over
# five minutes); created from both, extracted to both. Only GNU tar runs
# against alientar here: bsdtar has no goal in these rows and would add
# minutes.
# GNU tar and zstd run as the pipeline tar -I makes, written out so that
# each process has its own /usr/bin/time (see the header).
#
# Room: a million tiny files take 3.8 GiB of the 6 GiB tmpfs (a page per
# file that is not empty), as much again for each extraction, and as many
# inodes on ext4 as ten extractions' worth would exceed. So the tmpfs copy
# is deleted before the extractions, and every extraction of this part is
# deleted right after its run, outside the timing (time_it syncs and drops
# the caches before the next run, so the deletion's writeback does not land
# in it). The part starts on a fresh ext4 filesystem of its own.
DEB_PKGS="golang-1.19-src python3-django texlive-latex-extra texlive-pictures
  texlive-latex-recommended adwaita-icon-theme libjs-mathjax node-babel7
  emacs-common emacs-el libruby3.1 manpages-dev vim-runtime libreoffice-common
  python3-sympy perl-modules-5.36 python3-scipy tzdata python3-numpy locales
  python3-matplotlib libpython3.11-stdlib"
# count_label N: 1000000 -> 1M, 100000 -> 100k
count_label() {
  if [ $(($1 % 1000000)) = 0 ]; then echo "$(($1 / 1000000))M"
  elif [ $(($1 % 1000)) = 0 ]; then echo "$(($1 / 1000))k"
  else echo "$1"; fi
}
# describe LABEL DIR WHAT: the tree's counts, for the report
describe() {
  printf '%s\t%s\t%s\n' "$1" "$(find "$2" -mindepth 1 -printf '%y %s\n' \
    | awk '{n++} $1 == "f" {f++; s += $2} END {printf "%d\t%d\t%d", n, f, s}')" "$3" >> "$WORK/scale-trees.txt"
}
# debian_tree DEST: DEB_PKGS' usr/share and usr/lib in DEST; echoes the
# packages' versions. Fails when the packages cannot be fetched.
debian_tree() {
  local dest=$1 debs=$WORK/debs p f
  mkdir -p "$debs"
  for p in $DEB_PKGS; do
    if ! ls "$debs/${p}"_*.deb >/dev/null 2>&1; then
      (cd "$debs" && { apt-get download -q $DEB_PKGS >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get download -q $DEB_PKGS >/dev/null 2>&1; }; }) || return 1
      break
    fi
  done
  rm -rf "$dest.all"; mkdir -p "$dest.all" "$dest/usr"
  for p in $DEB_PKGS; do
    f=$(ls "$debs/${p}"_*.deb | sort -V | tail -1)
    dpkg-deb -x "$f" "$dest.all" || return 1
    printf '%s %s\n' "$p" "$(dpkg-deb -f "$f" Version)"
  done
  mv "$dest.all/usr/share" "$dest.all/usr/lib" "$dest/usr/"
  rm -rf "$dest.all"
}
# make_tree ID DEST: the tree tiny-N (N files from benches/tinytree.py)
# or debian-usr in DEST
make_tree() {
  case $1 in
    tiny-*) python3 "$here/benches/tinytree.py" "$2" "${1#tiny-}" ;;
    debian-usr) debian_tree "$2" >/dev/null ;;
  esac
}
# scale_rows LABEL ID SRC: the rows of the tree ID, made in SRC (on ext4)
scale_rows() {
  local wl=$1 id=$2 src=$3 t=$TMPFS/src run A fs base
  local tc="/usr/bin/time -f %M -o $WORK/.rss.tar tar" zc="/usr/bin/time -f %M -o $WORK/.rss.zstd zstd -q"
  # The ext4 rows first, and the tmpfs copy only after them, so that the
  # ext4 tree's pages (4 GiB for the million files, and their inodes, read
  # back before each run) never compete with the copy's: on a machine
  # short of memory, pages evicted inside a run made tar wait on the disk
  # for minutes.
  for run in $(seq "$SRUNS"); do
    A=$SCRATCH/$id-r$run
    WARM=("$src")
    time_it "$wl: create from ext4" gnu bash -o pipefail -c "$tc -cf - -C $src . | $zc -3 -T0 > $A-e.gnu.tar.zst"
    time_it "$wl: create from ext4" alientar "$ALIENTAR" create -f "$A-e.ali.tar.zst" -C "$src" .
  done
  rm -rf "$t"; make_tree "$id" "$t"
  for run in $(seq "$SRUNS"); do
    A=$SCRATCH/$id-r$run
    WARM=("$t")
    time_it "$wl: create from tmpfs" gnu bash -o pipefail -c "$tc -cf - -C $t . | $zc -3 -T0 > $A.gnu.tar.zst"
    time_it "$wl: create from tmpfs" alientar "$ALIENTAR" create -f "$A.ali.tar.zst" -C "$t" .
    WARM=("$A.gnu.tar.zst" "$A.ali.tar.zst")
    time_it "$wl: list -v" gnu bash -o pipefail -c "$zc -dc $A.gnu.tar.zst | $tc -tvf -"
    time_it "$wl: list -v" alientar "$ALIENTAR" list -v -f "$A.ali.tar.zst"
  done
  rm -rf "$t"
  record_sizes "$WORK/scalesizes.txt" "$wl" "$A.gnu.tar.zst" "$A.ali.tar.zst"
  for run in $(seq "$SRUNS"); do
    A=$SCRATCH/$id-r$run
    WARM=("$A.gnu.tar.zst" "$A.ali.tar.zst")
    for fs in ext4 tmpfs; do
      base=$EXT4; [ $fs = tmpfs ] && base=$TMPFS
      fresh "$base"; time_it "$wl: extract to $fs" gnu bash -o pipefail -c "$zc -dc $A.gnu.tar.zst | $tc -xf - -C $D"
      rm -rf "$D"
      fresh "$base"; time_it "$wl: extract to $fs" alientar "$ALIENTAR" extract -f "$A.ali.tar.zst" -C "$D"
      rm -rf "$D"
    done
  done
}
: > "$WORK/scale.tsv"; : > "$WORK/scale-trees.txt"; : > "$WORK/scalesizes.txt"
if want scale; then
  RESFILE=$WORK/scale.tsv
  if [ -n "${LOOPDEV:-}" ] && [ -s "$RES" ]; then new_ext4; fi
  SRCS=$EXT4/scale-src; rm -rf "$SRCS"; mkdir -p "$SRCS"
  big=1000000 flat=100000
  if [ $QUICK = 1 ]; then big=100000 flat=10000; fi
  for nf in $big $flat; do
    make_tree "tiny-$nf" "$SRCS/tiny-$nf"
    describe "$(count_label $nf) tiny files" "$SRCS/tiny-$nf" "benches/tinytree.py DIR $nf"
  done
  if versions=$(debian_tree "$SRCS/debian-usr"); then
    describe "Debian usr" "$SRCS/debian-usr" "/usr/share and /usr/lib of $(echo "$versions" | wc -l) Debian packages: $(echo "$versions" | paste -sd, | sed 's/,/, /g')"
  else
    echo "cannot fetch the Debian packages (apt-get download); no Debian usr rows" >&2
    rm -rf "$SRCS/debian-usr"
  fi
  for nf in $big $flat; do scale_rows "$(count_label $nf) tiny files" "tiny-$nf" "$SRCS/tiny-$nf"; done
  if [ -d "$SRCS/debian-usr" ]; then scale_rows "Debian usr" debian-usr "$SRCS/debian-usr"; fi
  rm -rf "$SRCS"
  RESFILE=$RES
fi

# ---------------------------------------------------------------- report
python3 - "$RES" "$WORK/sizes.txt" "$RUNS" "$BIG_MIB" "$WORK/incsizes.txt" \
  "$WORK/scale.tsv" "$WORK/scale-trees.txt" "$WORK/scalesizes.txt" "$SRUNS" <<'EOF' | tee "${OUT:-/dev/null}"
import sys, statistics, collections
def load(path):
    """(rows, rss, parts, order): seconds and max RSS (KiB) by key and
    tool; parts[key][tool][process] = that process's RSS in each run."""
    rows = collections.defaultdict(lambda: collections.defaultdict(list))
    rss = collections.defaultdict(lambda: collections.defaultdict(list))
    parts = collections.defaultdict(lambda: collections.defaultdict(lambda: collections.defaultdict(list)))
    order = []
    for line in open(path):
        key, tool, secs, kib, *more = line.rstrip("\n").split("\t")
        if key not in order: order.append(key)
        rows[key][tool].append(float(secs)); rss[key][tool].append(int(kib or 0))
        for p in filter(None, (more[0] if more else "").split(",")):
            name, _, k = p.partition("=")
            parts[key][tool][name].append(int(k or 0))
    return rows, rss, parts, order
def sizes_of(path):
    sizes = collections.defaultdict(dict)
    for line in open(path):
        wl, tool, size = line.rstrip("\n").split("\t")
        sizes[wl][tool] = int(size)
    return sizes
def print_sizes(sizes, what):
    if not sizes:
        return
    print(f"| {what} | GNU tar + zstd -3 (bytes) | alientar (bytes) | alientar/GNU size |")
    print("|---|---:|---:|---:|")
    for wl, s in sizes.items():
        print(f"| {wl} | {s.get('gnu')} | {s.get('ali')} | {s['ali'] / s['gnu']:.4f} |")
def quartiles(v):
    if len(v) < 4:
        return None
    q = statistics.quantiles(v, n=4)
    return q[0], q[2]
def run_by_run(rows, key, peer):
    pairs = [x / y for x, y in zip(rows[key]["alientar"], rows[key][peer]) if y]
    q = quartiles(pairs)
    return "–" if q is None else f"{q[0]:.2f}–{q[1]:.2f}"
mib = lambda v: "–" if not v else f"{max(v) / 1024:.0f}"
rows, rss, _, order = load(sys.argv[1])
if order:
    print(f"Runs per cell: {sys.argv[3]} (median), large files: 3 x {sys.argv[4]} MiB. Ratio = alientar / GNU tar.")
    print("Run by run = alientar's time over GNU tar's in the same round (the two ran one after the")
    print("other), middle half of the rounds: how much the ratio moves within this run.\n")
# Rows timed against another tool than GNU tar and bsdtar (umoci, for
# images) get a table of their own.
PEERS = ("umoci",)
peered = [k for k in order if any(p in rows[k] for p in PEERS)]
if [k for k in order if k not in peered]:
    print("| workload / operation | GNU tar (s) | alientar (s) | bsdtar (s) | alientar/GNU | run by run | bsdtar/GNU | alientar max RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
for key in order:
    if key in peered:
        continue
    m = {t: statistics.median(v) for t, v in rows[key].items()}
    g, a, b = m.get("gnu"), m.get("alientar"), m.get("bsdtar")
    f = lambda x: "–" if x is None else f"{x:.3f}"
    r = lambda x: "–" if x is None or not g else f"{x / g:.2f}"
    mem = max(rss[key]["alientar"]) / 1024 if rss[key]["alientar"] else 0
    print(f"| {key} | {f(g)} | {f(a)} | {f(b)} | {r(a)} | {run_by_run(rows, key, 'gnu')} | {r(b)} | {mem:.0f} |")
for peer in PEERS:
    keys = [k for k in peered if peer in rows[k]]
    if not keys:
        continue
    print(f"\n| image operation | {peer} (s) | alientar (s) | alientar/{peer} | run by run | alientar max RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for key in keys:
        p, a = statistics.median(rows[key][peer]), statistics.median(rows[key]["alientar"])
        mem = max(rss[key]["alientar"]) / 1024
        print(f"| {key} | {p:.3f} | {a:.3f} | {a / p:.2f} | {run_by_run(rows, key, peer)} | {mem:.0f} |")
if order:
    print()
main_sizes = sizes_of(sys.argv[2])
print_sizes(main_sizes, "workload")
inc = dict(line.split() for line in open(sys.argv[5]))
before = bool(order or main_sizes or inc)
if inc:
    print()
    print("Incremental chain of the small files: each archive's size, and its share of the tool's full archive.\n")
    print("| archive | GNU tar + zstd -3 (bytes) | share of full | alientar (bytes) | share of full |")
    print("|---|---:|---:|---:|---:|")
    for what, key in [("full (level 0)", "0"), ("increment, unchanged", "-u1"), ("increment, 1 % changed", "-c1")]:
        g, a = int(inc["gnu" + key]), int(inc["ali" + key])
        print(f"| {what} | {g} | {g / int(inc['gnu0']):.4f} | {a} | {a / int(inc['ali0']):.4f} |")
rows, rss, parts, order = load(sys.argv[6])
if order:
    num = lambda n: f"{int(n):,}".replace(",", " ")
    if before:
        print()
    print(f"Trees with many entries: GNU tar + zstd -3 -T0 against alientar, {sys.argv[9]} runs per cell")
    print("(median); each tree created from ext4 and from tmpfs, extracted to both. Max RSS: the")
    print("largest of the runs, GNU tar and zstd each measured on its own (the pipeline's peak lies")
    print("between the larger of the two and their sum).\n")
    trees = [line.rstrip("\n").split("\t") for line in open(sys.argv[7])]
    for label, entries, files, size, what in trees:
        print(f"- **{label}**: {num(entries)} entries, {num(files)} of them files holding "
              f"{int(size) / 2**20:.{0 if int(size) >= 10 << 20 else 1}f} MiB; {what}")
    print()
    print("| tree: operation | GNU tar (s) | alientar (s) | alientar/GNU | run by run | GNU tar max RSS (MiB) | zstd max RSS (MiB) | alientar max RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in order:
        g, a = statistics.median(rows[key]["gnu"]), statistics.median(rows[key]["alientar"])
        p = parts[key]["gnu"]
        print(f"| {key} | {g:.3f} | {a:.3f} | {a / g:.2f} | {run_by_run(rows, key, 'gnu')} "
              f"| {mib(p['tar'])} | {mib(p['zstd'])} | {mib(rss[key]['alientar'])} |")
    # Memory flat in the entry count: the tiny trees' alientar RSS, largest over smallest.
    tiny = [t[0] for t in trees if t[0].endswith("tiny files")]
    if len(tiny) == 2:
        ops = [k.split(": ", 1)[1] for k in order if k.startswith(tiny[0] + ": ")]
        got = [(op, rss[f"{tiny[0]}: {op}"]["alientar"], rss[f"{tiny[1]}: {op}"]["alientar"]) for op in ops]
        got = [(op, b, s) for op, b, s in got if b and s]
    if len(tiny) == 2 and got:
        print(f"\nalientar's max RSS on the {tiny[0]} over that on the {tiny[1]}: "
              + ", ".join(f"{op} {max(b) / max(s):.2f}" for op, b, s in got) + ".")
    print()
    print_sizes(sizes_of(sys.argv[8]), "tree")
EOF
rm -rf "$SCRATCH" "${USCR:-/nonexistent}"
[ "$EXT4" = "$E4MNT" ] || rm -rf "$EXT4"
