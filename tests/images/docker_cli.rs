//! The real docker CLI against pierd: image commands and their exact observable output.

use pier_e2e::{cells, docker, docker_inspect, lines, setup, short_id, skip_docker};
use pier_testkit::fixtures;
use serde_json::json;

/// Pull output: layers, digest, status and the final reference line; a second pull is a no-op.
#[test]
fn docker_pull_twice() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    let r = docker(&env.d, &["pull", &img.reference()]);
    let out = r.ok();
    assert!(
        out.starts_with(&format!("{}: Pulling from {}\n", img.tag, img.repo)),
        "{r}"
    );
    for l in &img.layers {
        let line = format!("{}: Pull complete", short_id(&l.digest));
        assert!(out.contains(&line), "missing {line:?}: {r}");
    }
    assert!(out.contains(&format!("Digest: {}\n", img.digest)), "{r}");
    assert!(
        out.contains(&format!(
            "Status: Downloaded newer image for {}\n",
            img.reference()
        )),
        "{r}"
    );
    assert_eq!(lines(out).last(), Some(&img.reference().as_str()), "{r}");

    let r = docker(&env.d, &["pull", &img.reference()]);
    let out = r.ok();
    assert!(
        out.contains(&format!(
            "Status: Image is up to date for {}\n",
            img.reference()
        )),
        "{r}"
    );
    assert!(
        !out.contains("Pull complete"),
        "second pull downloaded again: {r}"
    );
}

/// `docker images`, `--digests` and `-q`.
#[test]
fn docker_images_table() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    // Empty store first: header only.
    let r = docker(&env.d, &["images"]);
    let ls = lines(r.ok());
    assert_eq!(ls.len(), 1, "{r}");
    assert_eq!(
        cells(ls[0]),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{r}"
    );
    docker(&env.d, &["pull", &img.reference()]).ok();

    let r = docker(&env.d, &["images"]);
    let ls = lines(r.ok());
    assert_eq!(ls.len(), 2, "{r}");
    assert_eq!(
        cells(ls[0]),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{r}"
    );
    let row = cells(ls[1]);
    assert_eq!(row.len(), 5, "{r}");
    assert_eq!(row[0], img.name());
    assert_eq!(row[1], "latest");
    assert_eq!(row[2], short_id(img.id()));
    assert!(row[3].ends_with(" ago"), "CREATED {:?}", row[3]);
    let size = &row[4];
    assert!(
        size.ends_with("MB") || size.ends_with("kB"),
        "SIZE {size:?}"
    );

    let r = docker(&env.d, &["images", "--digests"]);
    let ls = lines(r.ok());
    assert_eq!(
        cells(ls[0]),
        ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
        "{r}"
    );
    let row = cells(ls[1]);
    assert_eq!(row[0], img.name());
    assert_eq!(row[2], img.digest, "{r}");
    assert_eq!(row[3], short_id(img.id()));

    let r = docker(&env.d, &["images", "-q"]);
    assert_eq!(r.ok(), format!("{}\n", short_id(img.id())), "{r}");
    let r = docker(&env.d, &["images", "-q", "--no-trunc"]);
    assert_eq!(r.ok(), format!("{}\n", img.id()), "{r}");
}

/// `docker image inspect`: the fields a pull must fill in from the registry.
#[test]
fn docker_image_inspect() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    docker(&env.d, &["pull", &img.reference()]).ok();
    let v = docker_inspect(&env.d, &img.reference());
    assert_eq!(v["Id"], json!(img.id()), "{v:#}");
    assert_eq!(v["RepoTags"], json!([img.reference()]));
    assert_eq!(v["RepoDigests"], json!([img.repo_digest()]));
    assert_eq!(v["RootFS"]["Type"], json!("layers"));
    assert_eq!(v["RootFS"]["Layers"], json!(img.diff_ids));
    assert_eq!(v["Architecture"], json!(img.architecture));
    assert_eq!(v["Os"], json!("linux"));
    assert_eq!(v["Config"]["Cmd"], json!(["sh"]));
    assert_eq!(v["Config"]["Env"], json!([fixtures::PATH_ENV]));
    assert!(v["Size"].as_u64().unwrap_or(0) > 0, "Size: {v:#}");
    let created = v["Created"].as_str().unwrap_or_default();
    assert!(
        created.starts_with("2024-01-01T00:00:00"),
        "Created {created}"
    );
    // Inspect by short ID and by digest reference find the same image.
    let by_id = docker_inspect(&env.d, &short_id(img.id()));
    assert_eq!(by_id["Id"], v["Id"]);
    let by_digest = docker_inspect(&env.d, &img.repo_digest());
    assert_eq!(by_digest["Id"], v["Id"]);
    // Unknown image: docker's error.
    let r = docker(&env.d, &["image", "inspect", "nope"]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("No such image: nope"), "{r}");
}

