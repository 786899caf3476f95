//! `/networks/...`: request parsing and response shapes for the network service, as dockerd's
//! (create answers 201 `{"Id","Warning"}`, connect/disconnect 200 with an empty body, delete 204,
//! prune `{"NetworksDeleted"}`).

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::containers::json_body;
use super::error::ApiResult;
use super::query::Query;
use super::AppState;

/// `GET /networks`.
pub async fn list(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Vec<Value>>> {
    let q = Query::parse(q.as_deref());
    Ok(Json(engine.list_networks(&q.filters()?)?))
}

/// `GET /networks/{id}`.
pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(engine.inspect_network(&id)?))
}

/// `POST /networks/create`.
pub async fn create(State(engine): State<AppState>, req: Request) -> ApiResult<Response> {
    let body = json_body(req).await?;
    let id = engine.create_network(body).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warning": ""}))).into_response())
}

/// `DELETE /networks/{id}`.
pub async fn delete(State(engine): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    engine.remove_network(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /networks/prune`.
pub async fn prune(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(q.as_deref());
    let names = engine.prune_networks(&q.filters()?).await?;
    Ok(Json(
        json!({"NetworksDeleted": if names.is_empty() { Value::Null } else { json!(names) }}),
    ))
}

/// `POST /networks/{id}/connect` and `/disconnect`.
pub async fn op(
    State(engine): State<AppState>,
    Path((id, op)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let body = json_body(req).await?;
    match op.as_str() {
        "connect" => engine.connect_network(&id, &body).await?,
        "disconnect" => engine.disconnect_network(&id, &body).await?,
        _ => return Err(super::error::ApiError::page_not_found()),
    }
    Ok(StatusCode::OK.into_response())
}
