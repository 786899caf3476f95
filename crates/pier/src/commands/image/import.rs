//! `pier import file|- [REPOSITORY[:TAG]]`: streams the tarball (a file, or stdin for `-`) to
//! `POST /images/create?fromSrc=-` with `-c/--change` (repeatable) and `-m/--message`, and renders the
//! daemon's progress stream (the new image's `sha256:...`). A URL source is refused: pier has no
//! network access from the daemon for imports.

use super::super::Ctx;
use crate::client::{q, streaming};
use crate::error::{CliError, Result};
use http::Method;
use tokio_util::io::ReaderStream;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    if args.source.starts_with("http://") || args.source.starts_with("https://") {
        return Err(CliError::Usage(format!(
            "importing from a URL ({}) is not supported by pier: download it and run `pier import FILE` (or `-` for stdin)",
            args.source
        )));
    }
    if let Some(r) = &args.reference {
        pier_image::parse_normalized(r).map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let body = if args.source == "-" {
        streaming(ReaderStream::new(tokio::io::stdin()))
    } else {
        let f = tokio::fs::File::open(&args.source)
            .await
            .map_err(|e| CliError::Usage(format!("open {}: {}", args.source, io_text(&e))))?;
        streaming(ReaderStream::new(f))
    };
    // url.Values.Encode order: keys sorted.
    let mut query: Vec<String> = args
        .change
        .iter()
        .map(|c| format!("changes={}", q(c)))
        .collect();
    query.push("fromSrc=-".into());
    if let Some(m) = args.message.as_deref().filter(|m| !m.is_empty()) {
        query.push(format!("message={}", q(m)));
    }
    if let Some(pl) = args.platform.as_deref().filter(|p| !p.is_empty()) {
        query.push(format!("platform={}", q(&pl.to_lowercase())));
    }
    if let Some(r) = args.reference.as_deref().filter(|r| !r.is_empty()) {
        query.push(format!("repo={}", q(r)));
    }
    let path = format!("/images/create?{}", query.join("&"));
    let resp = ctx
        .client
        .request(
            Method::POST,
            &path,
            &[("Content-Type", "text/plain".to_string())],
            body,
        )
        .await?;
    crate::progress::render_response(resp, false).await
}

/// Go's `os.PathError` text for the common cases ("no such file or directory").
pub fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}
