//! Requests that reach no route: a Docker Engine API endpoint pier does not serve yet answers 501
//! naming it (never a silent wrong success); anything else is dockerd's 404 `page not found`.

use std::sync::LazyLock;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use regex::Regex;

use super::error::ApiError;

/// Every endpoint of the Engine API v1.50 (from its spec). `{name}` may contain slashes (image
/// and plugin names), `{id}` may not.
const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/containers/json"),
    ("POST", "/containers/create"),
    ("GET", "/containers/{id}/json"),
    ("GET", "/containers/{id}/top"),
    ("GET", "/containers/{id}/logs"),
    ("GET", "/containers/{id}/changes"),
    ("GET", "/containers/{id}/export"),
    ("GET", "/containers/{id}/stats"),
    ("POST", "/containers/{id}/resize"),
    ("POST", "/containers/{id}/start"),
    ("POST", "/containers/{id}/stop"),
    ("POST", "/containers/{id}/restart"),
    ("POST", "/containers/{id}/kill"),
    ("POST", "/containers/{id}/update"),
    ("POST", "/containers/{id}/rename"),
    ("POST", "/containers/{id}/pause"),
    ("POST", "/containers/{id}/unpause"),
    ("POST", "/containers/{id}/attach"),
    ("GET", "/containers/{id}/attach/ws"),
    ("POST", "/containers/{id}/wait"),
    ("DELETE", "/containers/{id}"),
    ("HEAD", "/containers/{id}/archive"),
    ("GET", "/containers/{id}/archive"),
    ("PUT", "/containers/{id}/archive"),
    ("POST", "/containers/prune"),
    ("GET", "/images/json"),
    ("POST", "/build"),
    ("POST", "/build/prune"),
    ("POST", "/images/create"),
    ("GET", "/images/{name}/json"),
    ("GET", "/images/{name}/history"),
    ("POST", "/images/{name}/push"),
    ("POST", "/images/{name}/tag"),
    ("DELETE", "/images/{name}"),
    ("GET", "/images/search"),
    ("POST", "/images/prune"),
    ("POST", "/auth"),
    ("GET", "/info"),
    ("GET", "/version"),
    ("GET", "/_ping"),
    ("HEAD", "/_ping"),
    ("POST", "/commit"),
    ("GET", "/events"),
    ("GET", "/system/df"),
    ("GET", "/images/{name}/get"),
    ("GET", "/images/get"),
    ("POST", "/images/load"),
    ("POST", "/containers/{id}/exec"),
    ("POST", "/exec/{id}/start"),
    ("POST", "/exec/{id}/resize"),
    ("GET", "/exec/{id}/json"),
    ("GET", "/volumes"),
    ("POST", "/volumes/create"),
    ("GET", "/volumes/{id}"),
    ("PUT", "/volumes/{id}"),
    ("DELETE", "/volumes/{id}"),
    ("POST", "/volumes/prune"),
    ("GET", "/networks"),
    ("GET", "/networks/{id}"),
    ("DELETE", "/networks/{id}"),
    ("POST", "/networks/create"),
    ("POST", "/networks/{id}/connect"),
    ("POST", "/networks/{id}/disconnect"),
    ("POST", "/networks/prune"),
    ("GET", "/plugins"),
    ("GET", "/plugins/privileges"),
    ("POST", "/plugins/pull"),
    ("GET", "/plugins/{name}/json"),
    ("DELETE", "/plugins/{name}"),
    ("POST", "/plugins/{name}/enable"),
    ("POST", "/plugins/{name}/disable"),
    ("POST", "/plugins/{name}/upgrade"),
    ("POST", "/plugins/create"),
    ("POST", "/plugins/{name}/push"),
    ("POST", "/plugins/{name}/set"),
    ("GET", "/nodes"),
    ("GET", "/nodes/{id}"),
    ("DELETE", "/nodes/{id}"),
    ("POST", "/nodes/{id}/update"),
    ("GET", "/swarm"),
    ("POST", "/swarm/init"),
    ("POST", "/swarm/join"),
    ("POST", "/swarm/leave"),
    ("POST", "/swarm/update"),
    ("GET", "/swarm/unlockkey"),
    ("POST", "/swarm/unlock"),
    ("GET", "/services"),
    ("POST", "/services/create"),
    ("GET", "/services/{id}"),
    ("DELETE", "/services/{id}"),
    ("POST", "/services/{id}/update"),
    ("GET", "/services/{id}/logs"),
    ("GET", "/tasks"),
    ("GET", "/tasks/{id}"),
    ("GET", "/tasks/{id}/logs"),
    ("GET", "/secrets"),
    ("POST", "/secrets/create"),
    ("GET", "/secrets/{id}"),
    ("DELETE", "/secrets/{id}"),
    ("POST", "/secrets/{id}/update"),
    ("GET", "/configs"),
    ("POST", "/configs/create"),
    ("GET", "/configs/{id}"),
    ("DELETE", "/configs/{id}"),
    ("POST", "/configs/{id}/update"),
    ("GET", "/distribution/{name}/json"),
    ("POST", "/session"),
    ("POST", "/grpc"),
];

static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    ENDPOINTS
        .iter()
        .map(|(method, path)| {
            let re = regex::escape(path)
                .replace(r"\{name\}", ".+")
                .replace(r"\{id\}", "[^/]+");
            (
                *method,
                Regex::new(&format!("^{re}/?$")).expect("endpoint pattern"),
            )
        })
        .collect()
});

/// Whether `method path` is an Engine API endpoint.
pub fn is_engine_endpoint(method: &str, path: &str) -> bool {
    let method = if method == "HEAD" && !path.ends_with("/archive") && path != "/_ping" {
        "GET"
    } else {
        method
    };
    PATTERNS
        .iter()
        .any(|(m, re)| *m == method && re.is_match(path))
}

/// The router's fallback.
pub async fn fallback(req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    if is_engine_endpoint(&method, &path) {
        ApiError::not_implemented(&method, &path).into_response()
    } else {
        ApiError::page_not_found().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_engine_endpoints() {
        assert!(is_engine_endpoint("GET", "/containers/json"));
        assert!(is_engine_endpoint("POST", "/containers/abc/start"));
        assert!(is_engine_endpoint(
            "POST",
            "/images/127.0.0.1:5000/x/y:1/push"
        ));
        assert!(is_engine_endpoint("GET", "/events"));
        assert!(!is_engine_endpoint("GET", "/nope"));
        assert!(!is_engine_endpoint("DELETE", "/containers/json/x/y"));
        assert!(!is_engine_endpoint("PATCH", "/containers/json"));
    }
}
