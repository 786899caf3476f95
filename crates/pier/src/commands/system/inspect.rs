//! `pier inspect NAME|ID...`: docker's object auto-detection. Without `--type` each name is tried as
//! a container, image, network, volume, then (only on a swarm manager, asked through `/info`) service,
//! task, node, then plugin, secret, config; "not found", "not supported" and "invalid reference
//! format" answers move on to the next kind, any other error is that name's error, and a name found
//! nowhere is `Error: No such object: NAME`. With `--type` only that kind is asked.

use super::super::image::inspect::{image_typed, print, TypedFn};
use super::super::Ctx;
use crate::client::p;
use crate::error::{CliError, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Only inspect objects of the given type
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    #[arg(value_name = "NAME|ID", required = true)]
    pub names: Vec<String>,
}

const ALL_TYPES: [&str; 10] = [
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

/// Detection order, whether the kind is a swarm object, and its endpoint.
const ORDER: [(&str, bool); 10] = [
    ("container", false),
    ("image", false),
    ("network", false),
    ("volume", false),
    ("service", true),
    ("task", true),
    ("node", true),
    ("plugin", false),
    ("secret", true),
    ("config", true),
];

fn path(kind: &str, name: &str, size: bool) -> String {
    let n = p(name);
    match kind {
        "container" if size => format!("/containers/{n}/json?size=1"),
        "container" => format!("/containers/{n}/json"),
        "image" => format!("/images/{n}/json"),
        "network" => format!("/networks/{n}"),
        "volume" => format!("/volumes/{n}"),
        "plugin" => format!("/plugins/{n}/json"),
        other => format!("/{other}s/{n}"),
    }
}

fn skippable(e: &CliError) -> bool {
    let m = e.to_string();
    e.is_not_found() || m.contains("not supported") || m.contains("invalid reference format")
}

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    let constraint = args.kind.as_deref();
    if let Some(t) = constraint {
        if t.is_empty() {
            return Err(CliError::Usage(format!(
                "type is empty: must be one of \"{}\"",
                ALL_TYPES.join("\", \"")
            )));
        }
        if !ALL_TYPES.contains(&t) {
            return Err(CliError::Usage(format!(
                "unknown type: {t:?}: must be one of \"{}\"",
                ALL_TYPES.join("\", \"")
            )));
        }
    }
    let mut found: Vec<(Vec<u8>, TypedFn)> = Vec::new();
    let mut errors = Vec::new();
    let mut swarm: Option<bool> = None;
    for name in &args.names {
        let mut outcome: Option<std::result::Result<(Vec<u8>, &str), CliError>> = None;
        for (kind, is_swarm) in ORDER {
            if constraint.is_some_and(|c| c != kind) {
                continue;
            }
            if constraint.is_none() && is_swarm {
                if swarm.is_none() {
                    swarm = Some(
                        match ctx.client.get_json::<serde_json::Value>("/info").await {
                            Ok(info) => {
                                info["Swarm"]["ControlAvailable"].as_bool().unwrap_or(false)
                            }
                            Err(e) => {
                                eprintln!("{e}");
                                false
                            }
                        },
                    );
                }
                if swarm == Some(false) {
                    continue;
                }
            }
            match ctx.client.get_bytes(&path(kind, name, args.size)).await {
                Ok(raw) => {
                    if args.size && kind != "container" {
                        eprintln!("WARNING: --size ignored for {kind}");
                    }
                    outcome = Some(Ok((raw.to_vec(), kind)));
                    break;
                }
                Err(e @ (CliError::Connect(_) | CliError::Permission(..))) => return Err(e),
                Err(e) if constraint.is_none() && skippable(&e) => continue,
                Err(e) => {
                    outcome = Some(Err(e));
                    break;
                }
            }
        }
        match outcome {
            Some(Ok((raw, kind))) => found.push((
                raw,
                if kind == "image" {
                    Some(image_typed as fn(&_) -> _)
                } else {
                    None
                },
            )),
            Some(Err(e)) => errors.push(e),
            None => errors.push(CliError::Usage(format!("Error: No such object: {name}"))),
        }
    }
    print(args.format.as_deref(), &found, errors)
}
