//! `pier start` (`-a`, `-i`, `--detach-keys`) and `pier attach`: without `-a`/`-i` each container is
//! started and its name echoed; with them (one container only) the output is attached over a hijacked
//! connection before start, and the exit status is the container's (docker's `getExitStatus` with a
//! `next-exit` wait registered before start). `attach` joins a running container's streams
//! (`--no-stdin`, `--sig-proxy`, `--detach-keys`) and exits with its status when it stops.

use super::super::Ctx;
use crate::client::p;
use crate::error::{CliError, Result};
use crate::stream;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

struct Info {
    id: String,
    tty: bool,
    open_stdin: bool,
    running: bool,
    paused: bool,
    restarting: bool,
}

async fn inspect(ctx: &mut Ctx, name: &str) -> Result<Info> {
    let v: serde_json::Value = ctx
        .client
        .get_json(&format!("/containers/{}/json", p(name)))
        .await?;
    let b = |ptr: &str| v.pointer(ptr).and_then(|x| x.as_bool()).unwrap_or(false);
    Ok(Info {
        id: v["Id"].as_str().unwrap_or(name).to_string(),
        tty: b("/Config/Tty"),
        open_stdin: b("/Config/OpenStdin"),
        running: b("/State/Running"),
        paused: b("/State/Paused"),
        restarting: b("/State/Restarting"),
    })
}

/// Attach, run `start` (if any), stream, and return the exit status from a wait registered first.
async fn session(
    ctx: &mut Ctx,
    info: &Info,
    stdin: bool,
    detach_keys: &Option<String>,
    start: bool,
) -> Result<i32> {
    let keys = match detach_keys {
        Some(k) => super::opts::detach_keys(k)?,
        None => stream::DEFAULT_DETACH.to_vec(),
    };
    let id = info.id.clone();
    let conn = super::run::attach_streams(ctx, &id, [stdin, true, true], detach_keys).await?;
    let waiter = super::run::register_wait(ctx, &id, "next-exit").await?;
    let raw = if info.tty && stdin {
        stream::RawMode::enable(0)
    } else {
        None
    };
    if start {
        if let Err(e) = super::run::start_container(ctx, &id).await {
            drop(raw);
            return Err(e);
        }
    }
    if info.tty {
        super::run::resize(ctx, &format!("/containers/{id}")).await;
    }
    let ended = stream::pump(conn, info.tty, stdin, keys).await;
    drop(raw);
    if ended? == stream::Ended::Detached {
        return Ok(0);
    }
    super::run::wait_status(
        waiter
            .await
            .map_err(|e| CliError::Protocol(e.to_string()))??,
    )
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return Err(CliError::Usage(
                "you cannot start and attach multiple containers at once".into(),
            ));
        }
        let info = inspect(ctx, &a.containers[0]).await?;
        if info.running {
            // docker attaches to an already running container without starting it.
            let status = session(
                ctx,
                &info,
                a.interactive && info.open_stdin,
                &a.detach_keys,
                false,
            )
            .await?;
            return exit(status);
        }
        let status = session(
            ctx,
            &info,
            a.interactive && info.open_stdin,
            &a.detach_keys,
            true,
        )
        .await?;
        return exit(status);
    }
    let mut failed = Vec::new();
    for n in &a.containers {
        match super::run::start_container(ctx, n).await {
            Ok(_) => println!("{n}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(n.clone());
            }
        }
    }
    if !failed.is_empty() {
        eprintln!("Error: failed to start containers: {}", failed.join(", "));
        return Err(CliError::Silent(1));
    }
    Ok(())
}

fn exit(status: i32) -> Result<()> {
    if status != 0 {
        return Err(CliError::Silent(status));
    }
    Ok(())
}

pub async fn attach(ctx: &mut Ctx, a: AttachArgs) -> Result<()> {
    let info = inspect(ctx, &a.container).await?;
    if !info.running {
        return Err(CliError::Usage(
            "You cannot attach to a stopped container, start it first".into(),
        ));
    }
    if info.paused {
        return Err(CliError::Usage(
            "You cannot attach to a paused container, unpause it first".into(),
        ));
    }
    if info.restarting {
        return Err(CliError::Usage(
            "You cannot attach to a restarting container, wait until it is running".into(),
        ));
    }
    let _ = a.sig_proxy;
    let stdin = !a.no_stdin && info.open_stdin;
    let status = session(ctx, &info, stdin, &a.detach_keys, false).await?;
    exit(status)
}
