//! Pull against a real registry (Debian's docker-registry on loopback, via pier-testkit), plus
//! the error cases docker users see.

use futures::StreamExt;
use pier_image::digest::Digest;
use pier_image::reference::{parse_normalized, Reference};
use pier_registry::{AuthConfig, Client, ClientOptions, Platform, RegistryError};
use pier_testkit::fixtures::{self, Format};
use pier_testkit::registry::Registry;

fn client() -> Client {
    Client::new(ClientOptions::default()).unwrap()
}

fn r(s: &str) -> Reference {
    parse_normalized(s).unwrap()
}

fn host_platform() -> Platform {
    Platform::new("linux", fixtures::host_arch(), None)
}

#[tokio::test]
async fn resolves_and_fetches_a_schema2_image() {
    let reg = Registry::start();
    let img = fixtures::busybox(&reg);
    let c = client();
    let anon = AuthConfig::anonymous();
    let res = c
        .resolve(&r(&img.reference()), &host_platform(), &anon)
        .await
        .unwrap();
    assert_eq!(res.digest.to_string(), img.digest);
    assert_eq!(res.manifest_digest.to_string(), img.manifest_digest);
    assert_eq!(Digest::sha256(&res.manifest), res.manifest_digest);
    assert_eq!(
        res.media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert!(res.index.is_none());
    assert_eq!(res.config.digest.to_string(), img.config_digest);
    assert_eq!(res.layers.len(), img.layers.len());

    let config = c
        .fetch_blob_bytes(&r(&img.reference()), &res.config, &anon)
        .await
        .unwrap();
    assert_eq!(Digest::sha256(&config), res.config.digest);

    for (layer, want) in res.layers.iter().zip(&img.layers) {
        assert_eq!(layer.digest.to_string(), want.digest);
        let mut s = c
            .fetch_blob(&r(&img.reference()), layer, &anon)
            .await
            .unwrap();
        assert_eq!(s.size, want.size);
        let mut data = Vec::new();
        while let Some(chunk) = s.next().await {
            data.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(Digest::sha256(&data), layer.digest);
    }

    // By digest gives the same thing.
    let by_digest = c
        .resolve(&r(&img.repo_digest()), &host_platform(), &anon)
        .await
        .unwrap();
    assert_eq!(by_digest.manifest_digest, res.manifest_digest);
}

#[tokio::test]
async fn index_selects_platform_in_both_formats() {
    let reg = Registry::start();
    let c = client();
    let anon = AuthConfig::anonymous();
    for format in [Format::Oci, Format::Docker] {
        let img = fixtures::multiarch(&reg, format);
        let reference = r(&img.reference());
        let res = c
            .resolve(&reference, &host_platform(), &anon)
            .await
            .unwrap();
        assert_eq!(res.digest.to_string(), img.digest, "{format:?}");
        let host = img
            .platform(fixtures::host_arch())
            .expect("host platform image");
        assert_eq!(res.manifest_digest.to_string(), host.manifest_digest);
        let (index_mt, index_bytes) = res.index.clone().expect("index kept");
        assert_eq!(index_mt, img.media_type);
        assert_eq!(Digest::sha256(&index_bytes), res.digest);

        // arm64 is listed as linux/arm64/v8: "linux/arm64" and "linux/aarch64" both match it.
        let arm = img.platform("arm64").unwrap();
        for want in ["linux/arm64", "linux/arm64/v8", "linux/aarch64"] {
            let p: Platform = want.parse().unwrap();
            let res = c.resolve(&reference, &p, &anon).await.unwrap();
            assert_eq!(
                res.manifest_digest.to_string(),
                arm.manifest_digest,
                "{want}"
            );
            assert_eq!(res.config.digest.to_string(), arm.config_digest);
        }

        let err = c
            .resolve(&reference, &"linux/s390x".parse().unwrap(), &anon)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no matching manifest for linux/s390x in the manifest list entries"
        );
        let err = c
            .resolve(&reference, &"linux/arm/v7".parse().unwrap(), &anon)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no matching manifest for linux/arm/v7 in the manifest list entries"
        );
    }
}

