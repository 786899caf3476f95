//! Bad input and failures: errors in docker's words, and nothing half-done left behind.

use std::time::{Duration, Instant};

use pier_e2e::{
    api_inspect, api_pull, blob_files, content_root, content_store_problems, docker, enc,
    files_under, setup, skip_docker, snapshot_problems, V,
};
use pier_testkit::{fixtures, free_port, Compression, SlowProxy};
use serde_json::json;

#[test]
fn invalid_reference_is_400() {
    let Some(env) = setup() else { return };
    let r = env.d.api(
        "POST",
        &format!("{V}/images/create?fromImage=Busybox"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.contains("invalid reference format"), "{msg}");
    let r = env.d.api(
        "POST",
        &format!("{V}/images/create?fromImage=a%20b&tag=latest"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = env.d.api(
        "POST",
        &format!("{V}/images/create?fromImage=busybox&tag=bad%20tag"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn unknown_image_is_404() {
    let Some(env) = setup() else { return };
    let r = env.d.api("GET", &format!("{V}/images/nope/json"), None);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["message"], json!("No such image: nope:latest"));
    let r = env.d.api("DELETE", &format!("{V}/images/nope"), None);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["message"], json!("No such image: nope:latest"));
    let r = env.d.api(
        "GET",
        &format!("{V}/images/sha256:{}/json", "0".repeat(64)),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.text());
}

/// A manifest that is not there: docker's "manifest unknown" wording, 404.
#[test]
fn unknown_tag_is_reported() {
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    let r = env.d.api(
        "POST",
        &format!(
            "{V}/images/create?fromImage={}&tag=nosuchtag",
            enc(&img.name())
        ),
        None,
    );
    let text = r.text();
    assert!(
        text.contains(&format!("manifest for {}:nosuchtag not found", img.name())),
        "HTTP {}: {text}",
        r.status
    );
    assert!(api_inspect(&env.d, &format!("{}:nosuchtag", img.name())).is_none());
}

/// Registry down (a closed port): a clear error, nothing added.
#[test]
fn registry_down_is_an_error_and_changes_nothing() {
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    api_pull(&env.d, &img.name(), "latest", None).expect("pull busybox");
    let before = env.d.api("GET", &format!("{V}/images/json"), None).json();
    let port = free_port();
    let name = format!("127.0.0.1:{port}/fixtures/busybox");
    let e = api_pull(&env.d, &name, "latest", None).unwrap_err();
    assert!(e.contains("connection refused"), "error: {e}");
    assert!(e.contains(&format!("127.0.0.1:{port}")), "error: {e}");
    let after = env.d.api("GET", &format!("{V}/images/json"), None).json();
    assert_eq!(before, after);
    if !skip_docker() {
        let before = docker(&env.d, &["images"]);
        let r = docker(&env.d, &["pull", &format!("{name}:latest")]);
        assert_eq!(r.code, Some(1), "{r}");
        assert!(r.stderr.contains("Error response from daemon"), "{r}");
        assert!(r.stderr.contains("connection refused"), "{r}");
        let after = docker(&env.d, &["images"]);
        assert_eq!(after.ok(), before.ok());
    }
    assert!(content_store_problems(&env.d).is_empty());
}

/// A blob whose bytes do not match its digest: the pull fails and nothing is kept under it.
#[test]
fn corrupt_blob_fails_pull_and_keeps_nothing() {
    let Some(env) = setup() else { return };
    let img = fixtures::compressed(&env.reg, Compression::Gzip);
    let bad = img.layers.last().unwrap().digest.clone();
    let path = env.reg.blob_data_path(&bad);
    let mut data = std::fs::read(&path).expect("registry blob file");
    // Flip bytes in the middle: same length, so the registry still serves it in full.
    let mid = data.len() / 2;
    for b in &mut data[mid..mid + 16] {
        *b ^= 0xff;
    }
    std::fs::write(&path, &data).unwrap();

    let e = api_pull(&env.d, &img.name(), &img.tag, None).unwrap_err();
    // docker: "filesystem layer verification failed for digest sha256:…"; the digest is named.
    assert!(e.contains(&bad), "error does not name the bad blob: {e}");
    let hex = bad.trim_start_matches("sha256:");
    assert!(
        blob_files(&env.d).iter().all(|(name, _)| name != hex),
        "a blob was stored under the digest it does not match"
    );
    let leftovers = files_under(&content_root(&env.d).join("ingest"));
    assert!(leftovers.is_empty(), "ingest leftovers: {leftovers:?}");
    assert!(content_store_problems(&env.d).is_empty());
    assert!(api_inspect(&env.d, &img.reference()).is_none());
    // The daemon is fine afterwards: an intact image pulls.
    let good = fixtures::busybox(&env.reg);
    api_pull(&env.d, &good.name(), "latest", None).expect("pull after failure");
}

/// kill -9 during a pull, restart, pull again: it completes, and the store is consistent.
#[test]
fn kill9_mid_pull_then_pull_again() {
    let Some(mut env) = setup() else { return };
    let img = fixtures::large(&env.reg, 50);
    // 8 MiB/s through the proxy: the 50 MiB layer takes ~6 s, time enough to kill mid-way.
    let proxy = SlowProxy::start(env.reg.addr(), 8 << 20);
    let via_proxy = format!("{}/{}", proxy.addr(), img.repo);
    let sock = env.d.socket();
    let path = format!("{V}/images/create?fromImage={}&tag=latest", enc(&via_proxy));
    let puller = std::thread::spawn(move || {
        // The connection breaks when pierd dies; the result only matters if it ends first.
        pier_testkit::http::unix_request(&sock, "POST", &path, None)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.bytes_down() < (4 << 20) {
        if puller.is_finished() {
            let r = puller.join().unwrap();
            panic!(
                "pull ended before the big layer was under way: {:?}\nlog:\n{}",
                r.map(|r| r.text()),
                env.d.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "pull never started downloading; log:\n{}",
            env.d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    env.d.kill9();
    let _ = puller.join();
    drop(proxy);

    env.d.start_again();
    // Startup cleaned what the crash left.
    let mut problems = content_store_problems(&env.d);
    problems.extend(snapshot_problems(&env.d));
    assert!(problems.is_empty(), "after restart: {problems:#?}");
    assert!(
        api_inspect(&env.d, &format!("{via_proxy}:latest")).is_none(),
        "a half-pulled image was recorded"
    );

    if let Err(e) = api_pull(&env.d, &img.name(), "latest", None) {
        panic!("pull after restart: {e}\n{}", env.d.log());
    }
    let v = api_inspect(&env.d, &img.reference()).expect("image after pull");
    assert_eq!(v["Id"], json!(img.id()));
    assert_eq!(v["RootFS"]["Layers"], json!(img.diff_ids));
    let mut problems = content_store_problems(&env.d);
    problems.extend(snapshot_problems(&env.d));
    assert!(problems.is_empty(), "after second pull: {problems:#?}");
    // A clean restart keeps the image.
    env.d.restart();
    assert!(api_inspect(&env.d, &img.reference()).is_some());
    assert!(content_store_problems(&env.d).is_empty());
}
