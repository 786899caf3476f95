//! `/_ping`, `/version`, `/info`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ApiResult;
use super::AppState;

fn ping_headers() -> [(&'static str, &'static str); 6] {
    [
        ("Cache-Control", "no-cache, no-store, must-revalidate"),
        ("Pragma", "no-cache"),
        ("Docker-Experimental", "false"),
        ("Builder-Version", "1"),
        ("Swarm", "inactive"),
        (header::CONTENT_TYPE.as_str(), "text/plain; charset=utf-8"),
    ]
}

pub async fn ping() -> Response {
    (ping_headers(), "OK").into_response()
}

/// HEAD answers the same headers with an empty body (`Content-Length: 0`), as dockerd.
pub async fn ping_head() -> Response {
    (ping_headers(), [(header::CONTENT_LENGTH, "0")], ()).into_response()
}

pub async fn version(
    State(engine): State<AppState>,
) -> Json<pier_api::models::system::SystemVersion> {
    Json(engine.version())
}

pub async fn info(
    State(engine): State<AppState>,
) -> ApiResult<Json<pier_api::models::system::SystemInfo>> {
    let e = engine.clone();
    let info = tokio::task::spawn_blocking(move || e.info())
        .await
        .map_err(|e| crate::engine::EngineError::system("info", e))??;
    Ok(Json(info))
}

/// `POST /auth` (`docker login`): the body is an auth config; the answer dockerd's status.
pub async fn auth(
    State(engine): State<AppState>,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let auth: pier_registry::AuthConfig = serde_json::from_slice(&body)
        .map_err(|e| super::error::ApiError::bad_request(format!("invalid auth config: {e}")))?;
    let status = engine.login(&auth).await?;
    Ok(Json(
        serde_json::json!({"IdentityToken": "", "Status": status}),
    ))
}

/// `GET /events`: JSON objects, one per line, until `until` or the client leaves.
pub async fn events(
    State(engine): State<AppState>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> ApiResult<Response> {
    use futures::StreamExt;
    let q = super::query::Query::parse(q.as_deref());
    let filter = crate::engine::events::EventFilter::new(q.filters()?)?;
    let stream = engine.event_stream(q.get("since"), q.get("until"), filter)?;
    let body = axum::body::Body::from_stream(stream.map(|m| {
        let mut line = serde_json::to_vec(&m).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
    }));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
