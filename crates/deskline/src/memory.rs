//! Gives memory the process no longer uses back to the operating system.
//!
//! glibc's allocator keeps freed memory in its per-thread arenas for reuse. After a burst
//! (25 stalled requests each holding a quarter-MiB body, say) those pages stay resident for
//! good although nothing uses them (docs/benchmarks.md, "Memory after a burst of stalled
//! connections"). `malloc_trim` hands the free pages of every arena back. It walks the heap,
//! so it runs on a timer rather than after every request. Elsewhere (other C libraries or
//! systems) this is a no-op.

use std::time::Duration;

/// How often free memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Hands free memory back every [`TRIM_EVERY`], until the task is dropped.
pub async fn return_free_memory_periodically() {
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        return_free_memory();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_free_memory() {
    // SAFETY: malloc_trim only reorganises the allocator's own free lists and may be called
    // from any thread at any time; 0 keeps no extra padding at the top of the heap.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_free_memory() {}
