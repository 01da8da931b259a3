//! The `alientar` command: parse (clap) → resolve into the library's plain
//! options → run → exit status ([`cli::Exit`]: 0 ok, 1 per-file errors,
//! 2 fatal).

mod cli;

/// mimalloc instead of glibc's allocator: an entry's buffers are allocated
/// by one thread and freed by another (reader and worker in extract), a
/// pattern mimalloc serves faster, for a larger peak RSS
/// (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cli::run().code());
}
