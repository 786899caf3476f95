//! The init process `docker run --init` runs as PID 1 (`/sbin/docker-init -- CMD…`): a static
//! executable built from `init/main.rs` (see there for its behaviour) and embedded here, so
//! pierd carries it and installs it where containers bind-mount it from. Static because it runs
//! in images without any libc.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The static init executable.
pub static BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pier-init"));

/// File name of the installed init.
pub const FILE_NAME: &str = "pier-init";

/// Where docker mounts its init inside the container, and so do we.
pub const CONTAINER_PATH: &str = "/sbin/docker-init";

/// Writes the init to `dir/pier-init` (mode 0755) unless an identical file is there, and
/// returns its path. The write goes to a temporary name renamed over the old file, so running
/// containers that bind-mount the old one keep it.
pub fn install(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join(FILE_NAME);
    if std::fs::read(&path).is_ok_and(|b| b == BINARY) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(BINARY)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o755))?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn init() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = install(d.path()).unwrap();
        (d, p)
    }

    #[test]
    fn is_static() {
        // An ELF with no PT_INTERP program header: no dynamic loader, no libc needed.
        assert_eq!(&BINARY[..4], b"\x7fELF");
        let phoff = u64::from_le_bytes(BINARY[0x20..0x28].try_into().unwrap()) as usize;
        let phentsize = u16::from_le_bytes(BINARY[0x36..0x38].try_into().unwrap()) as usize;
        let phnum = u16::from_le_bytes(BINARY[0x38..0x3a].try_into().unwrap()) as usize;
        assert!(phnum > 0);
        for i in 0..phnum {
            let off = phoff + i * phentsize;
            let ty = u32::from_le_bytes(BINARY[off..off + 4].try_into().unwrap());
            assert_ne!(ty, 3, "PT_INTERP found: the init is dynamically linked");
        }
    }

    #[test]
    fn install_is_idempotent() {
        let (d, p) = init();
        let m1 = std::fs::metadata(&p).unwrap();
        assert_eq!(m1.permissions().mode() & 0o777, 0o755);
        let p2 = install(d.path()).unwrap();
        assert_eq!(p, p2);
        assert_eq!(std::fs::read(&p).unwrap(), BINARY);
    }

    #[test]
    fn exit_codes_pass_through() {
        let (_d, p) = init();
        let st = Command::new(&p)
            .args(["--", "sh", "-c", "exit 3"])
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(3));
        let st = Command::new(&p).args(["true"]).status().unwrap();
        assert_eq!(st.code(), Some(0));
        // Killed by a signal: 128 + N.
        let st = Command::new(&p)
            .args(["--", "sh", "-c", "kill -USR1 $$"])
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(128 + 10));
    }

    #[test]
    fn exec_failures() {
        let (_d, p) = init();
        let out = Command::new(&p)
            .args(["--", "/nonexistent/x"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(127));
        assert!(String::from_utf8_lossy(&out.stderr)
            .contains("exec /nonexistent/x failed: No such file or directory"));
        let out = Command::new(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
    }

    #[test]
    fn forwards_signals_to_the_child() {
        let (_d, p) = init();
        let mut c = Command::new(&p)
            .args([
                "--",
                "sh",
                "-c",
                "trap 'exit 42' TERM; while :; do sleep 0.05; done",
            ])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        assert_eq!(c.wait().unwrap().code(), Some(42));
    }
}
