//! The verbs that act on several containers one after another and echo each name on success, as
//! docker does: `stop` (`-t`, `-s`), `kill` (`-s`), `restart` (`-t`, `-s`), `rm` (`-f`, `-v`, `-l`),
//! `pause`, `unpause`, `wait` (prints each exit status). A failure prints the daemon's error on stderr
//! and the command goes on; any failure makes the exit status 1.

use super::super::Ctx;
use crate::client::{empty, p, q};
use crate::error::{CliError, Result};
use http::Method;

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        allow_negative_numbers = true
    )]
    pub timeout: Option<i64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove the specified link
    #[arg(short, long)]
    pub link: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct NamesArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// Run `one` for each container; print the name on success, the error on failure.
async fn each<F>(ctx: &mut Ctx, names: &[String], mut one: F) -> Result<()>
where
    F: for<'a> FnMut(
        &'a mut Ctx,
        &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<String>>>,
{
    let mut failed = false;
    for n in names {
        match one(ctx, n).await {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => {
                failed = true;
                eprintln!("{e}");
            }
        }
    }
    if failed {
        return Err(CliError::Silent(1));
    }
    Ok(())
}

async fn post(ctx: &mut Ctx, path: String) -> Result<()> {
    ctx.client
        .request(Method::POST, &path, &[], empty())
        .await?;
    Ok(())
}

fn timed_query(signal: &Option<String>, timeout: Option<i64>) -> String {
    let mut qv = Vec::new();
    if let Some(s) = signal {
        qv.push(format!("signal={}", q(s)));
    }
    if let Some(t) = timeout {
        qv.push(format!("t={t}"));
    }
    if qv.is_empty() {
        String::new()
    } else {
        format!("?{}", qv.join("&"))
    }
}

pub async fn stop(ctx: &mut Ctx, a: StopArgs) -> Result<()> {
    let query = timed_query(&a.signal, a.timeout);
    each(ctx, &a.containers, |ctx, n| {
        let path = format!("/containers/{}/stop{query}", p(n));
        Box::pin(async move { post(ctx, path).await.map(|_| Some(n.to_string())) })
    })
    .await
}

pub async fn restart(ctx: &mut Ctx, a: StopArgs) -> Result<()> {
    let query = timed_query(&a.signal, a.timeout);
    each(ctx, &a.containers, |ctx, n| {
        let path = format!("/containers/{}/restart{query}", p(n));
        Box::pin(async move { post(ctx, path).await.map(|_| Some(n.to_string())) })
    })
    .await
}

pub async fn kill(ctx: &mut Ctx, a: KillArgs) -> Result<()> {
    let query = timed_query(&a.signal, None);
    each(ctx, &a.containers, |ctx, n| {
        let path = format!("/containers/{}/kill{query}", p(n));
        Box::pin(async move { post(ctx, path).await.map(|_| Some(n.to_string())) })
    })
    .await
}

pub async fn rm(ctx: &mut Ctx, a: RmArgs) -> Result<()> {
    let mut qv = Vec::new();
    if a.volumes {
        qv.push("v=1");
    }
    if a.link {
        qv.push("link=1");
    }
    if a.force {
        qv.push("force=1");
    }
    let query = if qv.is_empty() {
        String::new()
    } else {
        format!("?{}", qv.join("&"))
    };
    let names: Vec<String> = a
        .containers
        .iter()
        .map(|n| n.trim_matches('/').to_string())
        .collect();
    each(ctx, &names, |ctx, n| {
        let path = format!("/containers/{}{query}", p(n));
        Box::pin(async move {
            if n.is_empty() {
                return Err(CliError::Usage("Container name cannot be empty".into()));
            }
            ctx.client
                .request(Method::DELETE, &path, &[], empty())
                .await?;
            Ok(Some(n.to_string()))
        })
    })
    .await
}

pub async fn pause(ctx: &mut Ctx, a: NamesArgs, verb: &'static str) -> Result<()> {
    each(ctx, &a.containers, |ctx, n| {
        let path = format!("/containers/{}/{verb}", p(n));
        Box::pin(async move { post(ctx, path).await.map(|_| Some(n.to_string())) })
    })
    .await
}

pub async fn wait(ctx: &mut Ctx, a: NamesArgs) -> Result<()> {
    each(ctx, &a.containers, |ctx, n| {
        let path = format!("/containers/{}/wait", p(n));
        Box::pin(async move {
            let resp = ctx
                .client
                .request(Method::POST, &path, &[], empty())
                .await?;
            let body = crate::client::read_body(resp).await?;
            let status = super::run::wait_status(body)?;
            Ok(Some(status.to_string()))
        })
    })
    .await
}
