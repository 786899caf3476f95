//! `pier image prune`: docker's confirmation prompt (unless `-f`), `POST /images/prune` with
//! `dangling=true` (or `false` with `-a`) plus `--filter`s, the deleted list and
//! "Total reclaimed space: <size>". Answering anything but `y` cancels silently with status 0.

use super::super::{filters_json, Ctx};
use crate::client::{empty, q};
use crate::error::{CliError, Result};
use crate::format::units::human_size;
use serde::Deserialize;
use std::io::{BufRead, Write};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
struct Report {
    #[serde(default)]
    images_deleted: Option<Vec<super::remove::DeleteItem>>,
    #[serde(default)]
    space_reclaimed: u64,
}

const ALL_WARNING: &str = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?";
const DANGLING_WARNING: &str =
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?";

/// docker's `prompt.Confirm`: true only for "y"/"Y".
pub fn confirm(message: &str) -> bool {
    print!("{message} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
        return false;
    }
    line.trim().eq_ignore_ascii_case("y")
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let mut filters = args.filter.clone();
    filters.push(format!("dangling={}", !args.all));
    let f = filters_json(&filters)?.unwrap_or_default();
    if !args.force
        && !confirm(if args.all {
            ALL_WARNING
        } else {
            DANGLING_WARNING
        })
    {
        return Err(CliError::Silent(0));
    }
    let report: Report = ctx
        .client
        .post_json(&format!("/images/prune?filters={}", q(&f)), empty())
        .await?;
    let mut reclaimed = 0;
    let deleted = report.images_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        let mut s = String::from("Deleted Images:\n");
        for d in &deleted {
            if !d.untagged.is_empty() {
                s.push_str(&format!("untagged: {}\n", d.untagged));
            } else {
                s.push_str(&format!("deleted: {}\n", d.deleted));
            }
        }
        println!("{s}");
        reclaimed = report.space_reclaimed;
    }
    println!("Total reclaimed space: {}", human_size(reclaimed as f64));
    Ok(())
}