#[tokio::test]
async fn missing_tag_and_repo_say_manifest_unknown() {
    let reg = Registry::start();
    let img = fixtures::busybox(&reg);
    let c = client();
    let anon = AuthConfig::anonymous();
    let err = c
        .resolve(&r(&format!("{}/nope", reg.addr())), &host_platform(), &anon)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/nope:latest not found: manifest unknown: manifest unknown",
            reg.addr()
        )
    );
    assert!(err.is_not_found());
    let err = c
        .resolve(&r(&format!("{}:v9", img.name())), &host_platform(), &anon)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}:v9 not found: manifest unknown: manifest unknown",
            img.name()
        )
    );
    // An unknown digest in a known repository.
    let d = Digest::sha256(b"nothing");
    let err = c
        .resolve(&r(&format!("{}@{d}", img.name())), &host_platform(), &anon)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}@{d} not found: manifest unknown: manifest unknown",
            img.name()
        )
    );
    // A blob the registry does not have.
    let desc = pier_registry::Descriptor::new("application/octet-stream", d.clone(), 7);
    let err = c
        .fetch_blob(&r(&img.reference()), &desc, &anon)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "blob unknown: blob unknown to registry");
}

#[tokio::test]
async fn connection_refused_reads_like_docker() {
    let c = client();
    let err = c
        .resolve(
            &r("127.0.0.1:1/x"),
            &host_platform(),
            &AuthConfig::anonymous(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused"
    );
}

#[tokio::test]
async fn wrong_size_blob_is_detected() {
    let reg = Registry::start();
    let img = fixtures::busybox(&reg);
    let c = client();
    let anon = AuthConfig::anonymous();
    let res = c
        .resolve(&r(&img.reference()), &host_platform(), &anon)
        .await
        .unwrap();
    let mut lying = res.config.clone();
    lying.size += 1;
    let err = c
        .fetch_blob(&r(&img.reference()), &lying, &anon)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::SizeMismatch { .. }), "{err}");
}

async fn collect(mut s: pier_registry::BlobStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

#[tokio::test]
async fn resumes_a_blob_from_an_offset() {
    let reg = Registry::start();
    let img = fixtures::busybox(&reg);
    let c = client();
    let anon = AuthConfig::anonymous();
    let reference = r(&img.reference());
    let res = c
        .resolve(&reference, &host_platform(), &anon)
        .await
        .unwrap();
    let layer = &res.layers[0];
    let whole = collect(c.fetch_blob(&reference, layer, &anon).await.unwrap()).await;
    for offset in [1, 1000, layer.size - 1, layer.size] {
        let s = c
            .fetch_blob_from(&reference, layer, offset, &anon)
            .await
            .unwrap();
        assert_eq!(s.size, layer.size - offset);
        assert_eq!(
            collect(s).await,
            whole[offset as usize..],
            "offset {offset}"
        );
    }
    assert!(c
        .fetch_blob_from(&reference, layer, layer.size + 1, &anon)
        .await
        .is_err());
}

/// The daemon runs these on a multi-threaded runtime and in spawned tasks.
#[test]
fn futures_and_streams_are_send() {
    fn send<T: Send>(_: &T) {}
    let c = client();
    let reference = r("127.0.0.1:1/x");
    let anon = AuthConfig::anonymous();
    let d = pier_registry::Descriptor::new("x", Digest::sha256(b""), 0);
    send(&c.resolve(&reference, &host_platform(), &anon));
    send(&c.fetch_blob(&reference, &d, &anon));
    send(&c.fetch_blob_bytes(&reference, &d, &anon));
    send(&c.blob_exists(&reference, &d.digest, &anon));
    send(&c.push_manifest(&reference, "x", Vec::new(), &anon));
    fn stream_is_send_sync_unpin<T: Send + Unpin>() {}
    stream_is_send_sync_unpin::<pier_registry::BlobStream>();
    fn client_is_shareable<T: Send + Sync + Clone>() {}
    client_is_shareable::<Client>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_layer_fetches_share_one_client() {
    let reg = Registry::start();
    let img = fixtures::whiteouts(&reg);
    let c = client();
    let reference = r(&img.reference());
    let anon = AuthConfig::anonymous();
    let res = c
        .resolve(&reference, &host_platform(), &anon)
        .await
        .unwrap();
    assert!(res.layers.len() >= 3);
    let tasks: Vec<_> = res
        .layers
        .iter()
        .cloned()
        .map(|layer| {
            let (c, reference) = (c.clone(), reference.clone());
            tokio::spawn(async move {
                let s = c
                    .fetch_blob(&reference, &layer, &AuthConfig::anonymous())
                    .await
                    .unwrap();
                (layer, collect(s).await)
            })
        })
        .collect();
    for t in tasks {
        let (layer, data) = t.await.unwrap();
        assert_eq!(Digest::sha256(&data), layer.digest);
    }
}
