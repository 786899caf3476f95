//! `pier pull NAME[:TAG|@DIGEST]`: `POST /images/create?fromImage=<full name>&tag=<tag or digest>`
//! with `X-Registry-Auth` from `config.json`, the progress stream rendered like docker's, then the full
//! reference line (`docker.io/library/busybox:latest`). `-q` prints only that line, `-a` pulls every
//! tag, `--platform` is passed through (`os/arch[/variant]`).

use super::super::Ctx;
use crate::client::{empty, q};
use crate::error::{CliError, Result};
use http::Method;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Download all tagged images in the repository
    #[arg(short, long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Skip image verification
    #[arg(long)]
    pub disable_content_trust: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let r = pier_image::parse_normalized(&args.name).map_err(|e| CliError::Usage(e.to_string()))?;
    let name_only = r.tag().is_none() && r.digest().is_none();
    if args.all_tags && !name_only {
        return Err(CliError::Usage(
            "tag can't be used with --all-tags/-a".into(),
        ));
    }
    let r = if !args.all_tags && name_only {
        if !args.quiet {
            println!("Using default tag: latest");
        }
        r.with_default_tag()
    } else {
        r
    };
    let mut query = vec![format!("fromImage={}", q(&r.name()))];
    if let Some(pl) = args.platform.as_deref().filter(|p| !p.is_empty()) {
        query.push(format!("platform={}", q(&pl.to_lowercase())));
    }
    if !args.all_tags {
        let tag = match (r.digest(), r.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            _ => String::new(),
        };
        query.push(format!("tag={}", q(&tag)));
    }
    query.sort();
    let auth = ctx.registry_auth(r.domain());
    let path = format!("/images/create?{}", query.join("&"));
    let resp = ctx
        .client
        .request(Method::POST, &path, &[("X-Registry-Auth", auth)], empty())
        .await?;
    crate::progress::render_response(resp, args.quiet).await?;
    println!("{r}");
    Ok(())
}
