//! Bad input: a clear error on stderr, a non-zero exit, and nothing left behind (no state
//! directory, no cgroup, no mount).

mod common;

use common::*;
use serde_json::json;

fn fails_clean(b: &Bundle, want: &str) {
    let o = b.run();
    assert!(!o.status.success(), "should fail: {}", stdout(&o));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains(want), "stderr {err:?} should contain {want:?}");
    b.assert_clean();
}

#[test]
fn invalid_json() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    b.write_config();
    std::fs::write(b.path().join("config.json"), "{ not json").unwrap();
    let o = b
        .cmd()
        .args(["run", "--bundle"])
        .arg(b.path())
        .arg(&b.id)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid configuration"),
        "{}",
        stderr(&o)
    );
    b.assert_clean();
}

#[test]
fn incomplete_config() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config.as_object_mut().unwrap().remove("process");
    fails_clean(&b, "process must be set");
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["args"] = json!([]);
    fails_clean(&b, "args must not be empty");
}

#[test]
fn missing_rootfs() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["root"]["path"] = json!("no-such-rootfs");
    fails_clean(&b, "no-such-rootfs");
}

#[test]
fn unknown_namespace() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "bogus"}));
    fails_clean(&b, "bogus");
}

#[test]
fn nonexistent_binary() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["no-such-binary"]);
    fails_clean(&b, "executable file not found in $PATH");
    let b = Bundle::new(&["/bin/missing"]);
    fails_clean(&b, "/bin/missing");
}

#[test]
fn bad_cgroup_value() {
    if !is_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["resources"]["cpu"] = json!({"cpus": "999"});
    fails_clean(&b, "cpuset.cpus");
}

#[test]
fn duplicate_id_keeps_the_first() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    assert!(b.create().status.success());
    let o = b.create();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("container with id exists"),
        "{}",
        stderr(&o)
    );
    assert_eq!(b.state()["status"], "created");
}

#[test]
fn invalid_id() {
    let b = Bundle::new(&["true"]);
    b.write_config();
    let o = b
        .cmd()
        .args(["run", "--bundle"])
        .arg(b.path())
        .arg("../escape")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("invalid container id"),
        "{}",
        stderr(&o)
    );
}
