//! The `alientar` command: parse (clap) → resolve into the library's plain
//! options → run → exit code (0 ok, 1 per-file errors, 2 fatal).

mod cli;
mod oldstyle;

/// mimalloc instead of glibc's allocator: an entry's buffers are allocated
/// by one thread and freed by another (reader and worker in extract), and
/// mimalloc, with its transparent huge pages, measured 5-10 % faster for
/// extract and create, for about twice the peak RSS (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cli::run());
}
