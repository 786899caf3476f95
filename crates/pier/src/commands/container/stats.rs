//! `pier stats` (`--no-stream`, `-a`, `--no-trunc`, `--format`): docker's table (CONTAINER ID NAME
//! CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS) computed as docker's CLI does from
//! `GET /containers/{id}/stats?stream=0` (CPU from the cpu/precpu deltas, memory without the
//! inactive file cache); without `--no-stream` the table is redrawn every sample. Also `update`
//! (resources and restart policy, one `POST /containers/{id}/update` per container) and
//! `container inspect` (the generic inspect restricted to containers).

use super::super::Ctx;
use super::opts;
use crate::client::p;
use crate::error::{CliError, Result};
use crate::format::{self, truncate_id, units};
use crate::template::Value;
use serde_json::{json, Value as Json};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

pub fn header() -> Value {
    let h = |k: &str, v: &str| (k.to_string(), Value::str(v));
    Value::Map(vec![
        h("Container", "CONTAINER"),
        h("ID", "CONTAINER ID"),
        h("Name", "NAME"),
        h("CPUPerc", "CPU %"),
        h("MemUsage", "MEM USAGE / LIMIT"),
        h("MemPerc", "MEM %"),
        h("NetIO", "NET I/O"),
        h("BlockIO", "BLOCK I/O"),
        h("PIDs", "PIDS"),
    ])
}

static STATS_CONTEXT: crate::template::typed::StructType =
    crate::template::typed::context("*formatter.statsContext");

fn u(v: &Json, ptr: &str) -> f64 {
    v.pointer(ptr).and_then(|x| x.as_f64()).unwrap_or(0.0)
}

