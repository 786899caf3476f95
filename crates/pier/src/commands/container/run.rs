//! `pier run`: docker's `runContainer` flow. Create (pulling a missing image), then unless `-d`:
//! attach (hijacked, before start so no output is lost), wait (`condition=removed` with `--rm`, else
//! `next-exit`, registered before start), start, resize the tty, stream until the output ends, and
//! exit with the container's status. `-d` prints the full id. Daemon errors exit 125 ("pier: Error
//! response from daemon: ..." plus the help hint); a start failure naming a missing executable 127,
//! a permission problem 126. With `-t` the terminal is raw (restored on exit) and ctrl-p ctrl-q
//! (`--detach-keys`) detaches, leaving the container running.

use super::super::Ctx;
use super::create::{build_body, create_container, ContainerOpts};
use crate::client::{empty, p, q};
use crate::error::{CliError, Result};
use crate::stream;
use http::Method;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub opts: ContainerOpts,
}

/// docker's `toStatusError`: the exit status for a failed create/start.
pub fn status_for(msg: &str) -> i32 {
    if msg.contains("executable file not found")
        || msg.contains("no such file or directory")
        || msg.contains("system cannot find the file specified")
    {
        127
    } else if msg.contains("permission denied") || msg.contains("is a directory") {
        126
    } else {
        125
    }
}

/// Turn an error of `verb` into docker's report: flag errors get the usage, others "pier: <err>"
/// and the help hint, with `toStatusError`'s status.
pub fn report(verb: &str, usage: &str, e: CliError) -> CliError {
    match e {
        CliError::Flag { message, code } => CliError::Flag {
            message: format!(
                "{message}\n\nUsage:  pier {verb} {usage}\n\nRun 'pier {verb} --help' for more information"
            ),
            code,
        },
        CliError::Silent(c) => CliError::Silent(c),
        other => {
            let msg = other.to_string();
            CliError::Flag {
                code: status_for(&msg),
                message: format!("pier: {msg}\n\nRun 'pier {verb} --help' for more information"),
            }
        }
    }
}

pub const USAGE: &str = "[OPTIONS] IMAGE [COMMAND] [ARG...]";

pub async fn run(ctx: &mut Ctx, args: Args) -> Result<()> {
    if args.detach && !args.opts.attach.is_empty() {
        return Err(CliError::Usage(
            "conflicting options: cannot specify both --attach and --detach".into(),
        ));
    }
    run_inner(ctx, args)
        .await
        .map_err(|e| report("run", USAGE, e))
}

/// Resize the container's tty (or an exec's) to our terminal.
pub async fn resize(ctx: &mut Ctx, what: &str) {
    if let Some((h, w)) = stream::terminal_size() {
        let _ = ctx
            .client
            .request(
                Method::POST,
                &format!("{what}/resize?h={h}&w={w}"),
                &[],
                empty(),
            )
            .await;
    }
}

