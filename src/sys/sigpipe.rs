//! Ending the process as a write to a closed pipe ends GNU tools.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with `EPIPE`
//! instead of killing the process; alientar turns that error back into the
//! signal once it reaches the top, so that `alientar list | head` ends as
//! `tar -t | head` does: silently, with the status a shell shows as 141.

/// Die of SIGPIPE: restore its default action, unblock it and raise it.
pub fn die_of_sigpipe() -> ! {
    // SAFETY: plain libc calls on a local signal set; SIG_DFL installs no
    // handler, so no code of ours runs in signal context.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(libc::SIGPIPE);
    }
    // Not reached; the status a shell would show, should the signal fail.
    std::process::exit(128 + libc::SIGPIPE)
}
