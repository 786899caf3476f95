//! Image formats pulled through the raw API: whiteouts stacked by overlay, Docker schema2 and
//! OCI manifests, manifest lists / OCI indexes with platform selection, zstd layers.

use std::path::PathBuf;

use pier_e2e::{api_inspect, api_pull, chain_ids, content_store_problems, setup, Overlay};
use pier_testkit::fixtures::{self, diff_tree, host_arch, other_arch, Format};
use pier_testkit::{Compression, Daemon, Image};
use serde_json::json;

fn pull_ok(d: &Daemon, img: &Image) {
    if let Err(e) = api_pull(d, &img.name(), &img.tag, None) {
        panic!("pull {}: {e}\npierd log:\n{}", img.reference(), d.log());
    }
}

/// The common checks after any pull: the image is there with the fixture's config and layers.
fn assert_pulled(d: &Daemon, img: &Image) {
    let v = api_inspect(d, &img.reference())
        .unwrap_or_else(|| panic!("{} not found after pull", img.reference()));
    assert_eq!(v["Id"], json!(img.id()), "{v:#}");
    assert_eq!(v["RootFS"]["Layers"], json!(img.diff_ids));
    assert_eq!(v["Architecture"], json!(img.architecture));
    assert!(
        v["RepoDigests"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(img.repo_digest()))),
        "RepoDigests {} missing {}",
        v["RepoDigests"],
        img.repo_digest()
    );
}

/// Unpacked layer dirs (bottom first) of an image: from GraphDriver data when the daemon
/// reports it (docker's overlay2 shape), else `<data-root>/snapshots/layers/<chain>/fs`.
fn layer_dirs(d: &Daemon, img: &Image) -> Vec<PathBuf> {
    let v = api_inspect(d, &img.reference()).expect("image");
    let data = &v["GraphDriver"]["Data"];
    if let Some(upper) = data["UpperDir"].as_str() {
        let mut dirs: Vec<PathBuf> = data["LowerDir"]
            .as_str()
            .unwrap_or("")
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        dirs.reverse(); // LowerDir lists the topmost lower first
        dirs.push(upper.into());
        if dirs.iter().all(|p| p.is_dir()) && dirs.len() == img.diff_ids.len() {
            return dirs;
        }
    }
    chain_ids(&img.diff_ids)
        .iter()
        .map(|c| {
            d.data_root()
                .join("snapshots/layers")
                .join(c.trim_start_matches("sha256:"))
                .join("fs")
        })
        .collect()
}

#[test]
fn whiteouts_and_opaque_dirs_stack_to_expected_tree() {
    let Some(env) = setup() else { return };
    let img = fixtures::whiteouts(&env.reg);
    pull_ok(&env.d, &img);
    assert_pulled(&env.d, &img);
    let dirs = layer_dirs(&env.d, &img);
    assert_eq!(dirs.len(), 3);
    for dir in &dirs {
        assert!(dir.is_dir(), "layer dir {} missing", dir.display());
    }
    let ovl = Overlay::mount(&dirs).expect("mount overlay of the layer dirs");
    let diffs = diff_tree(ovl.path(), &img.files);
    assert!(
        diffs.is_empty(),
        "overlay view differs from expected: {diffs:#?}"
    );
    // The whiteouts are overlayfs whiteouts (0/0 char devices), not `.wh.` files.
    let found = pier_e2e::files_under(&dirs[1]);
    assert!(
        found.iter().all(|f| !f.to_string_lossy().contains(".wh.")),
        "{found:?}"
    );
    assert!(content_store_problems(&env.d).is_empty());
}

#[test]
fn schema2_and_oci_manifests_both_pull() {
    let Some(env) = setup() else { return };
    let s = fixtures::schema2(&env.reg);
    let o = fixtures::oci(&env.reg);
    assert_eq!(s.id(), o.id(), "fixtures share their config");
    pull_ok(&env.d, &s);
    assert_pulled(&env.d, &s);
    pull_ok(&env.d, &o);
    assert_pulled(&env.d, &o);
    // One image, two names and two repo digests.
    let v = api_inspect(&env.d, &o.reference()).unwrap();
    let mut tags: Vec<String> = serde_json::from_value(v["RepoTags"].clone()).unwrap();
    tags.sort();
    assert_eq!(tags, [o.reference(), s.reference()]);
    let digests = v["RepoDigests"].as_array().unwrap();
    assert_eq!(digests.len(), 2, "{digests:?}");
    assert!(content_store_problems(&env.d).is_empty());
}

