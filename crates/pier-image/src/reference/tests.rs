//! The test tables of distribution/reference (normalize_test.go, reference_test.go), ported.

use super::*;

const FFF: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

#[test]
fn validate_reference_name() {
    let valid = [
        "docker/docker",
        "library/debian",
        "debian",
        "localhost/library/debian",
        "localhost/debian",
        "LOCALDOMAIN/library/debian",
        "LOCALDOMAIN/debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
    ];
    let invalid = [
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fe80::1%eth0]:5000/debian",
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    ];
    for name in valid {
        assert!(
            parse_normalized(name).is_ok(),
            "{name:?} should be valid: {:?}",
            parse_normalized(name)
        );
    }
    for name in invalid {
        assert!(
            parse_normalized(name).is_err(),
            "{name:?} should be invalid"
        );
    }
}

#[test]
fn validate_remote_name() {
    let valid = [
        "docker/docker",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ];
    let long_ns = "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4)
        + "/docker";
    let invalid = [
        "docker/Docker",
        "docker///docker",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "-docker/docker",
        "docker-/docker",
        "-docker-/docker",
        "____/____",
        "_docker/_docker",
        "dock..er/docker",
        "dock_.er/docker",
        "dock-.er/docker",
        "docker/",
        &long_ns,
    ];
    for name in valid {
        assert!(parse_normalized(name).is_ok(), "{name:?} should be valid");
    }
    for name in invalid {
        assert!(
            parse_normalized(name).is_err(),
            "{name:?} should be invalid"
        );
    }
}

#[test]
fn parse_repository_info() {
    // (remote name, familiar name, full name, ambiguous name, domain)
    let cases = [
        (
            "fooo",
            "localhost/fooo",
            "localhost/fooo",
            "localhost/fooo",
            "localhost",
        ),
        (
            "fooo/bar",
            "localhost/fooo/bar",
            "localhost/fooo/bar",
            "localhost/fooo/bar",
            "localhost",
        ),
        (
            "fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN/fooo",
            "LOCALDOMAIN",
        ),
        (
            "fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN/fooo/bar",
            "LOCALDOMAIN",
        ),
        (
            "fooo/bar",
            "fooo/bar",
            "docker.io/fooo/bar",
            "index.docker.io/fooo/bar",
            "docker.io",
        ),
        (
            "library/ubuntu",
            "ubuntu",
            "docker.io/library/ubuntu",
            "library/ubuntu",
            "docker.io",
        ),
        (
            "nonlibrary/ubuntu",
            "nonlibrary/ubuntu",
            "docker.io/nonlibrary/ubuntu",
            "",
            "docker.io",
        ),
        (
            "other/library",
            "other/library",
            "docker.io/other/library",
            "",
            "docker.io",
        ),
        (
            "private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "",
            "127.0.0.1:8000",
        ),
        (
            "privatebase",
            "127.0.0.1:8000/privatebase",
            "127.0.0.1:8000/privatebase",
            "",
            "127.0.0.1:8000",
        ),
        (
            "private/moonbase",
            "example.com/private/moonbase",
            "example.com/private/moonbase",
            "",
            "example.com",
        ),
        (
            "privatebase",
            "example.com/privatebase",
            "example.com/privatebase",
            "",
            "example.com",
        ),
        (
            "private/moonbase",
            "example.com:8000/private/moonbase",
            "example.com:8000/private/moonbase",
            "",
            "example.com:8000",
        ),
        (
            "privatebasee",
            "example.com:8000/privatebasee",
            "example.com:8000/privatebasee",
            "",
            "example.com:8000",
        ),
        (
            "library/ubuntu-12.04-base",
            "ubuntu-12.04-base",
            "docker.io/library/ubuntu-12.04-base",
            "index.docker.io/library/ubuntu-12.04-base",
            "docker.io",
        ),
        (
            "library/foo",
            "foo",
            "docker.io/library/foo",
            "docker.io/foo",
            "docker.io",
        ),
        (
            "library/foo/bar",
            "library/foo/bar",
            "docker.io/library/foo/bar",
            "",
            "docker.io",
        ),
        (
            "store/foo/bar",
            "store/foo/bar",
            "docker.io/store/foo/bar",
            "",
            "docker.io",
        ),
        ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
        ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
    ];
    for (remote, familiar, full, ambiguous, domain) in cases {
        let mut inputs = vec![familiar, full];
        if !ambiguous.is_empty() {
            inputs.push(ambiguous);
        }
        for input in inputs {
            let r = parse_normalized(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.familiar_name(), familiar, "familiar name of {input}");
            assert_eq!(r.to_string(), full, "full name of {input}");
            assert_eq!(r.name(), full, "name of {input}");
            assert_eq!(r.domain(), domain, "domain of {input}");
            assert_eq!(r.path(), remote, "path of {input}");
        }
    }
}

