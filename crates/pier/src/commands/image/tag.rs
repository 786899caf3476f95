//! `pier tag SOURCE TARGET`: validates both references as docker's client does and calls
//! `POST /images/{source}/tag?repo=<full name>&tag=<tag>`.

use super::super::Ctx;
use crate::client::{empty, p, q};
use crate::error::{CliError, Result};
use http::Method;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    if !is_any_reference(&args.source) {
        return Err(CliError::Usage(format!(
            "Error parsing reference: {:?} is not a valid repository/tag: invalid reference format",
            args.source
        )));
    }
    let target = pier_image::parse_normalized(&args.target).map_err(|e| {
        CliError::Usage(format!(
            "Error parsing reference: {:?} is not a valid repository/tag: {e}",
            args.target
        ))
    })?;
    if target.digest().is_some() {
        return Err(CliError::Usage(
            "refusing to create a tag with a digest reference".into(),
        ));
    }
    let target = target.with_default_tag();
    let mut path = format!("/images/{}/tag?repo={}", p(&args.source), q(&target.name()));
    if let Some(t) = target.tag() {
        path.push_str(&format!("&tag={}", q(t)));
    }
    ctx.client
        .request(Method::POST, &path, &[], empty())
        .await?;
    Ok(())
}

/// docker's `ParseAnyReference`: a reference, or a (short) hex image ID.
fn is_any_reference(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    if !hex.is_empty()
        && hex.len() <= 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return true;
    }
    pier_image::parse_normalized(s).is_ok()
}
