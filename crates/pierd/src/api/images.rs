//! `/images/...`: request parsing and response shapes for the image service. Image names may
//! contain slashes, so `/images/{name}/json|history|tag|push` share one wildcard route and are
//! told apart by their last segment, as dockerd's `{name:.*}` routes do.

use std::str::FromStr;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use pier_api::models::image::{ImageSummary, InspectConfig};
use pier_api::progress::JsonMessage;
use pier_api::{ApiVersion, ErrorKind};
use pier_image::{parse_normalized, Digest};
use pier_registry::{AuthConfig, Platform};

use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::stream::{lines_response, progress_response};
use super::unimplemented;
use super::AppState;
use crate::engine::images::import::ImportRequest;
use crate::engine::images::list::ListOptions;
use crate::engine::images::pull::PullRequest;
use crate::engine::{blocking, EngineError};

/// `GET /images/json`.
pub async fn list(
    State(engine): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Vec<ImageSummary>>> {
    let q = Query::parse(q.as_deref());
    let opts = ListOptions {
        all: q.bool("all"),
        filters: q.filters()?,
        shared_size: q.bool("shared-size"),
    };
    let e = engine.clone();
    let mut images = blocking(move || e.list_images(&opts)).await?;
    for img in &mut images {
        if version.less_than(1, 43) && img.repo_tags.is_empty() && img.repo_digests.is_empty() {
            img.repo_tags.push("<none>:<none>".into());
            img.repo_digests.push("<none>@<none>".into());
        }
        if version.less_than(1, 44) {
            img.virtual_size = Some(img.size);
        }
    }
    Ok(Json(images))
}

/// `POST /images/create`: pull (`fromImage`) or import (`fromSrc`).
pub async fn create(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    let platform = match q.str("platform") {
        "" => None,
        p => Some(Platform::from_str(p).map_err(|e| ApiError::bad_request(e.to_string()))?),
    };
    if let Some(src) = q.get("fromSrc").filter(|s| !s.is_empty()) {
        if src != "-" {
            return Err(ApiError::new(
                ErrorKind::NotImplemented,
                "pier does not implement importing from a URL yet (fromSrc must be \"-\")",
            ));
        }
        let req = ImportRequest {
            repo: q.str("repo").to_string(),
            tag: q.str("tag").to_string(),
            message: q.str("message").to_string(),
            changes: q.all("changes"),
            platform,
        };
        let id = engine.import_image(req, body.into_data_stream()).await?;
        return Ok(lines_response(&[JsonMessage::status(id)]));
    }
    let image = q.str("fromImage");
    if image.is_empty() {
        return Err(ApiError::bad_request("fromImage or fromSrc is required"));
    }
    let mut reference = parse_normalized(image).map_err(EngineError::from)?;
    let tag = q.str("tag");
    if !tag.is_empty() {
        reference = match Digest::from_str(tag) {
            Ok(d) => reference.with_digest(d),
            Err(_) => reference.with_tag(tag).map_err(EngineError::from)?,
        };
    }
    let reference = reference.with_default_tag();
    let auth = match headers.get("X-Registry-Auth").map(|v| v.to_str()) {
        None => AuthConfig::anonymous(),
        Some(Ok(v)) => AuthConfig::from_header(v).map_err(EngineError::from)?,
        Some(Err(_)) => return Err(ApiError::bad_request("invalid X-Registry-Auth header")),
    };
    let rx = engine
        .pull(PullRequest {
            reference,
            platform,
            auth,
        })
        .await?;
    Ok(progress_response(rx))
}

/// `GET /images/{name}/json` and `GET /images/{name}/history`.
pub async fn by_name_get(
    State(engine): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    Path(rest): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    if let Some(name) = rest.strip_suffix("/json") {
        let e = engine.clone();
        let name = name.to_string();
        let mut v = blocking(move || e.inspect_image(&name)).await?;
        if version.less_than(1, 50) {
            v.config = InspectConfig::Legacy(v.config.image_config().to_legacy());
        }
        if version.less_than(1, 44) {
            v.virtual_size = Some(v.size);
        }
        return Ok(Json(v).into_response());
    }
    if let Some(name) = rest.strip_suffix("/history") {
        let e = engine.clone();
        let name = name.to_string();
        let h = blocking(move || e.image_history(&name)).await?;
        return Ok(Json(h).into_response());
    }
    Ok(unimplemented::fallback(req).await)
}

/// `POST /images/{name}/tag` (and the not yet implemented `push`).
pub async fn by_name_post(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response> {
    if let Some(name) = rest.strip_suffix("/tag") {
        let q = Query::parse(q.as_deref());
        let (e, name) = (engine.clone(), name.to_string());
        let (repo, tag) = (q.str("repo").to_string(), q.str("tag").to_string());
        blocking(move || e.tag_image(&name, &repo, &tag)).await?;
        return Ok(StatusCode::CREATED.into_response());
    }
    Ok(unimplemented::fallback(req).await)
}

/// `DELETE /images/{name}`.
pub async fn delete(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    let items = engine
        .delete_image(&name, q.bool("force"), !q.bool("noprune"))
        .await?;
    Ok(Json(items).into_response())
}

/// `POST /images/prune`.
pub async fn prune(State(engine): State<AppState>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    let report = engine.prune_images(q.filters()?).await?;
    Ok(Json(report).into_response())
}
