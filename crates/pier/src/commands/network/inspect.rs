//! `pier network inspect [-f FORMAT] [-v] NETWORK...`: `GET /networks/{id}` per name, printed by the
//! shared inspect printer (indented JSON array, `json`, or a template over the raw object).

use super::super::image::inspect::print;
use super::super::Ctx;
use crate::client::p;
use crate::error::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short, long)]
    pub verbose: bool,
    #[arg(value_name = "NETWORK", required = true)]
    pub names: Vec<String>,
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        let mut path = format!("/networks/{}", p(n));
        if a.verbose {
            path.push_str("?verbose=true");
        }
        match ctx.client.get_bytes(&path).await {
            Ok(raw) => found.push((raw.to_vec(), None)),
            Err(e) => errors.push(e),
        }
    }
    print(a.format.as_deref(), &found, errors)
}
