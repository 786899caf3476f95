//! `pier rmi` / `pier image rm`: `DELETE /images/{name}` per argument, printing `Untagged: x` and
//! `Deleted: sha256:...` lines; errors are collected and printed at the end (with `-f`, "not found"
//! errors alone do not fail the command), as docker 28 does.

use super::super::Ctx;
use crate::client::{empty, p, read_body};
use crate::error::{CliError, Result};
use http::Method;
use serde::Deserialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    /// Remove only the given platform variant
    #[arg(long)]
    pub platform: Vec<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItem {
    #[serde(default)]
    pub untagged: String,
    #[serde(default)]
    pub deleted: String,
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    if !args.platform.is_empty() {
        return Err(CliError::Usage(
            "pier rmi: --platform is not supported yet".into(),
        ));
    }
    let mut errs: Vec<CliError> = Vec::new();
    let mut fatal = false;
    for img in &args.images {
        let mut query = Vec::new();
        if args.force {
            query.push("force=1");
        }
        if args.no_prune {
            query.push("noprune=1");
        }
        let path = if query.is_empty() {
            format!("/images/{}", p(img))
        } else {
            format!("/images/{}?{}", p(img), query.join("&"))
        };
        match ctx
            .client
            .request(Method::DELETE, &path, &[], empty())
            .await
        {
            Ok(resp) => {
                let body = read_body(resp).await?;
                let items: Vec<DeleteItem> = serde_json::from_slice(&body)
                    .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))?;
                for it in items {
                    if !it.deleted.is_empty() {
                        println!("Deleted: {}", it.deleted);
                    } else {
                        println!("Untagged: {}", it.untagged);
                    }
                }
            }
            Err(e @ (CliError::Connect(_) | CliError::Permission(..))) => return Err(e),
            Err(e) => {
                if !e.is_not_found() {
                    fatal = true;
                }
                errs.push(e);
            }
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    let msg = errs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    if !args.force || fatal {
        return Err(CliError::Usage(msg));
    }
    eprintln!("{msg}");
    Ok(())
}
