//! The `pier` binary against a scripted Engine API server on a unix socket: checks what pier sends
//! (negotiated `/v1.43/` paths, queries, `X-Registry-Auth`) and that it prints exactly what docker
//! prints for the recorded answers (tables, inspect JSON, rmi lines, pull progress, daemon errors,
//! connection failures) with docker's exit codes. Runs without root or a real daemon.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

struct Fake {
    dir: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const IMAGE_JSON: &str = r#"{"Id":"sha256:65bc378d5b95d0f05fd8d07834c32a6ad0c0a44c120c8151bbfb67b6df8f37ca","RepoTags":["busybox:latest"],"RepoDigests":[],"Created":"2026-11-22T19:03:54.000000000Z","Config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Labels":{"b":"2","a":"\u003cx\u003e"}},"Architecture":"amd64","Os":"linux","Size":1981440,"RootFS":{"Type":"layers","Layers":["sha256:57b77e24cc41"]}}"#;

fn route(
    method: &str,
    path: &str,
    headers: &[String],
) -> (u16, &'static str, Vec<(String, String)>, String) {
    let json = "application/json";
    match (method, path) {
        ("HEAD" | "GET", "/_ping") => (200, "text/plain", vec![("Api-Version".into(), "1.43".into())], if method == "GET" { "OK".into() } else { String::new() }),
        ("GET", p) if p.starts_with("/v1.43/images/json") => {
            let created = chrono_now() - 7200;
            (200, json, vec![], format!(r#"[{{"Id":"sha256:65bc378d5b95d0f05fd8d07834c32a6ad0c0a44c120c8151bbfb67b6df8f37ca","ParentId":"","RepoTags":["busybox:latest","127.0.0.1:5000/library/busybox:1"],"RepoDigests":["busybox@sha256:156ad10e36cb79f4a0b410156416971ee31dc47998c602d5ec146a1fa900a6ee"],"Created":{created},"Size":4261550,"SharedSize":-1,"Labels":null,"Containers":-1}},{{"Id":"sha256:aaaa378d5b95d0f05fd8d07834c32a6ad0c0a44c120c8151bbfb67b6df8f37ca","ParentId":"","RepoTags":null,"RepoDigests":null,"Created":{},"Size":77800000,"SharedSize":-1,"Containers":-1}}]"#, created - 90))
        }
        ("GET", "/v1.43/info") => (200, json, vec![], r#"{"Swarm":{"LocalNodeState":"inactive","ControlAvailable":false}}"#.into()),
        ("GET", "/v1.43/images/busybox/json") => (200, json, vec![], format!("{IMAGE_JSON}\n")),
        ("GET", p) if p.starts_with("/v1.43/images/") && p.ends_with("/json") => (404, json, vec![], r#"{"message":"No such image: nope:latest"}"#.into()),
        ("DELETE", "/v1.43/images/busybox") => (200, json, vec![], r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:65bc378d5b95d0f05fd8d07834c32a6ad0c0a44c120c8151bbfb67b6df8f37ca"}]"#.into()),
        ("DELETE", _) => (409, json, vec![], r#"{"message":"conflict: unable to remove repository reference \"x\" (must force)"}"#.into()),
        ("POST", p) if p.starts_with("/v1.43/images/create?fromImage=") => {
            assert!(headers.iter().any(|h| h.eq_ignore_ascii_case("x-registry-auth: e30=")), "{headers:?}");
            if p.contains("missing") {
                return (200, json, vec![], "{\"status\":\"Pulling from x\",\"id\":\"1\"}\r\n{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest unknown\"}\r\n".into());
            }
            (200, json, vec![], concat!(
                "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n",
                "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"4e13266a8152\"}\r\n",
                "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":100,\"total\":1000},\"progress\":\"[=>  ]\",\"id\":\"4e13266a8152\"}\r\n",
                "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"4e13266a8152\"}\r\n",
                "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"4e13266a8152\"}\r\n",
                "{\"status\":\"Digest: sha256:156ad10e36cb79f4a0b410156416971ee31dc47998c602d5ec146a1fa900a6ee\"}\r\n",
                "{\"status\":\"Status: Downloaded newer image for busybox:latest\"}\r\n"
            ).into())
        }
        ("POST", p) if p.starts_with("/v1.43/images/busybox/tag?") => (201, "text/plain", vec![], String::new()),
        _ => (404, "text/plain", vec![], "404 page not found\n".into()),
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn start(name: &str) -> Fake {
    let dir = std::env::temp_dir().join(format!("pier-fake-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let listener = UnixListener::bind(dir.join("d.sock")).unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let rec = requests.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end().to_string();
                if h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length: ") {
                    len = v.parse().unwrap_or(0);
                }
                headers.push(h);
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            rec.lock().unwrap().push(format!("{method} {path}"));
            let (status, ctype, extra, body) = route(&method, &path, &headers);
            let mut resp =
                format!("HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nConnection: close\r\n");
            for (k, v) in extra {
                resp.push_str(&format!("{k}: {v}\r\n"));
            }
            resp.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            if method != "HEAD" {
                resp.push_str(&body);
            }
            let _ = conn.write_all(resp.as_bytes());
        }
    });
    Fake { dir, requests }
}

struct Out {
    stdout: String,
    stderr: String,
    code: i32,
}

fn pier(f: &Fake, args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("-H")
        .arg(format!("unix://{}", f.dir.join("d.sock").display()))
        .args(args)
        .env("DOCKER_CONFIG", f.dir.join("config"))
        .env_remove("DOCKER_API_VERSION")
        .output()
        .unwrap();
    Out {
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
        code: o.status.code().unwrap_or(-1),
    }
}

#[test]
fn images_table_and_negotiated_version() {
    let f = start("images");
    let o = pier(&f, &["images"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let row =
        |a: &str, b: &str, c: &str, d: &str, e: &str| format!("{a:<33}{b:<10}{c:<15}{d:<14}{e}\n");
    let want = [
        row("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"),
        row("busybox", "latest", "65bc378d5b95", "2 hours ago", "4.26MB"),
        row(
            "127.0.0.1:5000/library/busybox",
            "1",
            "65bc378d5b95",
            "2 hours ago",
            "4.26MB",
        ),
        row("<none>", "<none>", "aaaa378d5b95", "2 hours ago", "77.8MB"),
    ]
    .concat();
    assert_eq!(o.stdout, want);
    let reqs = f.requests.lock().unwrap().clone();
    assert_eq!(
        reqs,
        vec![
            "HEAD /_ping".to_string(),
            "GET /v1.43/images/json".to_string()
        ]
    );

    let o = pier(
        &f,
        &["images", "-q", "--filter", "dangling=false", "busybox"],
    );
    assert_eq!(o.stdout, "65bc378d5b95\n65bc378d5b95\naaaa378d5b95\n");
    let last = f.requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, "GET /v1.43/images/json?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%2C%22reference%22%3A%7B%22busybox%22%3Atrue%7D%7D");

    let o = pier(
        &f,
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"],
    );
    assert_eq!(
        o.stdout,
        "busybox:latest 4.26MB\n127.0.0.1:5000/library/busybox:1 4.26MB\n<none>:<none> 77.8MB\n"
    );

    let o = pier(&f, &["images", "--format", "{{.Bogus}}"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, "template parsing error: template: :1:2: executing \"\" at <.Bogus>: can't evaluate field Bogus in type *formatter.imageContext\n");
}

#[test]
fn inspect_prints_raw_json_indented_and_templates() {
    let f = start("inspect");
    let o = pier(&f, &["image", "inspect", "busybox"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .starts_with("[\n    {\n        \"Id\": \"sha256:65bc"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("\"a\": \"\\u003cx\\u003e\""),
        "{}",
        o.stdout
    );
    assert!(o.stdout.ends_with("        }\n    }\n]\n"), "{}", o.stdout);

    let o = pier(&f, &["inspect", "-f", "{{.Config.Cmd}} {{index .RepoTags 0}} {{.Size}} {{.Config.Entrypoint}} {{json .Config.Labels}}", "busybox"]);
    assert_eq!(
        o.stdout,
        "[sh] busybox:latest 1981440 [] {\"a\":\"<x>\",\"b\":\"2\"}\n"
    );

    let o = pier(
        &f,
        &["image", "inspect", "nope", "busybox", "-f", "{{.Os}}"],
    );
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (
            1,
            "linux\n",
            "Error response from daemon: No such image: nope:latest\n"
        )
    );

    let o = pier(&f, &["inspect", "nope"]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (1, "[]\n", "Error: No such object: nope\n")
    );

    let o = pier(&f, &["image", "inspect", "-f", "{{.Os", "busybox"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            64,
            "template parsing error: template: :1: unclosed action\n"
        )
    );
}

#[test]
fn rmi_tag_and_errors() {
    let f = start("rmi");
    let o = pier(&f, &["rmi", "busybox"]);
    assert_eq!(o.stdout, "Untagged: busybox:latest\nDeleted: sha256:65bc378d5b95d0f05fd8d07834c32a6ad0c0a44c120c8151bbfb67b6df8f37ca\n");
    let o = pier(&f, &["rmi", "x", "busybox"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stderr, "Error response from daemon: conflict: unable to remove repository reference \"x\" (must force)\n");
    assert!(o.stdout.starts_with("Untagged: busybox:latest\n"));

    let o = pier(&f, &["tag", "busybox", "127.0.0.1:5000/x"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let last = f.requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last,
        "POST /v1.43/images/busybox/tag?repo=127.0.0.1%3A5000%2Fx&tag=latest"
    );
    let o = pier(&f, &["tag", "busybox", "Bad"]);
    assert_eq!((o.code, o.stderr.as_str()), (1, "Error parsing reference: \"Bad\" is not a valid repository/tag: invalid reference format: repository name (library/Bad) must be lowercase\n"));
}

#[test]
fn pull_renders_progress_like_docker() {
    let f = start("pull");
    let o = pier(&f, &["pull", "busybox"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "Using default tag: latest\nlatest: Pulling from library/busybox\n4e13266a8152: Pulling fs layer\n4e13266a8152: Download complete\n\
         4e13266a8152: Pull complete\nDigest: sha256:156ad10e36cb79f4a0b410156416971ee31dc47998c602d5ec146a1fa900a6ee\n\
         Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n"
    );
    let last = f.requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last,
        "POST /v1.43/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest"
    );

    let o = pier(&f, &["pull", "-q", "busybox:1"]);
    assert_eq!(o.stdout, "docker.io/library/busybox:1\n");

    let o = pier(&f, &["pull", "missing:1"]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (1, "1: Pulling from x\n", "manifest unknown\n")
    );
}

#[test]
fn connection_failure_and_usage_errors() {
    let f = start("conn");
    let sock = format!("unix://{}/none.sock", f.dir.display());
    let o = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["-H", &sock, "images"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("Cannot connect to the Docker daemon at {sock}. Is the docker daemon running?\n")
    );

    let o = pier(&f, &["images", "--bogus"]);
    assert_eq!(o.code, 125);
    assert!(
        o.stderr.starts_with(
            "unknown flag: --bogus\n\nUsage:  pier images [OPTIONS] [REPOSITORY[:TAG]]\n"
        ),
        "{}",
        o.stderr
    );
    let o = pier(&f, &["tag", "a"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("pier: 'pier tag' requires 2 arguments\n"),
        "{}",
        o.stderr
    );
    let o = pier(&f, &["import", "http://example.invalid/x.tar"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("not supported by pier"), "{}", o.stderr);
    assert!(f.requests.lock().unwrap().is_empty());
}
