//! Small single-request verbs: `rename`, `top` (docker's column table of `GET /top`), `port` (all
//! mappings, or one `PORT[/PROTO]`, as `0.0.0.0:8080` lines), and `container prune` (`--filter`,
//! `-f`; prints "Deleted Containers:" and the reclaimed space).

use super::super::{filters_json, Ctx};
use crate::client::{empty, p, q};
use crate::error::{CliError, Result};
use crate::format::{tabwriter::TabWriter, units};
use http::Method;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(clap::Args, Debug)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(
        value_name = "ps OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub async fn rename(ctx: &mut Ctx, a: RenameArgs) -> Result<()> {
    let old = a.container.trim();
    let new = a.new_name.trim();
    if old.is_empty() || new.is_empty() {
        return Err(CliError::Usage(
            "Error: Neither old nor new names may be empty".into(),
        ));
    }
    if let Err(e) = ctx
        .client
        .request(
            Method::POST,
            &format!("/containers/{}/rename?name={}", p(old), q(new)),
            &[],
            empty(),
        )
        .await
    {
        eprintln!("{e}");
        return Err(CliError::Usage(format!(
            "Error: failed to rename container named {old}"
        )));
    }
    Ok(())
}

pub async fn top(ctx: &mut Ctx, a: TopArgs) -> Result<()> {
    let mut path = format!("/containers/{}/top", p(&a.container));
    if !a.ps_args.is_empty() {
        path.push_str(&format!("?ps_args={}", q(&a.ps_args.join(" "))));
    }
    let v: serde_json::Value = ctx.client.get_json(&path).await?;
    let mut tw = TabWriter::new(20, 1);
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    tw.write_str(&format!("{}\n", titles.join("\t")));
    for proc_ in v["Processes"].as_array().into_iter().flatten() {
        let cols: Vec<&str> = proc_
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
            .unwrap_or_default();
        tw.write_str(&format!("{}\n", cols.join("\t")));
    }
    std::io::stdout().lock().write_all(&tw.finish())?;
    Ok(())
}

pub async fn port(ctx: &mut Ctx, a: PortArgs) -> Result<()> {
    let v: serde_json::Value = ctx
        .client
        .get_json(&format!("/containers/{}/json", p(&a.container)))
        .await?;
    let ports = v
        .pointer("/NetworkSettings/Ports")
        .and_then(|x| x.as_object())
        .cloned()
        .unwrap_or_default();
    let fmt_binding = |b: &serde_json::Value| {
        let ip = b["HostIp"].as_str().unwrap_or("");
        let port = b["HostPort"].as_str().unwrap_or("");
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    let mut out = Vec::new();
    if let Some(want) = &a.port {
        let (port, proto) = want.split_once('/').unwrap_or((want, ""));
        let proto = if proto.is_empty() { "tcp" } else { proto };
        if port.parse::<u16>().is_err() {
            let why = if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            return Err(CliError::Usage(format!(
                "Error: invalid port ({port}): strconv.ParseUint: parsing {port:?}: {why}"
            )));
        }
        if let Some(bs) = ports
            .get(&format!("{port}/{proto}"))
            .and_then(|b| b.as_array())
        {
            out.extend(bs.iter().map(fmt_binding));
        }
        if out.is_empty() {
            return Err(CliError::Usage(format!(
                "Error: No public port '{want}' published for {}",
                a.container
            )));
        }
    } else {
        for (k, bs) in &ports {
            for b in bs.as_array().into_iter().flatten() {
                out.push(format!("{k} -> {}", fmt_binding(b)));
            }
        }
    }
    // docker sorts the printed lines in natural order.
    out.sort_by(|x, y| crate::format::natural_cmp(x, y));
    let mut o = std::io::stdout().lock();
    for l in out {
        writeln!(o, "{l}")?;
    }
    Ok(())
}

pub async fn prune(ctx: &mut Ctx, a: PruneArgs) -> Result<()> {
    if !a.force {
        eprint!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        if !matches!(line.trim().to_lowercase().as_str(), "y" | "yes") {
            return Ok(());
        }
    }
    let mut path = String::from("/containers/prune");
    if let Some(f) = filters_json(&a.filter)? {
        path.push_str(&format!("?filters={}", q(&f)));
    }
    let v: serde_json::Value = ctx.client.post_json(&path, empty()).await?;
    let mut o = std::io::stdout().lock();
    let deleted: Vec<&str> = v["ContainersDeleted"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default();
    if !deleted.is_empty() {
        writeln!(o, "Deleted Containers:")?;
        for d in deleted {
            writeln!(o, "{d}")?;
        }
        writeln!(o)?;
    }
    let space = v["SpaceReclaimed"].as_u64().unwrap_or(0);
    writeln!(
        o,
        "Total reclaimed space: {}",
        units::human_size(space as f64)
    )?;
    Ok(())
}
