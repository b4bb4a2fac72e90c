//! How the process asks glibc's allocator to behave.
//!
//! Each password hash fills a buffer of `argon2_memory_kib` (19 MiB by
//! default), and request bodies can reach `server.max_request_bytes`. glibc
//! serves blocks that large from its heaps and keeps them after they are
//! freed, so the resident size climbs to hundreds of MiB after a few logins
//! and stays there. Served from `mmap` instead, they go back to the system
//! when freed; small allocations, where the heaps are fast, are unaffected.

/// Blocks of at least this many bytes are mapped on their own and unmapped
/// when freed.
const MMAP_THRESHOLD_BYTES: i32 = 128 * 1024;

/// Sets the allocator up for this server's allocation pattern. Idempotent;
/// does nothing where the C library is not glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is safe to
        // call at any time, from any thread, and fails by returning 0.
        let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
        if applied == 0 {
            tracing::warn!("could not lower the allocator's mmap threshold; memory may stay high");
        }
    }
}
