//! `pier network ...`: docker 28's network commands over the Engine API (`/networks`): `create`
//! (IPAM consolidated from `--subnet`/`--ip-range`/`--gateway`/`--aux-address` as docker's
//! `createIPAMConfig` does), `ls` (natural name order, docker's table/json/template formats),
//! `inspect`, `rm`, `connect`, `disconnect` and `prune`. Same requests, output and exit codes.

pub mod connect;
pub mod create;
pub mod disconnect;
pub mod inspect;
pub mod list;
pub mod prune;
pub mod remove;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
// Each subcommand's arguments are built only when it is the one given (saves ~1 ms of
// clap building the whole tree at every start).
#[command(defer = true)]
pub enum NetworkCommand {
    /// Connect a container to a network
    #[command(override_usage = "pier network connect [OPTIONS] NETWORK CONTAINER")]
    Connect(connect::Args),
    /// Create a network
    #[command(override_usage = "pier network create [OPTIONS] NETWORK")]
    Create(create::Args),
    /// Disconnect a container from a network
    #[command(override_usage = "pier network disconnect [OPTIONS] NETWORK CONTAINER")]
    Disconnect(disconnect::Args),
    /// Display detailed information on one or more networks
    #[command(override_usage = "pier network inspect [OPTIONS] NETWORK [NETWORK...]")]
    Inspect(inspect::Args),
    /// List networks
    #[command(
        name = "ls",
        visible_alias = "list",
        override_usage = "pier network ls [OPTIONS]"
    )]
    Ls(list::Args),
    /// Remove all unused networks
    #[command(override_usage = "pier network prune [OPTIONS]")]
    Prune(prune::Args),
    /// Remove one or more networks
    #[command(
        name = "rm",
        visible_alias = "remove",
        override_usage = "pier network rm NETWORK [NETWORK...]"
    )]
    Rm(remove::Args),
}

pub async fn run(ctx: &mut super::Ctx, cmd: NetworkCommand) -> crate::error::Result<()> {
    match cmd {
        NetworkCommand::Connect(a) => connect::run(ctx, a).await,
        NetworkCommand::Create(a) => create::run(ctx, a).await,
        NetworkCommand::Disconnect(a) => disconnect::run(ctx, a).await,
        NetworkCommand::Inspect(a) => inspect::run(ctx, a).await,
        NetworkCommand::Ls(a) => list::run(ctx, a).await,
        NetworkCommand::Prune(a) => prune::run(ctx, a).await,
        NetworkCommand::Rm(a) => remove::run(ctx, a).await,
    }
}
