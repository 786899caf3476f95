//! The API layer: the Docker Engine API over HTTP/1.1, translated to engine calls and back. No
//! decisions are made here — only routing, request parsing, response shapes, and streams.
//!
//! Paths are served with a `/vX.Y` prefix (1.24 to 1.50) or without one (the current version);
//! [`versioned`] strips the prefix, refuses versions out of range as dockerd does, and hands the
//! version to handlers as an [`ApiVersion`] extension. Every response carries dockerd's
//! `API-Version`, `OSType` and `Server` headers. Unknown routes fall to [`unimplemented`].

pub mod error;
pub mod images;
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
