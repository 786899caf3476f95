//! Push primitives against a real registry (docker-registry on loopback), checked by pulling back.

use futures::StreamExt;
use pier_image::digest::Digest;
use pier_image::reference::{parse_normalized, Reference};
use pier_registry::manifest::{DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST};
use pier_registry::{AuthConfig, Client, ClientOptions, Platform, RegistryError};
use pier_testkit::registry::Registry;
use serde_json::json;

fn r(s: &str) -> Reference {
    parse_normalized(s).unwrap()
}

fn client() -> Client {
    Client::new(ClientOptions::default()).unwrap()
}

/// Push a one-layer image for `arch`; returns (manifest bytes, manifest digest, config digest, layer).
async fn push_image(
    c: &Client,
    reference: &Reference,
    arch: &str,
    manifest_mt: &str,
) -> (Vec<u8>, Digest, Digest, Vec<u8>) {
    let anon = AuthConfig::anonymous();
    let layer = format!("layer bytes for {arch}").repeat(1000).into_bytes();
    let layer_digest = Digest::sha256(&layer);
    assert_eq!(
        c.blob_exists(reference, &layer_digest, &anon)
            .await
            .unwrap(),
        None
    );
    // Stream the layer in chunks, as the daemon will from disk.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = layer
        .chunks(1000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    c.push_blob(reference, &layer_digest, layer.len() as u64, body, &anon)
        .await
        .unwrap();
    assert_eq!(
        c.blob_exists(reference, &layer_digest, &anon)
            .await
            .unwrap(),
        Some(layer.len() as u64)
    );
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]},
        "config": {}
    }))
    .unwrap();
    let config_digest = c
        .push_blob_bytes(reference, config.clone(), &anon)
        .await
        .unwrap();
    let (config_mt, layer_mt) = if manifest_mt == OCI_MANIFEST {
        (OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar")
    } else {
        (
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar",
        )
    };
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": manifest_mt,
        "config": {"mediaType": config_mt, "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": layer_mt, "digest": layer_digest.to_string(), "size": layer.len()}]
    }))
    .unwrap();
    let digest = c
        .push_manifest(reference, manifest_mt, manifest.clone(), &anon)
        .await
        .unwrap();
    assert_eq!(digest, Digest::sha256(&manifest));
    (manifest, digest, config_digest, layer)
}

#[tokio::test]
async fn push_then_pull_back() {
    let reg = Registry::start();
    let c = client();
    let anon = AuthConfig::anonymous();
    let reference = r(&format!("{}/pushed/app:1", reg.addr()));
    let (manifest, digest, config_digest, layer) =
        push_image(&c, &reference, "amd64", OCI_MANIFEST).await;

    let res = c
        .resolve(&reference, &"linux/amd64".parse().unwrap(), &anon)
        .await
        .unwrap();
    assert_eq!(res.digest, digest);
    assert_eq!(res.manifest_digest, digest);
    assert_eq!(res.manifest, manifest, "raw bytes preserved");
    assert_eq!(res.media_type, OCI_MANIFEST);
    assert_eq!(res.config.digest, config_digest);
    let mut s = c
        .fetch_blob(&reference, &res.layers[0], &anon)
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = s.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, layer);

    // An image manifest (not an index) is taken whatever platform is asked for, as docker does.
    let res = c
        .resolve(&reference, &"linux/arm64".parse().unwrap(), &anon)
        .await
        .unwrap();
    assert_eq!(res.manifest_digest, digest);
}

