//! The fixtures are what they claim, checked without pierd: every layer blob unpacks (with
//! pier-image's `apply_layer`) to its stated diff ID, and the unpacked layers stacked by the
//! kernel's overlayfs show exactly the fixture's expected file tree (whiteouts, opaque dirs).
//! This keeps the image tests honest: when they fail, pierd is wrong, not the fixture.

use std::path::PathBuf;

use pier_e2e::Overlay;
use pier_testkit::fixtures::{self, busybox_bin, diff_tree, Format};
use pier_testkit::registry::registry_bin;
use pier_testkit::{Compression, Image, Registry};

fn skip() -> bool {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: needs root (overlay mounts, whiteout device nodes)");
        return true;
    }
    if !registry_bin().is_file() || !busybox_bin().is_file() {
        println!("SKIP: docker-registry or busybox-static not installed");
        return true;
    }
    false
}

/// Fetch each layer back from the registry, unpack it, check its diff ID; returns the dirs.
fn unpack(reg: &Registry, img: &Image, into: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for (i, l) in img.layers.iter().enumerate() {
        let blob = reg.request(
            "GET",
            &format!("/v2/{}/blobs/{}", img.repo, l.digest),
            &[],
            None,
        );
        assert_eq!(blob.status, 200);
        assert_eq!(pier_testkit::sha256_digest(&blob.body), l.digest);
        let dir = into.join(i.to_string());
        std::fs::create_dir(&dir).unwrap();
        let applied = pier_image::layer::apply_layer(&blob.body[..], &dir)
            .unwrap_or_else(|e| panic!("apply layer {i} of {}: {e}", img.reference()));
        assert_eq!(applied.diff_id.to_string(), l.diff_id, "layer {i}");
        assert_eq!(l.diff_id, img.diff_ids[i]);
        dirs.push(dir);
    }
    dirs
}

fn check_stack(reg: &Registry, img: &Image) {
    let tmp = tempfile::tempdir().unwrap();
    let mut dirs = unpack(reg, img, tmp.path());
    if dirs.len() == 1 {
        // overlay needs two lowers: add an empty one at the bottom.
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        dirs.insert(0, empty);
    }
    let ovl = Overlay::mount(&dirs).expect("overlay mount");
    let diffs = diff_tree(ovl.path(), &img.files);
    assert!(diffs.is_empty(), "{}: {diffs:#?}", img.reference());
}

#[test]
fn every_fixture_stacks_to_its_expected_tree() {
    if skip() {
        return;
    }
    let reg = Registry::start();
    let mut imgs = vec![
        fixtures::busybox(&reg),
        fixtures::whiteouts(&reg),
        fixtures::schema2(&reg),
        fixtures::oci(&reg),
        fixtures::compressed(&reg, Compression::Gzip),
        fixtures::compressed(&reg, Compression::Zstd),
        fixtures::compressed(&reg, Compression::None),
    ];
    let idx = fixtures::multiarch(&reg, Format::Oci);
    imgs.extend(idx.platforms.iter().cloned());
    for img in &imgs {
        check_stack(&reg, img);
    }
}

#[test]
fn busybox_rootfs_runs_its_shell() {
    if skip() {
        return;
    }
    // The busybox layer is a usable rootfs: chroot into it and run sh.
    let tmp = tempfile::tempdir().unwrap();
    let tar = fixtures::busybox_rootfs_tar();
    let applied = pier_image::layer::apply_layer(&tar[..], tmp.path()).unwrap();
    assert_eq!(
        applied.diff_id.to_string(),
        pier_testkit::sha256_digest(&tar)
    );
    let out = std::process::Command::new(busybox_bin())
        .arg("chroot")
        .arg(tmp.path())
        .args(["/bin/sh", "-c", "echo hi from $(id -un); ls /bin | wc -l"])
        .env_clear()
        .env("PATH", "/bin")
        .output()
        .expect("chroot");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("hi from root\n"), "{stdout}");
}
