//! The JSON messages of docker's progress streams (pull, import, push, load): one JSON object per
//! line, each line ended by `\r\n` as dockerd writes them. Field names, their order and which are
//! omitted when empty follow moby's `jsonmessage.JSONMessage`, because the docker CLI renders these
//! streams (a line per layer `id`, progress bars from `progressDetail`).

use serde::{Deserialize, Serialize};

/// One line of a progress stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

/// Byte counts of a transfer; both omitted when zero (an "action" line carries `{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressDetail {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub message: String,
}

impl JsonMessage {
    /// A plain status line, e.g. `Digest: sha256:…` (moby's `progress.Message`).
    pub fn status(status: impl Into<String>) -> Self {
        JsonMessage {
            status: Some(status.into()),
            ..Default::default()
        }
    }

    /// A status line about `id` without progress, e.g. `Pulling from library/busybox` for `latest`.
    pub fn status_id(id: impl Into<String>, status: impl Into<String>) -> Self {
        JsonMessage {
            status: Some(status.into()),
            id: Some(id.into()),
            ..Default::default()
        }
    }

    /// A layer action such as `Pulling fs layer` or `Pull complete` (carries `"progressDetail":{}`,
    /// as moby's `progress.Update`).
    pub fn action(id: impl Into<String>, action: impl Into<String>) -> Self {
        JsonMessage {
            status: Some(action.into()),
            progress_detail: Some(ProgressDetail::default()),
            id: Some(id.into()),
            ..Default::default()
        }
    }

    /// A transfer progress line (`Downloading`, `Extracting`) with docker's bar text.
    pub fn progress(
        id: impl Into<String>,
        action: impl Into<String>,
        current: u64,
        total: u64,
    ) -> Self {
        let bar = progress_bar(current, total);
        JsonMessage {
            status: Some(action.into()),
            progress_detail: Some(ProgressDetail { current, total }),
            progress: (!bar.is_empty()).then_some(bar),
            id: Some(id.into()),
            ..Default::default()
        }
    }

    /// The error line that ends a stream that already started.
    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        JsonMessage {
            error_detail: Some(ErrorDetail {
                code: None,
                message: message.clone(),
            }),
            error: Some(message),
            ..Default::default()
        }
    }

    /// The line as dockerd writes it: compact JSON followed by `\r\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("JsonMessage serializes");
        line.extend_from_slice(b"\r\n");
        line
    }
}

/// docker's `units.HumanSize`: decimal units with 4 significant digits ("2.152MB", "999B", "32.77kB").
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_g4(size), UNITS[unit])
}

/// Go's `%.4g` for 0 <= v < 1000: four significant digits, trailing zeros dropped.
fn format_g4(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let int_digits = (v.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (4 - int_digits).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// The `progress` text of a transfer line, as moby's `JSONProgress.String()` renders it for a
/// wide terminal: `[=====>      ]  1.234MB/2.152MB`.
pub fn progress_bar(current: u64, total: u64) -> String {
    if total == 0 {
        if current == 0 {
            return String::new();
        }
        return format!("{:>8}", human_size(current));
    }
    let percentage = ((current as f64 / total as f64 * 100.0) as u64 / 2).min(50) as usize;
    let bar = format!(
        "[{}>{}] ",
        "=".repeat(percentage),
        " ".repeat(50 - percentage)
    );
    let numbers = if current > total {
        format!("{:>8}", human_size(current))
    } else {
        format!("{:>8}/{}", human_size(current), human_size(total))
    };
    bar + &numbers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_size_like_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1234), "1.234kB");
        assert_eq!(human_size(32768), "32.77kB");
        assert_eq!(human_size(2_152_262), "2.152MB");
        assert_eq!(human_size(4_000_000), "4MB");
        assert_eq!(human_size(123_456_789), "123.5MB");
    }

    #[test]
    fn lines_match_dockerd_shape() {
        let l = JsonMessage::status_id("latest", "Pulling from library/busybox").to_line();
        assert_eq!(
            l,
            b"{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n"
        );
        let l = JsonMessage::action("3f4d90098f5b", "Pull complete").to_line();
        assert_eq!(
            String::from_utf8(l).unwrap(),
            "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"3f4d90098f5b\"}\r\n"
        );
        let l = JsonMessage::error("boom").to_line();
        assert_eq!(
            String::from_utf8(l).unwrap(),
            "{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}\r\n"
        );
        let p = JsonMessage::progress("x", "Downloading", 1000, 2000);
        assert_eq!(
            p.progress.as_deref(),
            Some("[=========================>                         ]      1kB/2kB")
        );
        let v: serde_json::Value = serde_json::from_slice(&p.to_line()).unwrap();
        assert_eq!(v["progressDetail"]["current"], 1000);
        assert_eq!(v["progressDetail"]["total"], 2000);
    }
}
