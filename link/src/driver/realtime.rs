//! Real-time operation as heartbeat did it (`realtime on`): memory locked so
//! a heartbeat never waits for a page-in, and a low real-time priority so a
//! busy machine does not delay it.
//!
//! The only `unsafe` of the crate: nix has no safe wrapper for
//! `mlockall(MCL_ONFAULT)` nor for `sched_setscheduler`. Both calls take
//! plain integers (and a pointer to a local struct), touch no memory of
//! ours and cannot break Rust's invariants; they only change how the kernel
//! treats the process.
#![allow(unsafe_code)]

use std::io;

/// Locks the process's memory: pages mapped now and later stay resident once
/// touched (`MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT`). With `MCL_ONFAULT`
/// the resident set stays what the process uses: untouched stack and heap
/// reservations are not faulted in.
pub fn lock_memory() -> io::Result<()> {
    // SAFETY: mlockall takes a flag word and reads no memory of ours.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Puts the calling thread (and the threads it creates later) under
/// `SCHED_RR` at `priority` (1–99; heartbeat used a low one). With
/// `SCHED_RESET_ON_FORK`: processes it forks (resource agents, scripts)
/// run under the normal policy, so a runaway script cannot starve the
/// machine.
pub fn set_round_robin(priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority.clamp(1, 99)),
    };
    // SAFETY: `param` is a valid, initialised sched_param that outlives the
    // call; pid 0 is the calling thread.
    let rc =
        unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_out_of_range_are_clamped_not_passed_through() {
        // As root this succeeds; elsewhere the kernel refuses with EPERM.
        // Either way the call returns instead of crashing, and the policy
        // is reset so the test runner is left as it was.
        match set_round_robin(0) {
            Ok(()) => {
                let param = libc::sched_param { sched_priority: 0 };
                // SAFETY: as above.
                let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
                assert_eq!(rc, 0);
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM)),
        }
    }
}
