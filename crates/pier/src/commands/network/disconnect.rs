//! `pier network disconnect [-f] NETWORK CONTAINER`: `POST /networks/{id}/disconnect` with
//! `{"Container","Force"}`. Prints nothing on success.

use super::super::Ctx;
use crate::client::p;
use crate::error::Result;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let body = json!({"Container": a.container, "Force": a.force});
    let resp = ctx
        .client
        .post_body(
            &format!("/networks/{}/disconnect", p(&a.network)),
            body.to_string(),
        )
        .await?;
    crate::client::read_body(resp).await?;
    Ok(())
}
