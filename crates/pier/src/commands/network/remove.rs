//! `pier network rm [-f] NETWORK...`: for each name `GET /networks/{id}` (an ingress network asks
//! first) then `DELETE /networks/{id}`; prints each removed name, each failure on stderr, and ends
//! with docker's "exit status 1" when any failed. `-f` ignores networks that do not exist.

use super::super::image::prune::confirm;
use super::super::Ctx;
use crate::client::{empty, p};
use crate::error::{CliError, Result};
use http::Method;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(value_name = "NETWORK", required = true)]
    pub names: Vec<String>,
}

const INGRESS_WARNING: &str = "WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.\nAre you sure you want to continue?";

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let mut failed = false;
    for name in &a.names {
        let path = format!("/networks/{}", p(name));
        if let Ok(nw) = ctx.client.get_json::<serde_json::Value>(&path).await {
            if nw["Ingress"].as_bool() == Some(true) && !confirm(INGRESS_WARNING) {
                continue;
            }
        }
        match ctx
            .client
            .request(Method::DELETE, &path, &[], empty())
            .await
        {
            Ok(_) => println!("{name}"),
            Err(e) if a.force && e.is_not_found() => {}
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(CliError::Flag {
            message: "exit status 1".into(),
            code: 1,
        });
    }
    Ok(())
}
