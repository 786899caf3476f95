//! JSON progress streams: a [`Progress`] channel becomes a chunked `application/json` body of
//! `\r\n`-terminated JSON lines, flushed as each message arrives.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pier_api::progress::JsonMessage;

use crate::engine::images::pull::Progress;

pub fn progress_response(rx: Progress) -> Response {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|m| (Ok::<_, Infallible>(Bytes::from(m.to_line())), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A complete stream of the given lines (e.g. import's single `{"status":"sha256:…"}`).
pub fn lines_response(messages: &[JsonMessage]) -> Response {
    let body: Vec<u8> = messages.iter().flat_map(|m| m.to_line()).collect();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