/// `docker tag` adds a name; `docker rmi` untags, and deletes on the last reference.
#[test]
fn docker_tag_rmi() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    docker(&env.d, &["pull", &img.reference()]).ok();

    let r = docker(&env.d, &["tag", &img.reference(), "mytag:1"]);
    assert_eq!(r.ok(), "", "{r}");
    let v = docker_inspect(&env.d, "mytag:1");
    assert_eq!(v["Id"], json!(img.id()));
    let mut tags: Vec<String> = serde_json::from_value(v["RepoTags"].clone()).unwrap();
    tags.sort();
    let mut want = vec![img.reference(), "mytag:1".to_string()];
    want.sort();
    assert_eq!(tags, want);
    let r = docker(&env.d, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut rows = lines(r.ok());
    rows.sort();
    let want_rows: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(rows, want_rows, "{r}");

    // Another tag remains: only untagged.
    let r = docker(&env.d, &["rmi", "mytag:1"]);
    assert_eq!(r.ok(), "Untagged: mytag:1\n", "{r}");
    assert!(pier_e2e::api_inspect(&env.d, &img.reference()).is_some());

    // Last tag: untagged (name and digest reference) and deleted (the image, then its layers).
    let r = docker(&env.d, &["rmi", &img.reference()]);
    let out = r.ok();
    let ls = lines(out);
    assert_eq!(ls[0], format!("Untagged: {}", img.reference()), "{r}");
    assert!(
        ls.contains(&format!("Untagged: {}", img.repo_digest()).as_str()),
        "{r}"
    );
    assert!(
        ls.contains(&format!("Deleted: {}", img.id()).as_str()),
        "{r}"
    );
    assert!(
        ls.iter()
            .all(|l| l.starts_with("Untagged: ") || l.starts_with("Deleted: ")),
        "{r}"
    );
    let r = docker(&env.d, &["images", "-q"]);
    assert_eq!(r.ok(), "", "{r}");
    let r = docker(&env.d, &["rmi", &img.reference()]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(
        r.stderr
            .contains(&format!("No such image: {}", img.reference())),
        "{r}"
    );
}

/// `docker import` of the busybox rootfs tar, with a CMD change.
#[test]
fn docker_import() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let tar = fixtures::busybox_rootfs_tar();
    let diff_id = pier_testkit::sha256_digest(&tar);
    let file = env.d.dir().join("rootfs.tar");
    std::fs::write(&file, &tar).unwrap();
    let r = docker(
        &env.d,
        &[
            "import",
            "--change",
            r#"CMD ["sh"]"#,
            file.to_str().unwrap(),
            "imported:1",
        ],
    );
    let out = r.ok().trim().to_string();
    assert!(
        out.starts_with("sha256:") && out.len() == 71,
        "import prints the image ID: {r}"
    );
    let v = docker_inspect(&env.d, "imported:1");
    assert_eq!(v["Id"], json!(out));
    assert_eq!(v["RepoTags"], json!(["imported:1"]));
    assert_eq!(v["RepoDigests"], json!([]));
    assert_eq!(v["Config"]["Cmd"], json!(["sh"]));
    assert_eq!(v["RootFS"]["Layers"], json!([diff_id]));
    assert_eq!(v["Os"], json!("linux"));
    assert_eq!(v["Architecture"], json!(fixtures::host_arch()));
    let r = docker(
        &env.d,
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
    );
    assert_eq!(r.ok(), format!("imported:1 {}\n", short_id(&out)), "{r}");
}

