//! The `alientar` command: parse (clap) → resolve into the library's plain
//! options → run → exit code (0 ok, 1 per-file errors, 2 fatal).

mod cli;

/// mimalloc instead of glibc's allocator: extraction allocates an entry's
/// buffers on the reading thread and frees them on a worker, which glibc
/// makes slow (the freeing thread locks the other thread's arena).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cli::run());
}
