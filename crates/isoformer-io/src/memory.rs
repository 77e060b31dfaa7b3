//! The process's allocator settings (native binaries call [`keep_freed_memory`] first thing).

/// Keeps memory the program frees for its next allocations instead of handing it back to the
/// kernel. A forward pass allocates its activations afresh (megabytes per layer); glibc's malloc
/// serves blocks over its mmap threshold (128 KiB at first) with fresh mappings and unmaps them
/// on free, and trims the heap's top, so every pass faulted its working memory in again, page by
/// page. Measured on a virtualised Xeon (2 cores, ESM-2 150M, 8 × 256 tokens, flex): 730,000
/// page faults over load and four passes before, 296,000 after; a pass 5.4 → 4.9 s; peak
/// resident memory unchanged. Blocks over 32 MiB (glibc's ceiling for the threshold) are still
/// mapped one by one. Elsewhere than glibc on Linux: nothing to do.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        const TRIM_THRESHOLD: libc::c_int = 1 << 30;
        const TOP_PAD: libc::c_int = 256 << 20;
        // SAFETY: mallopt only changes malloc's tuning parameters; called before any thread
        // is started, with values glibc accepts (it returns 0 and changes nothing otherwise).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
            libc::mallopt(libc::M_TOP_PAD, TOP_PAD);
        }
    }
}

/// Hands the memory freed so far back to the kernel, holes in the heap included (after a large
/// one-off release, such as the f32 copies of weights that int8 compute no longer reads; with
/// [`keep_freed_memory`] it would otherwise stay resident). Elsewhere than glibc on Linux:
/// nothing to do.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// On top of [`keep_freed_memory`]: blocks over 32 MiB come from the heap too, instead of a fresh
/// mapping each (glibc cannot raise its mmap threshold further), so they are reused pass after
/// pass. Enformer's convolution tower allocates such blocks on every tile: measured on a
/// virtualised Xeon with int8 compute, an Enformer pass 18.6–18.9 → 15.2–17.5 s, page faults
/// over two passes 4.38 M → 0.70 M, peak resident memory +130 MiB (1,247 → 1,379). The same in
/// f32 gained less (29.2–30.5 → 28.3–29.3 s) for +350 MiB, so the int8 path alone asks for it.
pub fn keep_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: as in keep_freed_memory; with no mappings allowed, glibc still maps a block when
    // the heap cannot grow.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
    }
}
