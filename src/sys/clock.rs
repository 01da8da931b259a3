//! The clock the kernel stamps files' change times with.

use rustix::time::{ClockId, clock_gettime};

use crate::entry::Time;

/// Now, by the coarse realtime clock: the kernel sets a file's change time
/// from it (or from a finer reading, never earlier), so a file changed
/// after this call has a change time no earlier than its answer (unless
/// the clock is set back).
pub fn coarse_now() -> Time {
    let t = clock_gettime(ClockId::RealtimeCoarse);
    Time {
        sec: t.tv_sec,
        nsec: t.tv_nsec as u32,
    }
}