/// `docker version` shows the server and API 1.50; `docker info` runs and shows overlay2.
#[test]
fn docker_version_info() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let r = docker(&env.d, &["version"]);
    let out = r.ok();
    let server = out
        .split_once("\nServer:")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no Server section: {r}"));
    let api = server
        .lines()
        .find(|l| l.trim_start().starts_with("API version:"))
        .unwrap_or_else(|| panic!("no server API version: {r}"));
    assert!(api.contains("1.50"), "{api}");
    let r = docker(&env.d, &["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(r.ok(), "1.50\n", "{r}");

    let r = docker(&env.d, &["info"]);
    let out = r.ok();
    assert!(out.contains("Storage Driver: overlay2"), "{r}");
    assert!(out.contains("Server Version:"), "{r}");
    let r = docker(&env.d, &["info", "--format", "{{.Driver}} {{.Images}}"]);
    assert_eq!(r.ok(), "overlay2 0\n", "{r}");
}

/// Layers already present are not fetched again: "Already exists".
#[test]
fn docker_pull_shares_layers() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let bb = fixtures::busybox(&env.reg);
    let two = fixtures::schema2(&env.reg);
    assert_eq!(bb.layers[0].digest, two.layers[0].digest);
    docker(&env.d, &["pull", &bb.reference()]).ok();
    let r = docker(&env.d, &["pull", &two.reference()]);
    let out = r.ok();
    let shared = format!("{}: Already exists", short_id(&two.layers[0].digest));
    let fresh = format!("{}: Pull complete", short_id(&two.layers[1].digest));
    assert!(out.contains(&shared), "missing {shared:?}: {r}");
    assert!(out.contains(&fresh), "missing {fresh:?}: {r}");
    assert!(!out.contains(&format!(
        "{}: Pull complete",
        short_id(&two.layers[0].digest)
    )));
    let v = docker_inspect(&env.d, &two.reference());
    assert_eq!(v["RootFS"]["Layers"], json!(two.diff_ids));
}

/// Pull by digest: no tag, the digest reference recorded.
#[test]
fn docker_pull_by_digest() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    let r = docker(&env.d, &["pull", &img.repo_digest()]);
    let out = r.ok();
    assert!(
        out.contains(&format!(
            "Status: Downloaded newer image for {}\n",
            img.repo_digest()
        )),
        "{r}"
    );
    assert_eq!(lines(out).last(), Some(&img.repo_digest().as_str()), "{r}");
    let v = docker_inspect(&env.d, &img.repo_digest());
    assert_eq!(v["Id"], json!(img.id()));
    assert_eq!(v["RepoTags"], json!([]));
    assert_eq!(v["RepoDigests"], json!([img.repo_digest()]));
    let r = docker(
        &env.d,
        &[
            "images",
            "--digests",
            "--format",
            "{{.Repository}} {{.Tag}} {{.Digest}}",
        ],
    );
    assert_eq!(
        r.ok(),
        format!("{} <none> {}\n", img.name(), img.digest),
        "{r}"
    );
    // A digest the registry does not have.
    let missing = format!("{}@sha256:{}", img.name(), "0".repeat(64));
    let r = docker(&env.d, &["pull", &missing]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("not found"), "{r}");
}

/// Two pulls of the same image at once: both succeed, one image, a consistent store.
#[test]
fn docker_concurrent_pulls() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let img = fixtures::schema2(&env.reg);
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let cmd = pier_testkit::docker(&env.d).unwrap();
            let reference = img.reference();
            std::thread::spawn(move || pier_testkit::run(cmd, ["pull", reference.as_str()]))
        })
        .collect();
    for h in runs {
        let r = h.join().unwrap();
        assert!(r.ok().contains(&format!("Digest: {}", img.digest)), "{r}");
    }
    let r = docker(&env.d, &["images", "-q", "--no-trunc"]);
    assert_eq!(r.ok(), format!("{}\n", img.id()), "{r}");
    let mut problems = pier_e2e::content_store_problems(&env.d);
    problems.extend(pier_e2e::snapshot_problems(&env.d));
    assert!(problems.is_empty(), "{problems:#?}");
}

