//! A small tmpfs for full-disk tests (feature `testing`): mounted on a fresh directory, filled on
//! demand, unmounted and removed when dropped, so nothing stays mounted even when a test fails.
//!
//! Mounting needs root. [`Tmpfs::mount`] panics with a message saying so when `mount` fails;
//! the tests that use it are `#[ignore = "needs root: mounts a tmpfs"]` (`make test` runs
//! ignored tests too).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

const FILLER: &str = "filler";

/// A mounted tmpfs of a fixed size.
#[derive(Debug)]
pub struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` on a new directory under the system temp directory. Panics,
    /// saying root is needed, when it cannot.
    pub fn mount(bytes: u64) -> Tmpfs {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mdlc-tmpfs-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("creating the mount point {}: {e}", dir.display()));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&dir)
            .output();
        if let Err(why) = mounted(out) {
            let _ = std::fs::remove_dir(&dir);
            panic!(
                "this test needs root to mount a tmpfs (mount -t tmpfs -o size={bytes} tmpfs {}): {why}",
                dir.display()
            )
        }
        Tmpfs { dir }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Fills the file system with a filler file until at most `leave` bytes are free.
    pub fn fill(&self, leave: u64) {
        let path = self.dir.join(FILLER);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        write_until_full(&mut file, &path);
        // free `leave` bytes again (tmpfs counts whole pages)
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        file.set_len(len.saturating_sub(leave))
            .unwrap_or_else(|e| panic!("truncating {}: {e}", path.display()));
    }

    /// Removes the filler file: the space [`Tmpfs::fill`] took is free again.
    pub fn free(&self) {
        let path = self.dir.join(FILLER);
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
    }

    /// Every file under the mount point except the filler, as paths relative to it, sorted.
    pub fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if let Ok(rel) = path.strip_prefix(base) {
                    out.push(rel.display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir, &self.dir, &mut out);
        out.retain(|f| f != FILLER);
        out.sort();
        out
    }
}

/// What a run of `mount` says: mounted, or why not (its stderr, or why it did not run).
fn mounted(out: std::io::Result<Output>) -> Result<(), String> {
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Writes zeros to `file` (at `path`) until the device is full or takes no more; any other
/// error panics, naming the path.
fn write_until_full(file: &mut impl Write, path: &Path) {
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success())
            // busy (a process still holds a file): detach it now, it goes when released
            || Command::new("umount")
                .arg("-l")
                .arg(&self.dir)
                .status()
                .is_ok_and(|s| s.success());
        if unmounted {
            let _ = std::fs::remove_dir(&self.dir);
        } else {
            eprintln!("could not unmount the test tmpfs at {}", self.dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_that_fails_says_why_and_one_that_succeeds_is_mounted() {
        let sh = |script: &str| Command::new("sh").args(["-c", script]).output();
        assert_eq!(mounted(sh("exit 0")), Ok(()));
        assert_eq!(
            mounted(sh("echo 'mount: only root can do that' >&2; exit 1")),
            Err("mount: only root can do that".to_string())
        );
        let missing = Command::new("/nonexistent/mount").output();
        assert!(mounted(missing).unwrap_err().contains("No such file"));
    }

    /// A writer that takes `room` bytes, then fails with `kind`.
    struct Device {
        room: usize,
        kind: std::io::ErrorKind,
        written: usize,
    }

    impl Device {
        fn new(room: usize, kind: std::io::ErrorKind) -> Device {
            Device {
                room,
                kind,
                written: 0,
            }
        }
    }

    impl Write for Device {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.room - self.written);
            if n == 0 {
                return Err(self.kind.into());
            }
            self.written += n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn filling_stops_at_a_full_device() {
        let mut device = Device::new(200_000, std::io::ErrorKind::StorageFull);
        write_until_full(&mut device, Path::new("/t/filler"));
        assert_eq!(device.written, 200_000);
    }

    #[test]
    #[should_panic(expected = "filling /t/filler: permission denied")]
    fn filling_panics_on_any_other_write_error() {
        let mut device = Device::new(100, std::io::ErrorKind::PermissionDenied);
        write_until_full(&mut device, Path::new("/t/filler"));
    }

    #[test]
    #[ignore = "needs root: mounts a tmpfs"]
    fn a_tmpfs_is_mounted_filled_freed_and_gone_after_drop() {
        let fs = Tmpfs::mount(1 << 20);
        let dir = fs.path().to_path_buf();
        std::fs::write(dir.join("a"), b"x").unwrap();
        fs.fill(0);
        let e = std::fs::write(dir.join("b"), vec![1u8; 8192]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
        assert_eq!(e.raw_os_error(), Some(28));
        fs.free();
        std::fs::write(dir.join("b"), vec![1u8; 8192]).unwrap();
        assert_eq!(fs.files(), ["a", "b"]);
        drop(fs);
        assert!(!dir.exists(), "unmounted and removed");
    }
}
