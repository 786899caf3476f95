//! Keeping an idle shim small (target ≤ 1 MB PSS). Setting up a container runs much code once
//! (spec parsing, mounts, seccomp, ...) and the kernel maps it in 64 KiB fault-around chunks;
//! the idle loop needs little of it. After setup [`release_startup_memory`] returns the freed
//! heap to the kernel (`malloc_trim`) and unmaps the resident pages of our executable's
//! read-only, never-relocated segments (`MADV_DONTNEED` on a private file mapping just drops our
//! page-table entries: the next use faults the same bytes back in from the page cache). The
//! writable and RELRO segments are left alone: their pages hold relocated data.

/// Unmap startup-only pages; errors are ignored (it is an optimisation).
pub fn release_startup_memory() {
    // SAFETY: malloc_trim only releases free heap memory; the shim is single threaded.
    unsafe { libc::malloc_trim(0) };
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for (start, end) in clean_segments(&maps, &exe.to_string_lossy()) {
        // SAFETY: [start, end) is a read-only private mapping of our own executable file (code
        // or read-only data at file offset 0, which the dynamic linker never writes), so its
        // pages equal the file's and dropping them loses nothing.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// Address ranges of `exe`'s code segment (`r-xp`) and of its first read-only segment (`r--p`
/// at offset 0), from /proc/self/maps.
fn clean_segments(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for line in maps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || f[5..].join(" ") != exe {
            continue;
        }
        let offset = usize::from_str_radix(f[2], 16).unwrap_or(usize::MAX);
        if f[1] == "r-xp" || (f[1] == "r--p" && offset == 0) {
            if let Some((a, b)) = f[0].split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    out.push((a, b));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clean_segments;

    #[test]
    fn picks_code_and_leading_rodata_only() {
        let maps = "\
1000-2000 r--p 00000000 fe:00 1 /usr/bin/pier-shim
2000-5000 r-xp 00001000 fe:00 1 /usr/bin/pier-shim
5000-6000 r--p 00004000 fe:00 1 /usr/bin/pier-shim
6000-7000 rw-p 00005000 fe:00 1 /usr/bin/pier-shim
8000-9000 r-xp 00000000 fe:00 2 /usr/lib/libc.so.6
a000-b000 rw-p 00000000 00:00 0 [heap]
";
        assert_eq!(
            clean_segments(maps, "/usr/bin/pier-shim"),
            vec![(0x1000, 0x2000), (0x2000, 0x5000)]
        );
    }
}
