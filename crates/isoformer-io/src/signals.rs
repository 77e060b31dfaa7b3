//! Temporary files and interruptions: every temporary output ([`crate::AtomicOutput`]'s
//! `.NAME.tmp-PID`, a directory being assembled) is registered here while it exists, and
//! [`remove_temporaries_on_signals`] makes SIGINT, SIGTERM and SIGHUP remove them all and end the
//! process with the shell's status for the signal (130, 143, 129). Also [`DirLock`]: an output
//! directory locked against a second writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::IoError;

/// The temporary paths that exist now (files or directories).
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Remember a temporary path, to be removed if a signal ends the process.
pub fn register(path: &Path) {
    live().push(path.to_path_buf());
}

/// Forget a temporary path (it was renamed into place or removed).
pub fn unregister(path: &Path) {
    let mut live = live();
    if let Some(k) = live.iter().rposition(|p| p == path) {
        live.swap_remove(k);
    }
}

/// A registered temporary path, unregistered when dropped (the owner removes or renames it).
pub struct Temporary(PathBuf);

impl Temporary {
    pub fn new(path: &Path) -> Self {
        register(path);
        Self(path.to_path_buf())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        unregister(&self.0);
    }
}

/// Remove every registered temporary path (files, and directories with what they hold).
fn remove_all() {
    for p in live().drain(..) {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(&p);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&p);
            }
            Err(_) => {}
        }
    }
}

/// From now on SIGINT, SIGTERM and SIGHUP remove the registered temporary paths and end the
/// process with status 128 + the signal's number (a signal ignored when the process started,
/// as `nohup` and background jobs of a script have it, stays ignored). The handler only writes
/// the signal's number to a pipe; a thread of its own reads it and does the removal as ordinary
/// code, whichever thread the signal interrupted.
#[cfg(unix)]
pub fn remove_temporaries_on_signals() {
    use std::sync::atomic::Ordering;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: plain libc calls; `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return;
    }
    let [read_end, write_end] = fds;
    SIGNAL_PIPE.store(write_end, Ordering::SeqCst);
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let mut sig = 0u8;
        loop {
            // SAFETY: reads one byte into a local.
            let n = unsafe { libc::read(read_end, (&mut sig as *mut u8).cast(), 1) };
            if n == 1 {
                remove_all();
                // SAFETY: ends the process without running destructors (the main thread may be
                // anywhere).
                unsafe { libc::_exit(128 + sig as libc::c_int) };
            }
            if n == 0 || (n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted) {
                return;
            }
        }
    });
    if spawned.is_err() {
        return;
    }
    for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only calls write(2), which is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(s, std::ptr::null(), &mut old) != 0 || old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(s, &action, std::ptr::null_mut());
        }
    }
}

/// The write end of the pipe the signal handler writes to.
#[cfg(unix)]
static SIGNAL_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(std::sync::atomic::Ordering::SeqCst);
    let byte = sig as u8;
    // SAFETY: write(2) of one byte from a local: async-signal-safe.
    unsafe {
        libc::write(fd, (&byte as *const u8).cast(), 1);
    }
}

#[cfg(not(unix))]
pub fn remove_temporaries_on_signals() {}

/// An exclusive lock on a directory (`flock` on the directory itself: no lock file is left
/// behind), held until dropped; a second process asking for it is refused at once.
pub struct DirLock {
    #[cfg(unix)]
    _dir: std::fs::File,
}

impl DirLock {
    /// Lock `dir` (which must exist) or say who holds it.
    #[cfg(unix)]
    pub fn acquire(dir: &Path) -> Result<Self, IoError> {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(dir).map_err(|source| IoError::Lock { path: dir.into(), source })?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(if e.kind() == std::io::ErrorKind::WouldBlock {
                IoError::Locked { path: dir.into() }
            } else {
                IoError::Lock { path: dir.into(), source: e }
            });
        }
        Ok(Self { _dir: f })
    }

    #[cfg(not(unix))]
    pub fn acquire(_dir: &Path) -> Result<Self, IoError> {
        Ok(Self {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_directory_is_refused_until_released() {
        let dir = std::env::temp_dir().join(format!("isoformer-io-{}-lock", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = DirLock::acquire(&dir).unwrap();
        let e = DirLock::acquire(&dir).err().unwrap().to_string();
        assert!(e.contains("already in use by another isoformer run"), "{e}");
        drop(held);
        DirLock::acquire(&dir).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no lock file is left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn registry_forgets_what_is_unregistered() {
        let p = Path::new("/nonexistent/isoformer-registry-test");
        let t = Temporary::new(p);
        assert!(live().iter().any(|q| q == p));
        drop(t);
        assert!(!live().iter().any(|q| q == p));
    }
}
