//! `pier exec` (`-i`, `-t`, `-d`, `-e`, `--env-file`, `-w`, `-u`, `--privileged`, `--detach-keys`):
//! `POST /containers/{id}/exec`, then `POST /exec/{id}/start` hijacked (or `{"Detach":true}` with
//! `-d`), the tty resized, the output streamed, and the exit status read from `GET /exec/{id}/json`.
//! A missing executable exits 127 and a non-executable one 126 (the exec's own status, as dockerd
//! reports it), daemon errors 1 as docker does.

use super::super::Ctx;
use super::opts;
use crate::client::p;
use crate::error::{CliError, Result};
use crate::stream;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(opts::parse_kv_file(f, true)?);
    }
    for e in &a.env {
        if let Some(v) = opts::env_var(e)? {
            env.push(v);
        }
    }
    let keys = match &a.detach_keys {
        Some(k) => opts::detach_keys(k)?,
        None => stream::DEFAULT_DETACH.to_vec(),
    };
    if a.tty && a.interactive && !a.detach && !stream::stdin_is_terminal() {
        eprintln!("the input device is not a TTY");
        return Err(CliError::Silent(1));
    }
    let attach = !a.detach;
    let mut cfg = json!({
        "User": a.user.clone().unwrap_or_default(),
        "Privileged": a.privileged,
        "Tty": a.tty,
        "AttachStdin": a.interactive && attach,
        "AttachStdout": attach,
        "AttachStderr": attach,
        "Detach": a.detach,
        "Env": env,
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "Cmd": a.command,
    });
    if let Some(k) = &a.detach_keys {
        cfg["DetachKeys"] = json!(k);
    }
    // docker checks the container exists (and runs) before creating the exec.
    let created: serde_json::Value = {
        let resp = ctx
            .client
            .post_body(
                &format!("/containers/{}/exec", p(&a.container)),
                cfg.to_string(),
            )
            .await?;
        let b = crate::client::read_body(resp).await?;
        serde_json::from_slice(&b)
            .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))?
    };
    let id = created["Id"].as_str().unwrap_or_default().to_string();
    if id.is_empty() {
        return Err(CliError::Protocol("exec ID empty".into()));
    }
    if a.detach {
        ctx.client
            .post_body(
                &format!("/exec/{id}/start"),
                json!({"Detach": true, "Tty": a.tty}).to_string(),
            )
            .await?;
        return Ok(());
    }
    let conn = ctx
        .client
        .hijack(
            &format!("/exec/{id}/start"),
            Some(json!({"Detach": false, "Tty": a.tty}).to_string()),
        )
        .await?;
    let raw = if a.tty && a.interactive {
        stream::RawMode::enable(0)
    } else {
        None
    };
    if a.tty {
        super::run::resize(ctx, &format!("/exec/{id}")).await;
    }
    let ended = stream::pump(conn, a.tty, a.interactive, keys).await;
    drop(raw);
    if ended? == stream::Ended::Detached {
        return Ok(());
    }
    let info: serde_json::Value = ctx.client.get_json(&format!("/exec/{id}/json")).await?;
    let code = info["ExitCode"].as_i64().unwrap_or(0) as i32;
    if code != 0 {
        return Err(CliError::Silent(code));
    }
    Ok(())
}