#[test]
fn parse_reference_with_tag_and_digest() {
    let short =
        "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r = parse_normalized(short).unwrap();
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert_eq!(r.tag(), Some("latest"));
    assert!(r.digest().is_some());
    assert_eq!(r.familiar_string(), short);
}

#[test]
fn invalid_reference_components() {
    assert!(parse_normalized("-foo").is_err());
    let r = parse_normalized("busybox").unwrap();
    assert_eq!(r.with_tag("-foo").unwrap_err(), ReferenceError::InvalidTag);
    assert_eq!(
        r.with_tag("v1.0").unwrap().familiar_string(),
        "busybox:v1.0"
    );
}

#[test]
fn parse_any_reference_equivalents() {
    let d = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
    let cases = [
        ("redis".to_owned(), "docker.io/library/redis".to_owned()),
        (
            "redis:latest".to_owned(),
            "docker.io/library/redis:latest".to_owned(),
        ),
        (
            "docker.io/library/redis:latest".to_owned(),
            "docker.io/library/redis:latest".to_owned(),
        ),
        (format!("redis@{d}"), format!("docker.io/library/redis@{d}")),
        (
            format!("docker.io/library/redis@{d}"),
            format!("docker.io/library/redis@{d}"),
        ),
        (
            "dmcgowan/myapp".to_owned(),
            "docker.io/dmcgowan/myapp".to_owned(),
        ),
        (
            "dmcgowan/myapp:latest".to_owned(),
            "docker.io/dmcgowan/myapp:latest".to_owned(),
        ),
        (
            "docker.io/mcgowan/myapp:latest".to_owned(),
            "docker.io/mcgowan/myapp:latest".to_owned(),
        ),
        (
            format!("dmcgowan/myapp@{d}"),
            format!("docker.io/dmcgowan/myapp@{d}"),
        ),
        (
            format!("docker.io/dmcgowan/myapp@{d}"),
            format!("docker.io/dmcgowan/myapp@{d}"),
        ),
        (
            "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9".to_owned(),
            "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9"
                .to_owned(),
        ),
        ("dbcc1".to_owned(), "docker.io/library/dbcc1".to_owned()),
    ];
    for (input, want) in cases {
        let r = parse_normalized(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), want);
        assert_eq!(r, parse(&want).unwrap(), "{input} parses like {want}");
    }
}

#[test]
fn normalized_split_hostname() {
    let cases = [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    ];
    for (input, domain, path) in cases {
        let r = parse_normalized(input).unwrap();
        assert_eq!((r.domain(), r.path()), (domain, path), "{input}");
    }
}

#[test]
fn parse_docker_ref_table() {
    let d = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";
    let cases = [
        (
            "busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            format!("busybox@{d}"),
            format!("docker.io/library/busybox@{d}"),
        ),
        (
            "library/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/library/busybox".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "library/busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "docker.io/library/busybox:latest".to_owned(),
            "docker.io/library/busybox:latest".to_owned(),
        ),
        (
            "gcr.io/library/busybox".to_owned(),
            "gcr.io/library/busybox:latest".to_owned(),
        ),
        (
            format!("gcr.io/library/busybox:latest@{d}"),
            format!("gcr.io/library/busybox@{d}"),
        ),
    ];
    for (input, want) in cases {
        let r = parse_docker_ref(&input).unwrap();
        assert_eq!(r.to_string(), want, "{input}");
        assert!(parse(&r.to_string()).is_ok());
    }
}

