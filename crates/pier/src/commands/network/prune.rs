//! `pier network prune [-f] [--filter]`: asks (unless `-f`), `POST /networks/prune`, then prints
//! "Deleted Networks:" and the removed names, as docker does.

use super::super::image::prune::confirm;
use super::super::{filters_json, Ctx};
use crate::client::{empty, q};
use crate::error::{CliError, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

const WARNING: &str = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?";

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let mut path = String::from("/networks/prune");
    if let Some(f) = filters_json(&a.filter)? {
        path.push_str(&format!("?filters={}", q(&f)));
    }
    if !a.force && !confirm(WARNING) {
        return Err(CliError::Silent(0));
    }
    let v: serde_json::Value = ctx.client.post_json(&path, empty()).await?;
    let deleted: Vec<&str> = v["NetworksDeleted"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    if !deleted.is_empty() {
        let mut out = String::from("Deleted Networks:\n");
        for d in deleted {
            out.push_str(d);
            out.push('\n');
        }
        println!("{out}");
    }
    Ok(())
}
