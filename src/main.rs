//! The `alientar` command: parse (clap) → resolve into the library's plain
//! options → run → exit code (0 ok, 1 per-file errors, 2 fatal).

mod cli;

fn main() {
    std::process::exit(cli::run());
}