#[tokio::test]
async fn pushed_index_selects_platforms() {
    let reg = Registry::start();
    let c = client();
    let anon = AuthConfig::anonymous();
    for (index_mt, manifest_mt, repo) in [
        (OCI_INDEX, OCI_MANIFEST, "multi/oci"),
        (DOCKER_LIST, DOCKER_MANIFEST, "multi/docker"),
    ] {
        let by_arch = |arch: &str| r(&format!("{}/{repo}:{arch}", reg.addr()));
        let (amd_m, amd_d, amd_cfg, _) =
            push_image(&c, &by_arch("amd64"), "amd64", manifest_mt).await;
        let (arm_m, arm_d, arm_cfg, _) = push_image(&c, &by_arch("arm"), "arm", manifest_mt).await;
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": index_mt,
            "manifests": [
                {"mediaType": manifest_mt, "digest": amd_d.to_string(), "size": amd_m.len(),
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": manifest_mt, "digest": arm_d.to_string(), "size": arm_m.len(),
                 "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
                {"mediaType": manifest_mt, "digest": amd_d.to_string(), "size": amd_m.len(),
                 "platform": {"os": "unknown", "architecture": "unknown"}}
            ]
        }))
        .unwrap();
        let tagged = r(&format!("{}/{repo}:multi", reg.addr()));
        let index_digest = c
            .push_manifest(&tagged, index_mt, index.clone(), &anon)
            .await
            .unwrap();

        let pick = |p: &str| {
            let p: Platform = p.parse().unwrap();
            let c = c.clone();
            let tagged = tagged.clone();
            async move { c.resolve(&tagged, &p, &AuthConfig::anonymous()).await }
        };
        let amd = pick("linux/amd64").await.unwrap();
        assert_eq!(amd.digest, index_digest);
        assert_eq!(amd.manifest_digest, amd_d);
        assert_eq!(amd.config.digest, amd_cfg);
        assert_eq!(amd.index, Some((index_mt.to_string(), index.clone())));
        // "arm" means arm/v7; arm64 can run arm/v7 too (containerd's matcher).
        for p in ["linux/arm", "linux/arm/v7", "linux/arm64"] {
            let arm = pick(p).await.unwrap();
            assert_eq!(arm.manifest_digest, arm_d, "{p}");
            assert_eq!(arm.config.digest, arm_cfg);
        }
        let err = pick("linux/ppc64le").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "no matching manifest for linux/ppc64le in the manifest list entries"
        );
        // Resolving the index by its digest works too.
        let by_digest = r(&format!("{}/{repo}@{index_digest}", reg.addr()));
        let res = c
            .resolve(&by_digest, &"linux/amd64".parse().unwrap(), &anon)
            .await
            .unwrap();
        assert_eq!(res.manifest_digest, amd_d);
    }
}

#[tokio::test]
async fn mount_across_repositories() {
    let reg = Registry::start();
    let c = client();
    let anon = AuthConfig::anonymous();
    let a = r(&format!("{}/mount/a", reg.addr()));
    let b = r(&format!("{}/mount/b", reg.addr()));
    let d = c
        .push_blob_bytes(&a, &b"shared layer"[..], &anon)
        .await
        .unwrap();
    assert_eq!(c.blob_exists(&b, &d, &anon).await.unwrap(), None);
    assert!(c.mount_blob(&b, &d, "mount/a", &anon).await.unwrap());
    assert_eq!(c.blob_exists(&b, &d, &anon).await.unwrap(), Some(12));

    // A blob the source does not have: the registry opens an upload instead → false, then upload.
    let data = b"not anywhere yet";
    let missing = Digest::sha256(data);
    assert!(!c.mount_blob(&b, &missing, "mount/a", &anon).await.unwrap());
    assert_eq!(c.blob_exists(&b, &missing, &anon).await.unwrap(), None);
    c.push_blob(
        &b,
        &missing,
        data.len() as u64,
        reqwest::Body::from(&data[..]),
        &anon,
    )
    .await
    .unwrap();
    assert_eq!(c.blob_exists(&b, &missing, &anon).await.unwrap(), Some(16));
}

#[tokio::test]
async fn push_refusals_are_reported() {
    let reg = Registry::start();
    let c = client();
    let anon = AuthConfig::anonymous();
    let repo = r(&format!("{}/bad/push", reg.addr()));
    // The body does not hash to the digest we claim: the registry refuses.
    let claimed = Digest::sha256(b"one thing");
    let err = c
        .push_blob(
            &repo,
            &claimed,
            7,
            reqwest::Body::from(&b"another"[..]),
            &anon,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Registry { .. }), "{err:?}");
    assert!(err.to_string().starts_with("digest invalid:"), "{err}");

    // A manifest whose blobs are missing.
    let d = Digest::sha256(b"absent");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": d.to_string(), "size": 6},
        "layers": []
    }))
    .unwrap();
    let err = c
        .push_manifest(&repo, OCI_MANIFEST, manifest.clone(), &anon)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("blob unknown"), "{err}");

    // Pushing by digest checks the bytes before sending.
    let wrong = r(&format!("{}/bad/push@{d}", reg.addr()));
    let err = c
        .push_manifest(&wrong, OCI_MANIFEST, manifest, &anon)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
}

#[tokio::test]
async fn streamed_upload_like_docker() {
    let reg = Registry::start();
    let c = client();
    let anon = AuthConfig::anonymous();
    let repo = r(&format!("{}/streamed/app", reg.addr()));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = Digest::sha256(&data);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = data
        .chunks(65_536)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    c.push_blob_streamed(&repo, &digest, body, &anon)
        .await
        .unwrap();
    assert_eq!(
        c.blob_exists(&repo, &digest, &anon).await.unwrap(),
        Some(data.len() as u64)
    );
    // The wrong digest for the bytes: refused when the session is closed.
    let err = c
        .push_blob_streamed(
            &repo,
            &Digest::sha256(b"x"),
            reqwest::Body::from(&b"y"[..]),
            &anon,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("digest invalid:"), "{err}");
}