/// TestReferenceParse: `parse` (no normalization). (input, result) where result is
/// Ok((name, domain, tag, digest)) or the expected error.
#[test]
fn reference_parse_table() {
    type Want = Result<(String, &'static str, &'static str, &'static str), ReferenceError>;
    fn ok(name: &str, domain: &'static str, tag: &'static str, digest: &'static str) -> Want {
        Ok((name.to_owned(), domain, tag, digest))
    }
    let a255 = "a".repeat(255);
    let cases: Vec<(String, Want)> = vec![
        ("test_com".into(), ok("test_com", "", "", "")),
        ("test.com:tag".into(), ok("test.com", "", "tag", "")),
        ("test.com:5000".into(), ok("test.com", "", "5000", "")),
        (
            "test.com/repo:tag".into(),
            ok("test.com/repo", "test.com", "tag", ""),
        ),
        (
            "test:5000/repo".into(),
            ok("test:5000/repo", "test:5000", "", ""),
        ),
        (
            "test:5000/repo:tag".into(),
            ok("test:5000/repo", "test:5000", "tag", ""),
        ),
        (
            format!("test:5000/repo@{FFF}"),
            ok("test:5000/repo", "test:5000", "", FFF),
        ),
        (
            format!("test:5000/repo:tag@{FFF}"),
            ok("test:5000/repo", "test:5000", "tag", FFF),
        ),
        ("".into(), Err(ReferenceError::NameEmpty)),
        (":justtag".into(), Err(ReferenceError::InvalidFormat)),
        (format!("@{FFF}"), Err(ReferenceError::InvalidFormat)),
        (
            "repo@sha256:ffffffffffffffffffffffffffffffffff".into(),
            Err(ReferenceError::Digest(DigestError::InvalidLength)),
        ),
        (
            format!("validname@invaliddigest:{}", "f".repeat(64)),
            Err(ReferenceError::Digest(DigestError::Unsupported)),
        ),
        (
            format!("validname@sha512:{}", "f".repeat(128)),
            Err(ReferenceError::Digest(DigestError::Unsupported)),
        ),
        (
            "Uppercase:tag".into(),
            Err(ReferenceError::NameContainsUppercase),
        ),
        (
            "test:5000/Uppercase/lowercase:tag".into(),
            Err(ReferenceError::NameContainsUppercase),
        ),
        (
            "lowercase:Uppercase".into(),
            ok("lowercase", "", "Uppercase", ""),
        ),
        (
            format!("domain/{}:tag", "a".repeat(256)),
            Err(ReferenceError::NameTooLong),
        ),
        (
            format!("{}a:tag-puts-this-over-max", "a/".repeat(127)),
            ok(
                &format!("{}a", "a/".repeat(127)),
                "a",
                "tag-puts-this-over-max",
                "",
            ),
        ),
        ("aa/asdf$$^/aa".into(), Err(ReferenceError::InvalidFormat)),
        (
            "sub-dom1.foo.com/bar/baz/quux".into(),
            ok("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "", ""),
        ),
        (
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag".into(),
            ok(
                "sub-dom1.foo.com/bar/baz/quux",
                "sub-dom1.foo.com",
                "some-long-tag",
                "",
            ),
        ),
        (
            "b.gcr.io/test.example.com/my-app:test.example.com".into(),
            ok(
                "b.gcr.io/test.example.com/my-app",
                "b.gcr.io",
                "test.example.com",
                "",
            ),
        ),
        (
            "xn--n3h.com/myimage:xn--n3h.com".into(),
            ok("xn--n3h.com/myimage", "xn--n3h.com", "xn--n3h.com", ""),
        ),
        (
            format!("xn--7o8h.com/myimage:xn--7o8h.com@{FFF}"),
            ok("xn--7o8h.com/myimage", "xn--7o8h.com", "xn--7o8h.com", FFF),
        ),
        ("foo_bar.com:8080".into(), ok("foo_bar.com", "", "8080", "")),
        (
            "foo/foo_bar.com:8080".into(),
            ok("foo/foo_bar.com", "foo", "8080", ""),
        ),
        ("192.168.1.1".into(), ok("192.168.1.1", "", "", "")),
        ("192.168.1.1:tag".into(), ok("192.168.1.1", "", "tag", "")),
        ("192.168.1.1:5000".into(), ok("192.168.1.1", "", "5000", "")),
        (
            "192.168.1.1/repo".into(),
            ok("192.168.1.1/repo", "192.168.1.1", "", ""),
        ),
        (
            "192.168.1.1:5000/repo".into(),
            ok("192.168.1.1:5000/repo", "192.168.1.1:5000", "", ""),
        ),
        (
            "192.168.1.1:5000/repo:5050".into(),
            ok("192.168.1.1:5000/repo", "192.168.1.1:5000", "5050", ""),
        ),
        ("[2001:db8::1]".into(), Err(ReferenceError::InvalidFormat)),
        (
            "[2001:db8::1]:5000".into(),
            Err(ReferenceError::InvalidFormat),
        ),
        (
            "[2001:db8::1]:tag".into(),
            Err(ReferenceError::InvalidFormat),
        ),
        (
            "[2001:db8::1]/repo".into(),
            ok("[2001:db8::1]/repo", "[2001:db8::1]", "", ""),
        ),
        (
            "[2001:db8:1:2:3:4:5:6]/repo:tag".into(),
            ok(
                "[2001:db8:1:2:3:4:5:6]/repo",
                "[2001:db8:1:2:3:4:5:6]",
                "tag",
                "",
            ),
        ),
        (
            "[2001:db8::1]:5000/repo".into(),
            ok("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "", ""),
        ),
        (
            "[2001:db8::1]:5000/repo:tag".into(),
            ok("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag", ""),
        ),
        (
            format!("[2001:db8::1]:5000/repo@{FFF}"),
            ok("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "", FFF),
        ),
        (
            format!("[2001:db8::1]:5000/repo:tag@{FFF}"),
            ok("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag", FFF),
        ),
        (
            "[2001:db8::]:5000/repo".into(),
            ok("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "", ""),
        ),
        (
            "[::1]:5000/repo".into(),
            ok("[::1]:5000/repo", "[::1]:5000", "", ""),
        ),
        (
            "[fe80::1%eth0]:5000/repo".into(),
            Err(ReferenceError::InvalidFormat),
        ),
        (
            "[fe80::1%@invalidzone]:5000/repo".into(),
            Err(ReferenceError::InvalidFormat),
        ),
        (
            format!("example.com/{a255}:tag"),
            ok(&format!("example.com/{a255}"), "example.com", "tag", ""),
        ),
    ];
    for (input, want) in cases {
        let got = parse(&input);
        match want {
            Err(e) => assert_eq!(got.unwrap_err(), e, "{input}"),
            Ok((name, domain, tag, digest)) => {
                let r = got.unwrap_or_else(|e| panic!("{input}: {e}"));
                assert_eq!(r.to_string(), input, "round trip");
                assert_eq!(r.name(), name, "name of {input}");
                assert_eq!(r.domain(), domain, "domain of {input}");
                assert_eq!(r.tag().unwrap_or(""), tag, "tag of {input}");
                assert_eq!(
                    r.digest().map(|d| d.to_string()).unwrap_or_default(),
                    digest,
                    "digest of {input}"
                );
            }
        }
    }
}

#[test]
fn domain_and_path() {
    let cases = [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "", "test_com/foo"),
        ("test:8080/foo", "test:8080", "foo"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    ];
    for (input, domain, path) in cases {
        let r = parse(input).unwrap();
        assert_eq!((r.domain(), r.path()), (domain, path), "{input}");
    }
}

#[test]
fn docker_error_messages() {
    let e = parse_normalized("Busybox").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid reference format: repository name (library/Busybox) must be lowercase"
    );
    assert_eq!(
        parse_normalized("busy box").unwrap_err().to_string(),
        "invalid reference format"
    );
    assert_eq!(
        parse_normalized("busybox:").unwrap_err().to_string(),
        "invalid reference format"
    );
    assert_eq!(
        parse_normalized("").unwrap_err().to_string(),
        "invalid reference format"
    );
    assert_eq!(
        parse("").unwrap_err().to_string(),
        "repository name must have at least one component"
    );
    let long = format!("example.com/{}", "a".repeat(256));
    assert_eq!(
        parse_normalized(&long).unwrap_err().to_string(),
        "repository name must not be more than 255 characters"
    );
    let id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
    assert_eq!(
        parse_normalized(id).unwrap_err().to_string(),
        format!("invalid repository name ({id}), cannot specify 64-byte hexadecimal strings")
    );
    let bad_tag = format!("busybox:{}", "t".repeat(129));
    assert_eq!(
        parse_normalized(&bad_tag).unwrap_err(),
        ReferenceError::InvalidFormat
    );
    assert!(parse_normalized(&format!("busybox:{}", "t".repeat(128))).is_ok());
}

#[test]
fn familiar_forms_and_defaults() {
    let r = parse_normalized("busybox").unwrap();
    assert_eq!(r.name(), "docker.io/library/busybox");
    assert_eq!(r.familiar_name(), "busybox");
    assert_eq!(r.tag(), None);
    let t = r.with_default_tag();
    assert_eq!(t.familiar_string(), "busybox:latest");
    assert_eq!(t.to_string(), "docker.io/library/busybox:latest");
    let local = parse_normalized("localhost:5000/app:v1").unwrap();
    assert_eq!(local.familiar_string(), "localhost:5000/app:v1");
    assert_eq!(local.with_default_tag(), local);
    let digested = parse_normalized(&format!("busybox@{FFF}")).unwrap();
    assert_eq!(digested.with_default_tag().tag(), None);
    assert_eq!(
        digested.repository().to_string(),
        "docker.io/library/busybox"
    );
    let parsed: Reference = "ubuntu:22.04".parse().unwrap();
    assert_eq!(parsed.familiar_string(), "ubuntu:22.04");
}

/// The parser must reject, never panic on, arbitrary input. A deterministic generator mixes the
/// grammar's interesting characters with random bytes (multi-byte UTF-8 included).
#[test]
fn parser_never_panics_on_generated_input() {
    let alphabet: Vec<char> = "abcXYZ019:/@._-[]%$ \u{e9}\u{1F433}sha256:ffff"
        .chars()
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 80) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        if let Ok(r) = parse_normalized(&s) {
            // Whatever parses must print to something that parses back to the same reference.
            assert_eq!(parse(&r.to_string()).unwrap(), r, "{s:?}");
        }
        let _ = parse(&s);
        let _ = parse_docker_ref(&s);
    }
}