fn multiarch(format: Format) {
    let Some(env) = setup() else { return };
    let idx = fixtures::multiarch(&env.reg, format);
    // Default: the host platform, and the repo digest is the index digest.
    pull_ok(&env.d, &idx);
    let v = api_inspect(&env.d, &idx.reference()).unwrap();
    assert_eq!(v["Architecture"], json!(host_arch()));
    assert_eq!(v["Id"], json!(idx.platform(host_arch()).unwrap().id()));
    assert_eq!(v["RepoDigests"], json!([idx.repo_digest()]));

    // Explicit platform picks the other entry.
    let other = idx.platform(other_arch()).unwrap();
    if let Err(e) = api_pull(
        &env.d,
        &idx.name(),
        "latest",
        Some(&format!("linux/{}", other_arch())),
    ) {
        panic!(
            "pull --platform linux/{}: {e}\n{}",
            other_arch(),
            env.d.log()
        );
    }
    let v = api_inspect(&env.d, &idx.reference()).unwrap();
    assert_eq!(v["Architecture"], json!(other_arch()), "{v:#}");
    assert_eq!(v["Id"], json!(other.id()));
    assert_eq!(v["RootFS"]["Layers"], json!(other.diff_ids));
    if other_arch() == "arm64" {
        assert_eq!(v["Variant"], json!("v8"));
    }
    // The host image is still there by ID, untagged now.
    assert!(api_inspect(&env.d, idx.platform(host_arch()).unwrap().id()).is_some());

    // A platform the index does not have.
    let e = api_pull(&env.d, &idx.name(), "latest", Some("linux/s390x")).unwrap_err();
    assert!(
        e.contains("no matching manifest for linux/s390x"),
        "unexpected error: {e}"
    );
}

#[test]
fn oci_index_picks_platform() {
    multiarch(Format::Oci);
}

#[test]
fn docker_manifest_list_picks_platform() {
    multiarch(Format::Docker);
}

#[test]
fn gzip_zstd_and_uncompressed_layers_pull() {
    let Some(env) = setup() else { return };
    let z = fixtures::compressed(&env.reg, Compression::Zstd);
    let g = fixtures::compressed(&env.reg, Compression::Gzip);
    let n = fixtures::compressed(&env.reg, Compression::None);
    assert_eq!(z.diff_ids, g.diff_ids);
    for img in [&z, &g, &n] {
        pull_ok(&env.d, img);
        assert_pulled(&env.d, img);
    }
    // The zstd layer unpacked to the expected files.
    let dirs = layer_dirs(&env.d, &z);
    let ovl = Overlay::mount(&dirs).expect("mount overlay");
    let diffs = diff_tree(ovl.path(), &z.files);
    assert!(diffs.is_empty(), "{diffs:#?}");
    assert!(content_store_problems(&env.d).is_empty());
}

/// The docker CLI pulls schema2, OCI and a manifest list too (with `--platform`).
#[test]
fn docker_cli_pulls_every_format() {
    if pier_e2e::skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let imgs = [
        fixtures::schema2(&env.reg),
        fixtures::oci(&env.reg),
        fixtures::compressed(&env.reg, Compression::Zstd),
        fixtures::multiarch(&env.reg, Format::Oci),
    ];
    for img in &imgs {
        let r = pier_e2e::docker(&env.d, &["pull", &img.reference()]);
        assert!(r.ok().contains(&format!("Digest: {}", img.digest)), "{r}");
    }
    let idx = &imgs[3];
    let r = pier_e2e::docker(
        &env.d,
        &[
            "pull",
            "--platform",
            &format!("linux/{}", other_arch()),
            &idx.reference(),
        ],
    );
    r.ok();
    let v = pier_e2e::docker_inspect(&env.d, &idx.reference());
    assert_eq!(v["Architecture"], json!(other_arch()), "{r}");
}