async fn run_inner(ctx: &mut Ctx, args: Args) -> Result<()> {
    let o = &args.opts;
    if o.tty && o.interactive && !args.detach && !stream::stdin_is_terminal() {
        eprintln!("the input device is not a TTY");
        return Err(CliError::Silent(1));
    }
    let detach_keys = match &args.detach_keys {
        Some(k) => super::opts::detach_keys(k)?,
        None => stream::DEFAULT_DETACH.to_vec(),
    };
    let mut body = build_body(o, args.detach)?;
    if args.rm
        && !matches!(
            body["HostConfig"]["RestartPolicy"]["Name"].as_str(),
            Some("no" | "")
        )
    {
        return Err(CliError::Usage(
            "conflicting options: cannot specify both --restart and --rm".into(),
        ));
    }
    body["HostConfig"]["AutoRemove"] = serde_json::json!(args.rm);
    let id = create_container(ctx, o, &body).await?;
    if args.detach {
        start_container(ctx, &id).await?;
        println!("{id}");
        return Ok(());
    }
    let att = |k: &str| body[k].as_bool().unwrap_or(false);
    let (a_in, a_out, a_err) = (att("AttachStdin"), att("AttachStdout"), att("AttachStderr"));
    let mut conn = None;
    if a_in || a_out || a_err {
        conn = Some(attach_streams(ctx, &id, [a_in, a_out, a_err], &args.detach_keys).await?);
    }
    let condition = if args.rm { "removed" } else { "next-exit" };
    let waiter = register_wait(ctx, &id, condition).await?;
    let raw = if o.tty && a_in {
        stream::RawMode::enable(0)
    } else {
        None
    };
    if let Err(e) = start_container(ctx, &id).await {
        drop(raw);
        if args.rm {
            let _ = waiter.await;
        }
        return Err(e);
    }
    let mut winch = None;
    if o.tty {
        resize(ctx, &format!("/containers/{id}")).await;
        winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
    }
    // docker's sig-proxy: without a tty, signals we get go to the container.
    let mut sigs = if !o.tty && args.sig_proxy {
        Some(signal_proxy())
    } else {
        None
    };
    if let Some(conn) = conn {
        let pump = stream::pump(conn, o.tty, a_in, detach_keys);
        tokio::pin!(pump);
        let ended = loop {
            tokio::select! {
                r = &mut pump => break r,
                _ = async { match winch.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {
                    resize(ctx, &format!("/containers/{id}")).await;
                }
                Some(sig) = async { match sigs.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    let _ = ctx.client.request(Method::POST, &format!("/containers/{id}/kill?signal={sig}"), &[], empty()).await;
                }
            }
        };
        drop(raw);
        if ended? == stream::Ended::Detached {
            return Ok(());
        }
    }
    let status = wait_status(
        waiter
            .await
            .map_err(|e| CliError::Protocol(e.to_string()))??,
    )?;
    if status != 0 {
        return Err(CliError::Silent(status));
    }
    Ok(())
}

/// Forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 as their numbers.
pub fn signal_proxy() -> tokio::sync::mpsc::Receiver<i32> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    for n in [2, 15, 1, 3, 10, 12] {
        if let Ok(mut s) = signal(SignalKind::from_raw(n)) {
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if tx.send(n).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
    rx
}

/// The `StatusCode` of a wait response (an `Error.Message` in it is an error, as docker reports).
/// `POST /containers/{id}/start`.
pub async fn start_container(ctx: &mut Ctx, id: &str) -> Result<()> {
    ctx.client
        .request(
            Method::POST,
            &format!("/containers/{}/start", p(id)),
            &[],
            empty(),
        )
        .await
        .map(drop)
}

/// Hijack the container's streams (`[stdin, stdout, stderr]`) as docker's attach does.
pub async fn attach_streams(
    ctx: &mut Ctx,
    id: &str,
    [stdin, stdout, stderr]: [bool; 3],
    detach_keys: &Option<String>,
) -> Result<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>> {
    let mut query = format!(
        "stream=1&stdin={}&stdout={}&stderr={}",
        stdin as u8, stdout as u8, stderr as u8
    );
    if let Some(k) = detach_keys {
        query.push_str(&format!("&detachKeys={}", q(k)));
    }
    ctx.client
        .hijack(&format!("/containers/{id}/attach?{query}"), None)
        .await
}

/// Register the wait for the container's exit before it starts (docker's order, so a quick exit
/// is not missed); its answer is read in the background.
pub async fn register_wait(
    ctx: &mut Ctx,
    id: &str,
    condition: &str,
) -> Result<tokio::task::JoinHandle<Result<bytes::Bytes>>> {
    let resp = ctx
        .client
        .request(
            Method::POST,
            &format!("/containers/{id}/wait?condition={condition}"),
            &[],
            empty(),
        )
        .await?;
    Ok(tokio::spawn(crate::client::read_body(resp)))
}

pub fn wait_status(body: bytes::Bytes) -> Result<i32> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct WaitErr {
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Wait {
        #[serde(default)]
        status_code: i64,
        #[serde(default)]
        error: Option<WaitErr>,
    }
    let w: Wait = serde_json::from_slice(&body)
        .map_err(|e| CliError::Protocol(format!("Error reading JSON: {e}")))?;
    if let Some(e) = w.error.filter(|e| !e.message.is_empty()) {
        return Err(CliError::Usage(e.message));
    }
    Ok(w.status_code as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_like_docker() {
        assert_eq!(
            status_for("exec: \"nonexist\": executable file not found in $PATH"),
            127
        );
        assert_eq!(status_for("exec: permission denied"), 126);
        assert_eq!(
            status_for("Error response from daemon: invalid restart policy 'x'"),
            125
        );
        assert_eq!(
            wait_status(bytes::Bytes::from_static(
                br#"{"StatusCode":3,"Error":null}"#
            ))
            .unwrap(),
            3
        );
        let e = report(
            "run",
            USAGE,
            CliError::Daemon {
                status: 400,
                message: "bad".into(),
            },
        );
        assert_eq!(e.exit_code(), 125);
        assert_eq!(
            e.to_string(),
            "pier: Error response from daemon: bad\n\nRun 'pier run --help' for more information"
        );
    }
}
