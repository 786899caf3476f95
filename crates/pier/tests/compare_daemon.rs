//! Read-only side-by-side comparison of `pier` and the real `docker` CLI against one daemon (a real
//! dockerd or pierd) named by `PIER_COMPARE_HOST` (e.g. `unix:///tmp/dk/docker.sock`): every listing,
//! inspect template, version/info server section and error case below must print the same bytes and
//! exit with the same code. Without `PIER_COMPARE_HOST` or the docker CLI the test prints a SKIP line.
//! Nothing on the daemon is changed.

use std::process::Command;

fn run(bin: &str, host: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = Command::new(bin);
    if bin == "docker" {
        c.env("DOCKER_HOST", host).env("DOCKER_CLI_HINTS", "false");
    } else {
        c.env_remove("DOCKER_HOST").arg("-H").arg(host);
    }
    let o = c
        .args(args)
        .env_remove("DOCKER_API_VERSION")
        .output()
        .expect("run");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn server_part(s: &str) -> String {
    s.split_once("\nServer:")
        .map(|(_, r)| r.to_string())
        .unwrap_or_default()
}

#[test]
fn pier_prints_what_docker_prints() {
    let Some(host) = std::env::var("PIER_COMPARE_HOST")
        .ok()
        .filter(|h| !h.is_empty())
    else {
        println!(
            "SKIP: set PIER_COMPARE_HOST=unix:///path/to/daemon.sock to compare pier with docker"
        );
        return;
    };
    if Command::new("docker").arg("--version").output().is_err() {
        println!("SKIP: docker CLI not installed");
        return;
    }
    let pier = env!("CARGO_BIN_EXE_pier");
    let (_, ids, _) = run(
        "docker",
        &host,
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    let refs: Vec<String> = ids
        .lines()
        .filter(|l| !l.contains("<none>"))
        .map(str::to_string)
        .collect();

    let mut cases: Vec<Vec<String>> = [
        &["images"][..],
        &["images", "-a"],
        &["images", "-q"],
        &["images", "--digests"],
        &["images", "--no-trunc"],
        &["images", "--format", "json"],
        &[
            "images",
            "--format",
            "table {{.Repository}}\t{{.Digest}}\t{{.Size}}",
        ],
        &[
            "images",
            "--format",
            "{{.ID}}: {{.Repository}} {{.CreatedAt}} {{.VirtualSize}}",
        ],
        &["images", "--filter", "dangling=true"],
        &["images", "--format", "{{.Nope}}"],
        &["images", "--filter", "bogus=1"],
        &["image", "inspect", "nope:1"],
        &["inspect", "nope:1"],
        &["rmi", "nope:1"],
        &["tag", "nope:1", "x:1"],
        &["pull", "Bad:Ref"],
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{json .Server}}",
        ],
        &[
            "info",
            "--format",
            "{{.Images}} {{.Driver}} {{json .Plugins}}",
        ],
        &["images", "--bogus"],
    ]
    .iter()
    .map(|a| a.iter().map(|s| s.to_string()).collect())
    .collect();
    for r in refs.iter().take(5) {
        for f in [
            "",
            "json",
            "{{.ID}} {{.Id}} {{.Os}}/{{.Architecture}} {{.Size}}",
            "{{json .Config}} {{json .RootFS}} {{.Config}} {{.RootFS}}",
            "{{.Config.Cmd}} {{.Config.Entrypoint}} {{.Config.Labels}} {{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}",
            "{{index .RepoTags 0}} {{join .RepoTags \",\"}} {{upper .Os}} {{len .RootFS.Layers}}",
            "{{json .}}",
            "{{.Config.Nope}}",
            "{{.Nope",
        ] {
            let mut a = vec!["image".to_string(), "inspect".to_string()];
            if !f.is_empty() {
                a.push("--format".into());
                a.push(f.into());
            }
            a.push(r.clone());
            cases.push(a);
        }
    }
    let mut failures = Vec::new();
    for a in &cases {
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        let d = run("docker", &host, &args);
        let p = run(pier, &host, &args);
        let (d, p) = if args[0] == "images" && args.get(1) == Some(&"--bogus") {
            // Usage text names the program.
            ((d.0, d.1, d.2.replace("docker", "pier")), p)
        } else {
            (d, p)
        };
        if d != p {
            failures.push(format!("{args:?}\ndocker: {d:?}\npier:   {p:?}"));
        }
    }
    for cmd in ["version", "info"] {
        let d = run("docker", &host, &[cmd]);
        let p = run(pier, &host, &[cmd]);
        if server_part(&d.1) != server_part(&p.1) || d.0 != p.0 {
            failures.push(format!(
                "{cmd} (Server section)\ndocker: {d:?}\npier:   {p:?}"
            ));
        }
    }
    println!(
        "compared {} commands with docker against {host}",
        cases.len() + 2
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
