//! `/containers/...` and `/exec/...`: request parsing and response shapes for the container
//! service. Attach and exec start hijack the connection as dockerd does: `101 UPGRADED` with
//! `Content-Type: application/vnd.docker.raw-stream`, `Connection: Upgrade`, `Upgrade: tcp`,
//! then the socket carries the container's streams (proxied to and from its pier-shim).

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use hyper_util::rt::TokioIo;
use pier_api::ApiVersion;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use super::error::{ApiError, ApiResult};
use super::query::Query;
use super::AppState;
use crate::engine::containers::logs::{frame, LogOptions};
use crate::engine::containers::run::proxy;
use crate::engine::containers::{CreateRequest, ListOptions};
use crate::engine::{blocking, EngineError};

pub(super) async fn json_body(req: Request) -> ApiResult<Value> {
    let bytes = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// 304 for "already in that state", the engine's error otherwise.
fn state_result(r: Result<(), EngineError>) -> ApiResult<Response> {
    match r {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(EngineError::NotModified) => Ok(StatusCode::NOT_MODIFIED.into_response()),
        Err(e) => Err(e.into()),
    }
}

/// `POST /containers/create`.
pub async fn create(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    let body = json_body(req).await?;
    let name = q.str("name").to_string();
    let e = engine.clone();
    let (id, warnings) = blocking(move || e.create_container(CreateRequest { name, body })).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": id, "Warnings": warnings})),
    )
        .into_response())
}

