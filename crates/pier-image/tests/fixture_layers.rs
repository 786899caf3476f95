//! The testkit's fixture layers (the ones pushed to registries for the daemon's tests), unpacked
//! through [`Snapshots`] and stacked with a real overlay mount, must show exactly what the
//! testkit's model of overlayfs says. Needs root (overlay mounts, whiteout devices).

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};

use pier_image::{chain_ids, Digest, Snapshots};
use pier_testkit::layer::{stack, Compression, LayerBuilder};

/// Unmounts on drop (lazy, so a failing assertion never leaves a mount behind).
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
    }
}

fn mount_stack(snaps: &Snapshots, chains: &[Digest], mnt: &Path, empty: &Path) -> Mount {
    // overlay lists lowerdirs top first, and wants two of them without an upperdir.
    let mut lower: Vec<String> = chains
        .iter()
        .rev()
        .map(|c| snaps.layer_dir(c).display().to_string())
        .collect();
    lower.push(empty.display().to_string());
    let opts = CString::new(format!("lowerdir={}", lower.join(":"))).unwrap();
    rustix::mount::mount(
        "overlay",
        mnt,
        "overlay",
        rustix::mount::MountFlags::RDONLY,
        Some(opts.as_c_str()),
    )
    .expect("mount overlay (root and overlayfs required)");
    Mount(mnt.to_path_buf())
}

fn check(layers: &[&LayerBuilder], compression: Compression) {
    let dir = tempfile::tempdir().unwrap();
    let snaps = Snapshots::open(dir.path().join("snapshots")).unwrap();
    let built: Vec<_> = layers.iter().map(|l| l.build(compression)).collect();
    let diff_ids: Vec<Digest> = built.iter().map(|l| l.diff_id.parse().unwrap()).collect();
    let chains = chain_ids(&diff_ids);
    for ((layer, chain), diff) in built.iter().zip(&chains).zip(&diff_ids) {
        let applied = snaps.unpack_layer(chain, diff, &layer.blob[..]).unwrap();
        assert_eq!(&applied.diff_id, diff);
    }
    let (mnt, empty) = (dir.path().join("mnt"), dir.path().join("empty"));
    fs::create_dir(&mnt).unwrap();
    fs::create_dir(&empty).unwrap();
    let guard = mount_stack(&snaps, &chains, &mnt, &empty);
    let diffs = pier_testkit::fixtures::diff_tree(&mnt, &stack(layers));
    drop(guard);
    assert!(
        diffs.is_empty(),
        "{compression:?}: overlay view differs from the model: {diffs:#?}"
    );
}

#[test]
fn whiteout_fixture_stacks_as_the_model_says() {
    let ls = pier_testkit::fixtures::whiteout_layers();
    let refs: Vec<&LayerBuilder> = ls.iter().collect();
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        check(&refs, c);
    }
}

#[test]
fn busybox_fixture_unpacks_as_built() {
    if !pier_testkit::fixtures::busybox_bin().exists() {
        eprintln!("skip: no busybox-static binary");
        return;
    }
    check(
        &[pier_testkit::fixtures::busybox_layer()],
        Compression::Gzip,
    );
}