/// docker's stats row for one `/stats` sample of `container` (the name the user gave, or the id).
pub fn row(container: &str, s: &Json, trunc: bool) -> Value {
    let cpu_delta =
        u(s, "/cpu_stats/cpu_usage/total_usage") - u(s, "/precpu_stats/cpu_usage/total_usage");
    let sys_delta = u(s, "/cpu_stats/system_cpu_usage") - u(s, "/precpu_stats/system_cpu_usage");
    let mut online = u(s, "/cpu_stats/online_cpus");
    if online == 0.0 {
        online = s
            .pointer("/cpu_stats/cpu_usage/percpu_usage")
            .and_then(|x| x.as_array())
            .map(|a| a.len() as f64)
            .unwrap_or(0.0);
    }
    let cpu = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let usage = u(s, "/memory_stats/usage");
    let stats = s.pointer("/memory_stats/stats");
    let get = |k: &str| stats.and_then(|m| m.get(k)).and_then(|x| x.as_f64());
    let mem = match (get("total_inactive_file"), get("inactive_file")) {
        (Some(v), _) if v < usage => usage - v,
        (None, Some(v)) if v < usage => usage - v,
        _ => usage,
    };
    let limit = u(s, "/memory_stats/limit");
    let mem_perc = if limit != 0.0 {
        mem / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    if let Some(nets) = s.get("networks").and_then(|n| n.as_object()) {
        for n in nets.values() {
            rx += u(n, "/rx_bytes");
            tx += u(n, "/tx_bytes");
        }
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    for e in s
        .pointer("/blkio_stats/io_service_bytes_recursive")
        .and_then(|x| x.as_array())
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().map(|o| o.to_lowercase()).as_deref() {
            Some("read") => rd += u(e, "/value"),
            Some("write") => wr += u(e, "/value"),
            _ => {}
        }
    }
    let id = s["id"].as_str().unwrap_or_default();
    let name = s["name"].as_str().unwrap_or_default();
    let f = |k: &str, v: String| (k.to_string(), Value::Str(v));
    let pair = |a: f64, b: f64| {
        format!(
            "{} / {}",
            units::human_size_with_precision(a, 3),
            units::human_size_with_precision(b, 3)
        )
    };
    Value::Struct(
        &STATS_CONTEXT,
        vec![
            f("BlockIO", pair(rd, wr)),
            f("CPUPerc", format!("{cpu:.2}%")),
            f("Container", container.to_string()),
            f(
                "ID",
                if trunc {
                    truncate_id(id)
                } else {
                    id.to_string()
                },
            ),
            f("MemPerc", format!("{mem_perc:.2}%")),
            f(
                "MemUsage",
                format!("{} / {}", units::bytes_size(mem), units::bytes_size(limit)),
            ),
            f("Name", name.strip_prefix('/').unwrap_or(name).to_string()),
            f("NetIO", pair(rx, tx)),
            f("PIDs", format!("{}", u(s, "/pids_stats/current") as u64)),
        ],
    )
}

pub async fn run(ctx: &mut Ctx, a: Args) -> Result<()> {
    let fmt = match a.format.as_deref() {
        Some(f) if !f.is_empty() => f.to_string(),
        _ => match ctx
            .config_file()
            .get("statsFormat")
            .and_then(|v| v.as_str())
        {
            Some(f) if !f.is_empty() => f.to_string(),
            _ => DEFAULT_TABLE.to_string(),
        },
    };
    let fmt = if fmt == format::TABLE {
        DEFAULT_TABLE.to_string()
    } else {
        fmt
    };
    loop {
        let names: Vec<String> = if a.containers.is_empty() {
            let path = if a.all {
                "/containers/json?all=1"
            } else {
                "/containers/json"
            };
            let list: Vec<Json> = ctx.client.get_json(path).await?;
            list.iter()
                .filter_map(|c| c["Id"].as_str().map(|s| s[..12.min(s.len())].to_string()))
                .collect()
        } else {
            a.containers.clone()
        };
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        // Samples take the daemon about a second each; ask for all of them at once.
        let futs = names.iter().map(|n| {
            let mut c = ctx.client.clone();
            let n = n.clone();
            async move {
                let r = c
                    .get_json::<Json>(&format!("/containers/{}/stats?stream=0", p(&n)))
                    .await;
                (n, r)
            }
        });
        for (n, r) in futures::future::join_all(futs).await {
            match r {
                Ok(s) => rows.push(row(&n, &s, !a.no_trunc)),
                Err(e) => errors.push(e),
            }
        }
        if !a.containers.is_empty() {
            if let Some(e) = errors.into_iter().next() {
                return Err(e);
            }
        }
        let out = format::render(&fmt, &header(), &rows)?;
        let mut o = std::io::stdout().lock();
        if !a.no_stream {
            o.write_all(b"\x1b[2J\x1b[H")?;
        }
        o.write_all(out.as_bytes())?;
        o.flush()?;
        if a.no_stream {
            return Ok(());
        }
    }
}

pub async fn update(ctx: &mut Ctx, a: UpdateArgs) -> Result<()> {
    update_inner(ctx, a).await.map_err(|e| match e {
        CliError::Flag { .. } => {
            super::run::report("update", "[OPTIONS] CONTAINER [CONTAINER...]", e)
        }
        other => other,
    })
}

async fn update_inner(ctx: &mut Ctx, a: UpdateArgs) -> Result<()> {
    let mut body = serde_json::Map::new();
    let mut put = |k: &str, v: Json| {
        body.insert(k.into(), v);
    };
    if let Some(v) = a.blkio_weight {
        put("BlkioWeight", json!(v));
    }
    if let Some(v) = a.cpu_period {
        put("CpuPeriod", json!(v));
    }
    if let Some(v) = a.cpu_quota {
        put("CpuQuota", json!(v));
    }
    if let Some(v) = a.cpu_shares {
        put("CpuShares", json!(v));
    }
    if let Some(v) = &a.cpus {
        put("NanoCpus", json!(opts::nano_cpus(v)?));
    }
    if let Some(v) = &a.cpuset_cpus {
        put("CpusetCpus", json!(v));
    }
    if let Some(v) = &a.cpuset_mems {
        put("CpusetMems", json!(v));
    }
    if let Some(v) = &a.memory {
        put("Memory", json!(opts::mem_bytes(v, "-m, --memory")?));
    }
    if let Some(v) = &a.memory_reservation {
        put(
            "MemoryReservation",
            json!(opts::mem_bytes(v, "--memory-reservation")?),
        );
    }
    if let Some(v) = &a.memory_swap {
        put("MemorySwap", json!(opts::mem_swap_bytes(v)?));
    }
    if let Some(v) = a.pids_limit {
        put("PidsLimit", json!(v));
    }
    if let Some(v) = &a.restart {
        put("RestartPolicy", opts::restart_policy(v)?);
    }
    if body.is_empty() {
        return Err(CliError::Usage(
            "you must provide one or more flags when using this command".into(),
        ));
    }
    let body = Json::Object(body).to_string();
    let mut failed = false;
    for n in &a.containers {
        match ctx
            .client
            .post_body(&format!("/containers/{}/update", p(n)), body.clone())
            .await
        {
            Ok(resp) => {
                let b = crate::client::read_body(resp).await.unwrap_or_default();
                if let Ok(v) = serde_json::from_slice::<Json>(&b) {
                    for w in v["Warnings"].as_array().into_iter().flatten() {
                        if let Some(w) = w.as_str() {
                            eprintln!("WARNING: {w}");
                        }
                    }
                }
                println!("{n}");
            }
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

pub async fn inspect(ctx: &mut Ctx, a: InspectArgs) -> Result<()> {
    super::super::system::inspect::run(
        ctx,
        super::super::system::inspect::Args {
            format: a.format,
            kind: Some("container".into()),
            size: a.size,
            names: a.containers,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_row_from_recorded_sample() {
        // A `/stats?stream=0` sample shaped as dockerd sends it on cgroup v1 (trimmed).
        let s: Json = serde_json::from_str(r#"{"id":"f4d2bdeefbb5bbc295e385badb37adb09672b8d57b52094d62138911d0e05686","name":"/t1",
            "pids_stats":{"current":1},
            "blkio_stats":{"io_service_bytes_recursive":[{"major":8,"minor":0,"op":"Read","value":4096},{"major":8,"minor":0,"op":"Write","value":0}]},
            "cpu_stats":{"cpu_usage":{"total_usage":2000000},"system_cpu_usage":200000000,"online_cpus":2},
            "precpu_stats":{"cpu_usage":{"total_usage":1000000},"system_cpu_usage":100000000},
            "memory_stats":{"usage":1048576,"stats":{"total_inactive_file":524288},"limit":2147483648},
            "networks":{"eth0":{"rx_bytes":1000,"tx_bytes":0}}}"#).unwrap();
        let out = format::render(DEFAULT_TABLE, &header(), &[row("t1", &s, true)]).unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O    BLOCK I/O    PIDS\n\
             f4d2bdeefbb5   t1        2.00%     512KiB / 2GiB       0.02%     1kB / 0B   4.1kB / 0B   1\n"
        );
    }
}
