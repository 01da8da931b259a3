#!/usr/bin/env python3
"""Make a tree of many tiny files, the shape of home directories,
node_modules and package caches: N regular files of 0-96 bytes, 500 to a
directory (d00000/f0000 ...), mode 0644, each file's contents different (its
number, then words). Used by benches/compare.sh's `scale` part.

usage: benches/tinytree.py DIR N [--jobs J] [--seed S]

Deterministic: names, sizes and contents depend only on N and the seed, not
on the number of jobs nor on the machine, because every directory draws
from a generator seeded with (seed, directory number). The times are those
of the creation (a real tree's vary too); copy the tree with `cp -a` to get
two identical ones.

Fast: the work is a few system calls per file, and directories are shared
among J processes (default: the number of CPUs). One million files took
10-14 s on tmpfs on this project's two busy cores, and take 3.8 GiB there
(a page per file that is not empty).
"""
import argparse
import os
import random
import sys

FILES_PER_DIR = 500
MAX_SIZE = 96
# A vocabulary of short tokens, as in source files and JSON manifests:
# compressible, but less than a repeated string.
WORDS = (b"alpha beta gamma delta node modules index js json { } ( ) [ ] = ; :"
         b" return function const require export default true false null"
         b" 0 1 2 42 0x1f path name version").split() + [b"\n"]


def make_dir(root, d, n, seed):
    """Fill directory number d with files d*500 .. up to n, as f%04d."""
    r = random.Random(f"{seed}/{d}")
    first = d * FILES_PER_DIR
    count = min(FILES_PER_DIR, n - first)
    # One stream of words per directory; each file is its number and then
    # a slice of the stream from a random place (cheaper than drawing
    # every word, and as varied).
    stream = b" ".join(r.choices(WORDS, k=count * 8 + 64))
    dfd = os.open(os.path.join(root, "d%05d" % d), os.O_RDONLY | os.O_DIRECTORY)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        for f in range(count):
            size = r.randint(0, MAX_SIZE)
            at = r.randrange(len(stream) - MAX_SIZE)
            body = (b"%d " % (first + f) + stream[at:at + size])[:size]
            fd = os.open("f%04d" % f, flags, 0o644, dir_fd=dfd)
            if body:
                os.write(fd, body)
            os.close(fd)
    finally:
        os.close(dfd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="the tree's root (must not exist)")
    ap.add_argument("n", type=int, help="number of files")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=26)
    a = ap.parse_args()
    if a.n < 0 or a.jobs < 1:
        ap.error("n must be >= 0 and jobs >= 1")
    os.umask(0o022)
    os.mkdir(a.dir, 0o755)
    ndirs = (a.n + FILES_PER_DIR - 1) // FILES_PER_DIR
    # The directories first, in order, so that the order in which the
    # root lists them (tar's order) does not depend on the jobs' timing.
    for d in range(ndirs):
        os.mkdir(os.path.join(a.dir, "d%05d" % d), 0o755)
    pids = []
    for j in range(a.jobs):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                # Directories dealt out round-robin: equal shares, and
                # each job's are spread over the tree.
                for d in range(j, ndirs, a.jobs):
                    make_dir(a.dir, d, a.n, a.seed)
            except OSError as e:
                print(f"tinytree.py: {e}", file=sys.stderr)
                code = 1
            os._exit(code)
        pids.append(pid)
    failed = sum(os.waitpid(p, 0)[1] != 0 for p in pids)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