/// `GET /containers/json`.
pub async fn list(
    State(engine): State<AppState>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Vec<Value>>> {
    let q = Query::parse(q.as_deref());
    let limit = match q.str("limit") {
        "" => None,
        l => Some(
            l.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
        )
        .filter(|l| *l > 0)
        .map(|l| l as usize),
    };
    let opts = ListOptions {
        all: q.bool("all"),
        limit,
        size: q.bool("size"),
        filters: q.filters()?,
    };
    let e = engine.clone();
    Ok(Json(blocking(move || e.list_containers(&opts)).await?))
}

/// `POST /containers/prune`.
pub async fn prune(State(engine): State<AppState>) -> ApiResult<Json<Value>> {
    let ids = engine.prune_containers().await?;
    Ok(Json(
        json!({"ContainersDeleted": if ids.is_empty() { Value::Null } else { json!(ids) }, "SpaceReclaimed": 0}),
    ))
}

/// `DELETE /containers/{id}`.
pub async fn delete(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    engine.remove_container(&id, q.bool("force")).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /containers/{id}/{op}`.
pub async fn get_op(
    State(engine): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    Path((id, op)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    match op.as_str() {
        "json" => {
            let e = engine.clone();
            let size = q.bool("size");
            Ok(Json(blocking(move || e.inspect_container(&id, size)).await?).into_response())
        }
        "logs" => logs(engine, version, &id, &q).await,
        "top" => top(engine, &id, &q).await,
        "stats" => stats(engine, &id, &q).await,
        _ => Err(ApiError::not_implemented(
            "GET",
            &format!("/containers/{{id}}/{op}"),
        )),
    }
}

fn parse_time(s: &str) -> ApiResult<Option<f64>> {
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(f) = s.parse::<f64>() {
        return Ok(Some(f));
    }
    crate::engine::time::parse(s)
        .map(|t| Some(t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9))
        .ok_or_else(|| ApiError::bad_request(format!("invalid time value: {s}")))
}

async fn logs(engine: AppState, version: ApiVersion, id: &str, q: &Query) -> ApiResult<Response> {
    let opts = LogOptions {
        follow: q.bool("follow"),
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        timestamps: q.bool("timestamps"),
        since: parse_time(q.str("since"))?.filter(|s| *s > 0.0),
        until: parse_time(q.str("until"))?.filter(|s| *s > 0.0),
        tail: match q.str("tail") {
            "" | "all" => None,
            t => Some(
                t.parse::<i64>()
                    .map(|n| n.max(0) as usize)
                    .unwrap_or(usize::MAX),
            ),
        },
    };
    if !opts.stdout && !opts.stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let (rx, tty) = engine.container_logs(id, opts)?;
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    let ct = if version.less_than(1, 42) || tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };

    Ok(([(header::CONTENT_TYPE, ct)], Body::from_stream(stream)).into_response())
}

/// `GET /containers/{id}/stats`: one object (`stream=false`; with a CPU sample a second
/// before unless `one-shot`) or one per second.
async fn stats(engine: AppState, id: &str, q: &Query) -> ApiResult<Response> {
    engine.container(id)?;
    let stream = q.get("stream").is_none() || q.bool("stream");
    let one_shot = q.bool("one-shot");
    let id = id.to_string();
    if !stream {
        let first = engine.container_stats(&id, None)?;
        let v = if one_shot || first["read"] == crate::engine::containers::ZERO_TIME {
            first
        } else {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let read = first["read"].as_str().unwrap_or("").to_string();
            engine.container_stats(&id, Some((&first["cpu_stats"], &read)))?
        };
        return Ok(Json(v).into_response());
    }
    let body = futures::stream::unfold(
        (engine, id, None::<Value>, true),
        |(engine, id, prev, go)| async move {
            if !go {
                return None;
            }
            if prev.is_some() {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            let v = match &prev {
                Some(p) => {
                    let read = p["read"].as_str().unwrap_or("").to_string();
                    engine.container_stats(&id, Some((&p["cpu_stats"], &read)))
                }
                None => engine.container_stats(&id, None),
            };
            let v = v.ok()?;
            let mut line = serde_json::to_vec(&v).unwrap_or_default();
            line.push(b'\n');
            Some((
                Ok::<Bytes, Infallible>(Bytes::from(line)),
                (engine, id, Some(v), true),
            ))
        },
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

async fn top(engine: AppState, id: &str, q: &Query) -> ApiResult<Response> {
    let c = engine.container(id)?;
    let (running, cid) = {
        let r = c.rec();
        (r.state.running, r.id.clone())
    };
    if !running {
        return Err(EngineError::Conflict(format!("container {cid} is not running")).into());
    }
    let args = match q.str("ps_args") {
        "" => "-ef".to_string(),
        a => a.to_string(),
    };
    let pids = container_pids(&engine, &cid);
    let out = tokio::process::Command::new("ps")
        .args(args.split_whitespace())
        .output()
        .await
        .map_err(|e| EngineError::system("run ps", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header_line = lines.next().unwrap_or("");
    let titles: Vec<String> = header_line.split_whitespace().map(str::to_string).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| ApiError::bad_request("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < titles.len() {
            continue;
        }
        let Ok(pid) = f[pid_col].parse::<i64>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let mut row: Vec<String> = f[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(f[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(Json(json!({"Titles": titles, "Processes": processes})).into_response())
}

/// The PIDs in the container's cgroup (any hierarchy).
fn container_pids(engine: &AppState, id: &str) -> Vec<i64> {
    let rel = format!("{}/{}", engine.opts.cgroup_parent.trim_matches('/'), id);
    let mut dirs = vec![std::path::Path::new("/sys/fs/cgroup").join(&rel)];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        dirs.extend(rd.flatten().map(|e| e.path().join(&rel)));
    }
    for d in dirs {
        if let Ok(t) = std::fs::read_to_string(d.join("cgroup.procs")) {
            let p: Vec<i64> = t.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if !p.is_empty() {
                return p;
            }
        }
    }
    Vec::new()
}

/// `POST /containers/{id}/{op}`.
pub async fn post_op(
    State(engine): State<AppState>,
    Path((id, op)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    req: Request,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    let timeout = match q.str("t") {
        "" => None,
        t => Some(
            t.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid value for t: {t}")))?,
        ),
    };
    let signal = q.get("signal").map(str::to_string);
    match op.as_str() {
        "start" => state_result(engine.start_container(&id).await),
        "stop" => state_result(engine.stop_container(&id, timeout, signal).await),
        "restart" => state_result(engine.restart_container(&id, timeout, signal).await),
        "kill" => state_result(
            engine
                .kill_container(&id, signal.as_deref().unwrap_or(""))
                .await,
        ),
        "pause" => state_result(engine.pause_container(&id, true).await),
        "unpause" => state_result(engine.pause_container(&id, false).await),
        "rename" => {
            let e = engine.clone();
            let new = q.str("name").to_string();
            blocking(move || e.rename_container(&id, &new)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "resize" => {
            let h = q.str("h").parse::<u16>().unwrap_or(0);
            let w = q.str("w").parse::<u16>().unwrap_or(0);
            engine.resize_container(&id, h, w).await?;
            Ok(StatusCode::OK.into_response())
        }
        "wait" => {
            let cond = q.str("condition").to_string();
            if !matches!(cond.as_str(), "" | "not-running" | "next-exit" | "removed") {
                return Err(ApiError::bad_request(format!(
                    "invalid condition: {cond:?}"
                )));
            }
            // Resolve now so a missing container is a plain 404; then, as dockerd, send the
            // headers at once (the CLI starts the container only after they arrive) and the
            // body when the condition is met.
            engine.container(&id)?;
            let e = engine.clone();
            let body = futures::stream::once(async move {
                let v = match e.wait_container(&id, &cond).await {
                    Ok((code, err)) => {
                        let error = err.map(|m| json!({"Message": m})).unwrap_or(Value::Null);
                        json!({"StatusCode": code, "Error": error})
                    }
                    Err(err) => json!({"StatusCode": -1, "Error": {"Message": err.to_string()}}),
                };
                let mut b = serde_json::to_vec(&v).unwrap_or_default();
                b.push(b'\n');
                Ok::<Bytes, Infallible>(Bytes::from(b))
            });
            Ok((
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(body),
            )
                .into_response())
        }
        "attach" => attach(engine, &id, &q, req).await,
        "exec" => {
            let body = json_body(req).await?;
            let e = engine.clone();
            let eid = blocking(move || e.create_exec(&id, body)).await?;
            Ok((StatusCode::CREATED, Json(json!({"Id": eid}))).into_response())
        }
        "update" => {
            let body = json_body(req).await?;
            let e = engine.clone();
            let warnings = blocking(move || e.update_container(&id, &body)).await?;
            Ok(Json(json!({"Warnings": warnings})).into_response())
        }
        _ => Err(ApiError::not_implemented(
            "POST",
            &format!("/containers/{{id}}/{op}"),
        )),
    }
}

/// The 101 response of a hijacked endpoint.
fn upgraded_response() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.docker.raw-stream"),
    );
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    resp
}

async fn attach(engine: AppState, id: &str, q: &Query, mut req: Request) -> ApiResult<Response> {
    let mut target = engine
        .attach_container(
            id,
            q.bool("stdin"),
            q.bool("stdout"),
            q.bool("stderr"),
            q.str("detachKeys"),
        )
        .await?;
    let logs = q.bool("logs");
    let stream = q.bool("stream");
    let on_upgrade = hyper::upgrade::on(&mut req);
    let e = engine.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        let Ok(up) = on_upgrade.await else { return };
        let mut io = TokioIo::new(up);
        if logs {
            let opts = LogOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            };
            if let Ok((mut rx, _)) = e.container_logs(&id, opts) {
                while let Some(b) = rx.recv().await {
                    if io.write_all(&b).await.is_err() {
                        return;
                    }
                }
            }
        }
        if !stream {
            return;
        }
        if let Some(shim) = target.connect().await {
            let escape = target.escape.take();
            if proxy(io, shim, escape).await {
                e.detached(&id);
            }
        }
    });
    Ok(upgraded_response())
}

/// `POST /exec/{id}/start`.
pub async fn exec_start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> ApiResult<Response> {
    let on_upgrade = hyper::upgrade::on(&mut req);
    let body = json_body(req).await?;
    let detach = body["Detach"].as_bool().unwrap_or(false);
    let (shim, escape) = match engine.start_exec(&id).await {
        Ok(x) => x,
        // As dockerd: once the process could not be started, an attached client still gets its
        // stream, carrying the runtime's error as output, and reads the exit code (126/127) from
        // the exec's inspect — so `docker exec c nope` prints the error and exits 127.
        Err(EngineError::StartFailed(msg)) if !detach => {
            let tty = engine.exec_tty(&id);
            tokio::spawn(async move {
                let Ok(up) = on_upgrade.await else { return };
                let mut io = TokioIo::new(up);
                let out = frame(1, format!("{msg}\r\n").as_bytes(), tty);
                let _ = io.write_all(&out).await;
                let _ = io.shutdown().await;
                crate::engine::containers::run::drain_then_close(io).await;
            });
            return Ok(upgraded_response());
        }
        Err(e) => return Err(e.into()),
    };
    if detach {
        drop(shim);
        return Ok(StatusCode::OK.into_response());
    }
    tokio::spawn(async move {
        let Ok(up) = on_upgrade.await else { return };
        proxy(TokioIo::new(up), shim, escape).await;
    });
    Ok(upgraded_response())
}

/// `POST /exec/{id}/resize`.
pub async fn exec_resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref());
    let h = q.str("h").parse::<u16>().unwrap_or(0);
    let w = q.str("w").parse::<u16>().unwrap_or(0);
    engine.resize_exec(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /exec/{id}/json`.
pub async fn exec_inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    engine.exec_settle(&id).await;
    Ok(Json(engine.inspect_exec(&id)?))
}