/// `docker images` filters and the dangling image left when a tag moves.
#[test]
fn docker_images_filters() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let bb = fixtures::busybox(&env.reg);
    let w = fixtures::whiteouts(&env.reg);
    docker(&env.d, &["pull", &bb.reference()]).ok();
    docker(&env.d, &["pull", &w.reference()]).ok();
    let fmt = "{{.Repository}}:{{.Tag}}";
    let r = docker(
        &env.d,
        &[
            "images",
            "--format",
            fmt,
            "--filter",
            &format!("reference={}", bb.name()),
        ],
    );
    assert_eq!(r.ok(), format!("{}\n", bb.reference()), "{r}");
    let r = docker(
        &env.d,
        &[
            "images",
            "--format",
            fmt,
            "--filter",
            "reference=*/fixtures/white*",
        ],
    );
    assert_eq!(r.ok(), format!("{}\n", w.reference()), "{r}");
    let r = docker(&env.d, &["images", "-q", "--filter", "dangling=true"]);
    assert_eq!(r.ok(), "", "{r}");
    // Re-point busybox's tag at the whiteouts image: busybox becomes dangling.
    docker(&env.d, &["tag", &w.reference(), &bb.reference()]).ok();
    let r = docker(
        &env.d,
        &["images", "-q", "--no-trunc", "--filter", "dangling=true"],
    );
    assert_eq!(r.ok(), format!("{}\n", bb.id()), "{r}");
    let r = docker(
        &env.d,
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}",
            "--filter",
            "dangling=true",
        ],
    );
    let row = r.ok().trim().to_string();
    assert!(row.ends_with(&short_id(bb.id())), "{r}");
}

/// `docker rmi <id>` refuses an image with several names; `-f` removes it whole.
#[test]
fn docker_rmi_by_id_conflict_and_force() {
    if skip_docker() {
        return;
    }
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    docker(&env.d, &["pull", &img.reference()]).ok();
    docker(&env.d, &["tag", &img.reference(), "second:1"]).ok();
    let short = short_id(img.id());
    let r = docker(&env.d, &["rmi", &short]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(
        r.stderr.contains(&format!(
            "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
        )),
        "{r}"
    );
    let r = docker(&env.d, &["rmi", "-f", &short]);
    let out = r.ok();
    for want in [
        format!("Untagged: {}", img.reference()),
        "Untagged: second:1".to_string(),
        format!("Untagged: {}", img.repo_digest()),
        format!("Deleted: {}", img.id()),
    ] {
        assert!(lines(out).contains(&want.as_str()), "missing {want:?}: {r}");
    }
    assert_eq!(docker(&env.d, &["images", "-q"]).ok(), "");
}

/// Images, tags and digests survive a daemon restart unchanged.
#[test]
fn images_survive_restart() {
    if skip_docker() {
        return;
    }
    let Some(mut env) = setup() else { return };
    let a = fixtures::busybox(&env.reg);
    let b = fixtures::whiteouts(&env.reg);
    docker(&env.d, &["pull", &a.reference()]).ok();
    docker(&env.d, &["pull", &b.reference()]).ok();
    docker(&env.d, &["tag", &a.reference(), "kept:1"]).ok();
    let list = |env: &pier_e2e::Env| env.d.api("GET", "/v1.50/images/json", None).json();
    let before = (
        list(&env),
        docker_inspect(&env.d, &a.reference()),
        docker_inspect(&env.d, &b.reference()),
    );
    env.d.restart();
    let after = (
        list(&env),
        docker_inspect(&env.d, &a.reference()),
        docker_inspect(&env.d, &b.reference()),
    );
    assert_eq!(before, after);
    // And the next pull is a no-op.
    let r = docker(&env.d, &["pull", &b.reference()]);
    assert!(r.ok().contains("Image is up to date"), "{r}");
}
