#!/usr/bin/env bash
# Seed the fuzz corpora (fuzz/corpus/TARGET, not committed) from the shared
# tar corpus and from archives made by `alientar create`.
#   fuzz/seed.sh [ALIENTAR_BINARY] [TAR_CORPUS]
set -euo pipefail
cd "$(dirname "$0")"
bin=${1:-../target/debug/alientar}
shared=${2:-${ALIENTAR_CORPUS:-../../shared/corpus}}
[ -x "$bin" ] || (cd .. && cargo build) >/dev/null
for t in tar_reader pax frame_index idmap_spec mtree; do mkdir -p "corpus/$t"; done

# tar_reader: every small archive of the shared corpus (any compression).
if [ -d "$shared" ]; then
  find "$shared" -type f -size -64k ! -name '*.md' -print0 |
    while IFS= read -r -d '' f; do
      cp "$f" "corpus/tar_reader/$(sha1sum < "$f" | cut -c1-16)"
    done
fi

# Archives of our own: a small tree with every kind of entry, plain and zstd.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t=$work/t
mkdir -p "$t/etc" "$t/usr/bin" "$t/$(printf 'd%.0s/' $(seq 40))"
printf 'root:*:19000:0:99999:7:::\n' > "$t/etc/shadow"
head -c 3000 /dev/urandom > "$t/usr/bin/su"
chmod 4755 "$t/usr/bin/su"
ln "$t/usr/bin/su" "$t/usr/bin/su-link"
ln -s usr/bin "$t/bin"
ln -s "$(printf 'x%.0s' $(seq 300))" "$t/long-target"
mkfifo "$t/fifo"
setfattr -n user.note -v hello "$t/etc/shadow" 2>/dev/null || true
"$bin" create -f "$work/a.tar" -C "$work" t
"$bin" create -f "$work/a.tar.zst" -C "$work" t
"$bin" create -f "$work/r.tar.zst" --context rootless -C "$work" t 2>/dev/null || true
# An incremental chain: the increment's index has carried entries, deleted
# names and a change per member.
sleep 2 # files changed before the full archive's state time are carried
"$bin" create -f "$work/full.tar.zst" --incremental -C "$work" t
rm "$t/fifo"
printf 'changed\n' >> "$t/etc/shadow"
"$bin" create -f "$work/inc.tar.zst" --incremental-from "$work/full.tar.zst" -C "$work" t
for a in "$work"/*.tar "$work"/*.tar.zst; do
  cp "$a" "corpus/tar_reader/own-$(basename "$a")"
done
for a in "$work"/*.tar.zst; do
  cp "$a" "corpus/frame_index/own-$(basename "$a")"
  # The trailer alone (index frame + seek table): the interesting part.
  python3 - "$a" "corpus/frame_index/trailer-$(basename "$a")" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
n = struct.unpack('<I', d[-9:-5])[0]
tl = 8 + 8 * n + 9
end = sum(struct.unpack('<I', d[len(d) - tl + 8 + 8 * i:][:4])[0] for i in range(n))
open(sys.argv[2], 'wb').write(d[end:])
# The index payload with its frame sizes in front, as the target reads them.
sizes = [struct.unpack('<I', d[len(d) - tl + 12 + 8 * i:][:4])[0] for i in range(n)][:4]
payload = d[end + 8:len(d) - tl]
open(sys.argv[2] + '.payload', 'wb').write(bytes([len(sizes)]) + b''.join(struct.pack('<I', s) for s in sizes) + payload)
PY
done

# pax: the extended headers of our plain archive and of pax archives in the corpus.
python3 - "$work/a.tar" corpus/pax "$shared" <<'PY'
import sys, hashlib, glob, os
srcs = [sys.argv[1]] + glob.glob(sys.argv[3] + '/**/*.tar', recursive=True)
for src in srcs:
    try:
        data = open(src, 'rb').read()
    except OSError:
        continue
    for off in range(0, len(data) - 512, 512):
        h = data[off:off + 512]
        if h[156:157] in (b'x', b'g') and h[257:262] == b'ustar':
            try:
                size = int(h[124:136].split(b'\0')[0] or b'0', 8)
            except ValueError:
                continue
            rec = data[off + 512:off + 512 + size]
            open(os.path.join(sys.argv[2], hashlib.sha1(rec).hexdigest()[:16]), 'wb').write(rec)
PY
printf '30 mtime=1350244992.023960108\n' > corpus/pax/mtime
printf '1350244992.023960108' > corpus/pax/time
printf -- '-1.25' > corpus/pax/negtime
printf '18 uid=4294967296\n12 gid=12abc\n' > corpus/pax/ids

# idmap_spec: SPEC lists, uid_map files, subuid files.
printf '0:1001:1,1:100000:65536' > corpus/idmap_spec/rootless
printf '0:0:4294967295' > corpus/idmap_spec/identity
printf '         0       1001          1\n         1     100000      65536\n' > corpus/idmap_spec/proc
printf 'alice:100000:65536\n1000:200000:65536\nbob:300000:10\n# c\n' > corpus/idmap_spec/subuid
printf '4294967294:0:1,0:4294967294:1' > corpus/idmap_spec/edges

# mtree: a manifest the manifest sink writes, and a hand-written one.
mkdir "$work/out"
"$bin" extract -f "$work/a.tar" -C "$work/out" --owners "manifest=$work/m.mtree" 2>/dev/null || true
[ -f "$work/m.mtree" ] && cp "$work/m.mtree" corpus/mtree/sink
printf '#mtree\n/set type=file uid=0 gid=0 mode=0644\n./etc type=dir\nshadow gid=42 mode=0640\n..\n./dev/null type=char device=native,1,3\n./bin type=link link=usr/bin \\\n time=1700000000.000000005\n/unset all\n./a\\040b type=dir\n' > corpus/mtree/hand
for t in tar_reader pax frame_index idmap_spec mtree; do
  echo "$t: $(ls "corpus/$t" | wc -l) seeds"
done
