//! The pier CLI against pierd: the same image commands, whose output must equal docker's.
//!
//! Read-only commands are compared on one daemon; commands that change state run with docker
//! on one daemon and with pier on another, both fed from the same registry (same digests).

use pier_e2e::{cells, docker, lines, pier, setup, short_id, skip_daemon, skip_docker, skip_pier};
use pier_testkit::{fixtures, Daemon, DaemonOpts, Registry};
use serde_json::{json, Value};

/// The pull output lines that do not depend on timing, sorted.
fn stable_pull_lines(out: &str) -> Vec<String> {
    let ls = lines(out);
    let last = ls.last().map(|s| s.to_string());
    let mut keep: Vec<String> = ls
        .iter()
        .filter(|l| {
            l.contains(": Pulling from ")
                || l.ends_with(": Pull complete")
                || l.ends_with(": Already exists")
                || l.starts_with("Digest: ")
                || l.starts_with("Status: ")
        })
        .map(|l| l.to_string())
        .collect();
    keep.sort();
    keep.extend(last);
    keep
}

/// The header line, then the other lines sorted: docker lists the tags of one image in Go map
/// order (random), so only the set of rows is stable.
fn table_rows_sorted(out: &str) -> String {
    let mut ls = out.lines();
    let head = ls.next().unwrap_or_default();
    let mut rows: Vec<&str> = ls.collect();
    rows.sort_unstable();
    std::iter::once(head)
        .chain(rows)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A registry and two daemons: one for docker, one for pier.
struct Pair {
    reg: Registry,
    dd: Daemon,
    dp: Daemon,
}

fn pair() -> Option<Pair> {
    if skip_daemon() || skip_docker() || skip_pier() {
        return None;
    }
    Some(Pair {
        reg: Registry::start(),
        dd: Daemon::start(DaemonOpts::default()),
        dp: Daemon::start(DaemonOpts::default()),
    })
}

#[test]
fn pier_pull_matches_docker() {
    let Some(p) = pair() else { return };
    let img = fixtures::busybox(&p.reg);
    let d = docker(&p.dd, &["pull", &img.reference()]);
    let r = pier(&p.dp, &["pull", &img.reference()]);
    r.ok();
    assert_eq!(
        stable_pull_lines(&r.stdout),
        stable_pull_lines(d.ok()),
        "pier:\n{r}\ndocker:\n{d}"
    );
    assert!(r.stdout.contains(&format!("Digest: {}", img.digest)), "{r}");
    let d = docker(&p.dd, &["pull", &img.reference()]);
    let r = pier(&p.dp, &["pull", &img.reference()]);
    assert_eq!(
        stable_pull_lines(r.ok()),
        stable_pull_lines(d.ok()),
        "{r}\n{d}"
    );
    assert!(r.stdout.contains("Image is up to date"), "{r}");
    // Quiet pull prints the reference only.
    let r = pier(&p.dp, &["pull", "-q", &img.reference()]);
    assert_eq!(r.ok(), format!("{}\n", img.reference()), "{r}");
}

#[test]
fn pier_images_matches_docker() {
    if skip_docker() || skip_pier() {
        return;
    }
    let Some(env) = setup() else { return };
    let empty_d = docker(&env.d, &["images"]);
    let empty_p = pier(&env.d, &["images"]);
    assert_eq!(empty_p.ok(), empty_d.ok(), "{empty_p}");
    let img = fixtures::busybox(&env.reg);
    let w = fixtures::whiteouts(&env.reg);
    pier(&env.d, &["pull", &img.reference()]).ok();
    pier(&env.d, &["pull", &w.reference()]).ok();
    for args in [
        &["images"][..],
        &["images", "--digests"],
        &["images", "-q"],
        &["images", "--no-trunc"],
        &["images", "-a"],
        &["image", "ls"],
        &["images", &img.name()],
        &[
            "images",
            "--format",
            "{{.Repository}} {{.Tag}} {{.ID}} {{.Digest}}",
        ],
        &["images", "--format", "json"],
    ] {
        let d = docker(&env.d, args);
        let r = pier(&env.d, args);
        assert_eq!(r.ok(), d.ok(), "pier {args:?}:\n{r}\ndocker:\n{d}");
    }
    let r = pier(&env.d, &["images"]);
    let ls = lines(r.ok());
    assert_eq!(
        cells(ls[0]),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    assert!(r.stdout.contains(&short_id(img.id())), "{r}");
}

#[test]
fn pier_image_inspect_matches_docker() {
    if skip_docker() || skip_pier() {
        return;
    }
    let Some(env) = setup() else { return };
    let img = fixtures::busybox(&env.reg);
    pier(&env.d, &["pull", &img.reference()]).ok();
    let (reference, short) = (img.reference(), short_id(img.id()));
    for args in [
        vec!["image", "inspect", &reference],
        vec!["image", "inspect", &short],
        vec![
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{.Os}}/{{.Architecture}}",
            &reference,
        ],
        vec![
            "image",
            "inspect",
            "--format",
            "{{json .RootFS}}",
            &reference,
        ],
    ] {
        let d = docker(&env.d, &args);
        let r = pier(&env.d, &args);
        assert_eq!(r.ok(), d.ok(), "pier {args:?}:\n{r}");
    }
    let r = pier(&env.d, &["image", "inspect", &img.reference()]);
    let v: Value = serde_json::from_str(r.ok()).expect("JSON");
    assert_eq!(v[0]["Id"], json!(img.id()));
    assert_eq!(v[0]["RepoDigests"], json!([img.repo_digest()]));
    assert_eq!(v[0]["RootFS"]["Layers"], json!(img.diff_ids));
    // Errors: same words, same exit code.
    let d = docker(&env.d, &["image", "inspect", "nope"]);
    let r = pier(&env.d, &["image", "inspect", "nope"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (d.code, d.stderr.as_str()),
        "{r}"
    );
}

#[test]
fn pier_tag_rmi_matches_docker() {
    let Some(p) = pair() else { return };
    let img = fixtures::busybox(&p.reg);
    docker(&p.dd, &["pull", &img.reference()]).ok();
    pier(&p.dp, &["pull", &img.reference()]).ok();
    let steps: Vec<Vec<String>> = vec![
        vec!["tag".into(), img.reference(), "mytag:1".into()],
        vec!["tag".into(), img.reference(), "other/name".into()],
        vec!["images".into()],
        vec!["rmi".into(), "mytag:1".into()],
        vec!["rmi".into(), "other/name".into(), img.reference()],
        vec!["images".into()],
        vec!["rmi".into(), img.reference()],
    ];
    for args in steps {
        let d = docker(&p.dd, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let r = pier(&p.dp, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            (r.code, table_rows_sorted(&r.stdout), r.stderr.as_str()),
            (d.code, table_rows_sorted(&d.stdout), d.stderr.as_str()),
            "pier {args:?}:\n{r}\ndocker:\n{d}"
        );
    }
}

#[test]
fn pier_import_matches_docker() {
    let Some(p) = pair() else { return };
    let file = p.dp.dir().join("rootfs.tar");
    std::fs::write(&file, fixtures::busybox_rootfs_tar()).unwrap();
    let args = [
        "import",
        "--change",
        r#"CMD ["sh"]"#,
        file.to_str().unwrap(),
        "imported:1",
    ];
    let d = docker(&p.dd, &args);
    let r = pier(&p.dp, &args);
    // The ID depends on the creation time, so compare the shape and the resulting image.
    let id = r.ok().trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{r}");
    d.ok();
    let fmt = [
        "image",
        "inspect",
        "--format",
        "{{json .Config.Cmd}} {{json .RootFS}} {{json .RepoTags}}",
        "imported:1",
    ];
    assert_eq!(pier(&p.dp, &fmt).ok(), docker(&p.dd, &fmt).ok());
    // Import from stdin ("-") as well.
    let mut cmd = pier_testkit::pier(&p.dp).unwrap();
    cmd.stdin(std::fs::File::open(&file).unwrap());
    let out = cmd.args(["import", "-", "fromstdin:1"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(pier_e2e::api_inspect(&p.dp, "fromstdin:1").is_some());
}

/// `pier version` / `pier info`: the Server parts are docker's, byte for byte.
#[test]
fn pier_version_info_match_docker() {
    if skip_docker() || skip_pier() {
        return;
    }
    let Some(env) = setup() else { return };
    let server = |s: &str| -> String {
        s.split_once("\nServer:")
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default()
    };
    let d = docker(&env.d, &["version"]);
    let r = pier(&env.d, &["version"]);
    assert!(!server(r.ok()).is_empty(), "no Server section: {r}");
    assert_eq!(server(&r.stdout), server(d.ok()), "{r}");
    let r = pier(&env.d, &["version", "--format", "{{.Server.APIVersion}}"]);
    assert_eq!(r.ok(), "1.50\n", "{r}");

    let d = docker(&env.d, &["info"]);
    let r = pier(&env.d, &["info"]);
    assert!(r.ok().contains("Storage Driver: overlay2"), "{r}");
    assert_eq!(server(&r.stdout), server(d.ok()), "{r}");
    let f = [
        "info",
        "--format",
        "{{.Driver}} {{.Images}} {{.Containers}}",
    ];
    assert_eq!(pier(&env.d, &f).ok(), docker(&env.d, &f).ok());
}

/// Failing commands: same exit code, same stdout and stderr as docker.
#[test]
fn pier_errors_match_docker() {
    if skip_docker() || skip_pier() {
        return;
    }
    let Some(env) = setup() else { return };
    let closed = format!(
        "127.0.0.1:{}/fixtures/busybox:latest",
        pier_testkit::free_port()
    );
    let cases: Vec<Vec<&str>> = vec![
        vec!["pull", &closed],
        vec!["pull", "Busybox"],
        vec!["rmi", "nope"],
        vec!["image", "inspect", "nope"],
        vec!["tag", "nope", "x:1"],
        vec!["images", "--filter", "bogus=1"],
    ];
    for args in cases {
        let d = docker(&env.d, &args);
        let r = pier(&env.d, &args);
        assert_ne!(d.code, Some(0), "docker {args:?} succeeded: {d}");
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (d.code, d.stdout.as_str(), d.stderr.as_str()),
            "pier {args:?}:\n{r}\ndocker:\n{d}"
        );
    }
}

/// Pull by digest, with shared layers, with `--platform`, quietly: pier prints what docker does.
#[test]
fn pier_pull_variants_match_docker() {
    let Some(p) = pair() else { return };
    let bb = fixtures::busybox(&p.reg);
    let two = fixtures::schema2(&p.reg);
    let idx = fixtures::multiarch(&p.reg, pier_testkit::Format::Oci);
    let platform = format!("linux/{}", fixtures::other_arch());
    let steps: Vec<Vec<String>> = vec![
        vec!["pull".into(), bb.repo_digest()],
        vec!["pull".into(), two.reference()],
        vec![
            "pull".into(),
            "--platform".into(),
            platform,
            idx.reference(),
        ],
        vec!["pull".into(), "-q".into(), idx.reference()],
    ];
    for args in steps {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let d = docker(&p.dd, &args);
        let r = pier(&p.dp, &args);
        assert_eq!(r.code, d.code, "pier {args:?}:\n{r}\ndocker:\n{d}");
        assert_eq!(
            stable_pull_lines(&r.stdout),
            stable_pull_lines(&d.stdout),
            "pier {args:?}:\n{r}\ndocker:\n{d}"
        );
    }
    let f = [
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}",
    ];
    assert_eq!(
        table_rows_sorted(&format!("\n{}", pier(&p.dp, &f).ok())),
        table_rows_sorted(&format!("\n{}", docker(&p.dd, &f).ok()))
    );
}
