//! The API layer: the Docker Engine API over HTTP/1.1, translated to engine calls and back. No
//! decisions are made here — only routing, request parsing, response shapes, and streams.
//!
//! Paths are served with a `/vX.Y` prefix (1.24 to 1.50) or without one (the current version);
//! [`versioned`] strips the prefix, refuses versions out of range as dockerd does, and hands the
//! version to handlers as an [`ApiVersion`] extension. Every response carries dockerd's
//! `API-Version`, `OSType` and `Server` headers. Unknown routes fall to [`unimplemented`].

pub mod containers;
pub mod error;
pub mod images;
pub mod networks;
pub mod query;
pub mod stream;
pub mod system;
pub mod unimplemented;

use std::sync::{Arc, LazyLock};

use axum::extract::Request;
use axum::http::{HeaderValue, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use pier_api::{ApiVersion, API_VERSION};
use regex::Regex;

use crate::engine::{system::ENGINE_VERSION, Engine};
use error::ApiError;

pub type AppState = Arc<Engine>;

/// The complete HTTP service: version handling around the routes.
pub fn service(
    engine: Arc<Engine>,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + 'static {
    let router = routes().with_state(engine);
    tower::Layer::layer(&middleware::from_fn(versioned), router)
}

fn routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping_head))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/auth", post(system::auth))
        .route("/events", get(system::events))
        .route("/containers/json", get(containers::list))
        .route("/containers/create", post(containers::create))
        .route("/containers/prune", post(containers::prune))
        .route(
            "/containers/{id}",
            axum::routing::delete(containers::delete),
        )
        .route(
            "/containers/{id}/{op}",
            get(containers::get_op).post(containers::post_op),
        )
        .route("/exec/{id}/start", post(containers::exec_start))
        .route("/exec/{id}/resize", post(containers::exec_resize))
        .route("/exec/{id}/json", get(containers::exec_inspect))
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::delete),
        )
        .route("/networks/{id}/{op}", post(networks::op))
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/images/prune", post(images::prune))
        .route(
            "/images/{*rest}",
            get(images::by_name_get)
                .post(images::by_name_post)
                .delete(images::delete),
        )
        .fallback(unimplemented::fallback)
}

static VERSION_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^/v([0-9.]+)(/.*)?$").expect("version prefix"));

/// Strips and checks the `/vX.Y` prefix, then adds dockerd's headers to the response.
async fn versioned(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut version = ApiVersion::CURRENT;
    if let Some(caps) = VERSION_PREFIX.captures(&path) {
        let checked = caps[1]
            .parse::<ApiVersion>()
            .and_then(ApiVersion::check)
            .map_err(|e| ApiError::bad_request(e.to_string()));
        match checked {
            Ok(v) => version = v,
            Err(e) => return with_headers(e.into_response()),
        }
        let rest = caps.get(2).map_or("/", |m| m.as_str());
        let new_uri = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        };
        match new_uri.parse::<Uri>() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return with_headers(ApiError::page_not_found().into_response()),
        }
    }
    req.extensions_mut().insert(version);
    tracing::debug!(method = %req.method(), path = %req.uri(), %version, "request");
    with_headers(next.run(req).await)
}

fn with_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("API-Version", HeaderValue::from_static(API_VERSION));
    h.insert("OSType", HeaderValue::from_static("linux"));
    if let Ok(v) = HeaderValue::from_str(&format!("Docker/{ENGINE_VERSION} (linux)")) {
        h.insert("Server", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn call(
        svc: &(impl tower::Service<
            Request<Body>,
            Response = Response,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone),
        method: Method,
        uri: &str,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let resp = svc.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn versions_routes_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(Arc::new(crate::engine::tests::engine(dir.path())));

        let (s, h, body) = call(&svc, Method::GET, "/_ping").await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, "OK"));
        assert_eq!(h["api-version"], "1.50");
        assert_eq!(h["ostype"], "linux");
        assert_eq!(h["docker-experimental"], "false");
        assert_eq!(h["builder-version"], "1");
        assert_eq!(h["cache-control"], "no-cache, no-store, must-revalidate");
        assert_eq!(h["pragma"], "no-cache");
        let (s, h, body) = call(&svc, Method::HEAD, "/v1.41/_ping").await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, ""));
        assert_eq!(h["api-version"], "1.50");

        let (s, _, body) = call(&svc, Method::GET, "/v1.50/version").await;
        assert_eq!(s, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["ApiVersion"], "1.50");

        let (s, _, body) = call(&svc, Method::GET, "/v1.99/info").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            r#"{"message":"client version 1.99 is too new. Maximum supported API version is 1.50"}"#
        );
        let (s, _, _) = call(&svc, Method::GET, "/v1.12/info").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        let (s, _, body) = call(&svc, Method::GET, "/v1.50/nope").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(body, r#"{"message":"page not found"}"#);
        let (s, _, body) = call(&svc, Method::GET, "/v1.50/containers/nope/json").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(body, r#"{"message":"No such container: nope"}"#);
        let (s, _, body) = call(&svc, Method::GET, "/v1.50/containers/x/changes").await;
        assert_eq!(s, StatusCode::NOT_IMPLEMENTED, "{body}");
        let (s, _, _) = call(&svc, Method::POST, "/images/x/push").await;
        assert_eq!(s, StatusCode::NOT_IMPLEMENTED);
        let (s, _, body) = call(
            &svc,
            Method::GET,
            "/events?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        let (s, _, body) = call(&svc, Method::GET, "/events?since=0&until=1").await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, ""));
    }

    #[tokio::test]
    async fn image_errors_are_plain_http_errors() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(Arc::new(crate::engine::tests::engine(dir.path())));
        let (s, _, body) = call(&svc, Method::GET, "/v1.50/images/nope/json").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(body, r#"{"message":"No such image: nope:latest"}"#);
        let (s, _, body) = call(
            &svc,
            Method::POST,
            "/images/create?fromImage=Bad%2FName&tag=latest",
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(body.contains("invalid reference format"), "{body}");
        let (s, _, body) = call(&svc, Method::POST, "/images/create?fromImage=a%20b").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(body, r#"{"message":"invalid reference format"}"#);
        let (s, _, _) = call(
            &svc,
            Method::POST,
            "/images/create?fromImage=x&platform=linux%2F%20",
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _, body) = call(
            &svc,
            Method::GET,
            "/images/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(body, r#"{"message":"invalid filter 'bogus'"}"#);
        let (s, _, body) = call(&svc, Method::GET, "/v1.41/images/json").await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, "[]"));
        let (s, _, body) = call(&svc, Method::POST, "/auth").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        let (s, _, body) = call(&svc, Method::DELETE, "/images/nope").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(body, r#"{"message":"No such image: nope:latest"}"#);
        let (s, _, body) = call(&svc, Method::POST, "/images/prune").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(body, r#"{"ImagesDeleted":null,"SpaceReclaimed":0}"#);
    }
}
