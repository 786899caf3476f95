//! `pier container ...` and its top-level aliases (`ps`, `run`, `create`, `start`, `stop`, `kill`,
//! `restart`, `rm`, `pause`, `unpause`, `wait`, `rename`, `logs`, `exec`, `attach`, `top`, `port`,
//! `stats`, `update`): docker 28's container commands over the Engine API. Hijacked streams live in
//! [`crate::stream`], flag value parsing in [`opts`].

pub mod create;
pub mod events;
pub mod exec;
pub mod list;
pub mod logs;
pub mod misc;
pub mod multi;
pub mod opts;
pub mod run;
pub mod start;
pub mod stats;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
// Each subcommand's arguments are built only when it is the one given (saves ~1 ms of
// clap building the whole tree at every start).
#[command(defer = true)]
pub enum ContainerCommand {
    /// List containers
    #[command(name = "ls", visible_aliases = ["ps", "list"])]
    Ls(list::Args),
    /// Create and run a new container from an image
    #[command(
        override_usage = "pier container run [OPTIONS] IMAGE [COMMAND] [ARG...]",
        disable_help_flag = true
    )]
    Run(run::Args),
    /// Create a new container
    #[command(
        override_usage = "pier container create [OPTIONS] IMAGE [COMMAND] [ARG...]",
        disable_help_flag = true
    )]
    Create(create::Args),
    /// Start one or more stopped containers
    Start(start::Args),
    /// Stop one or more running containers
    Stop(multi::StopArgs),
    /// Kill one or more running containers
    Kill(multi::KillArgs),
    /// Restart one or more containers
    Restart(multi::StopArgs),
    /// Remove one or more containers
    #[command(name = "rm", visible_alias = "remove")]
    Rm(multi::RmArgs),
    /// Pause all processes within one or more containers
    Pause(multi::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(multi::NamesArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(multi::NamesArgs),
    /// Rename a container
    Rename(misc::RenameArgs),
    /// Fetch the logs of a container
    Logs(logs::Args),
    /// Execute a command in a running container
    Exec(exec::Args),
    /// Attach local standard input, output, and error streams to a running container
    Attach(start::AttachArgs),
    /// Display the running processes of a container
    Top(misc::TopArgs),
    /// List port mappings or a specific mapping for the container
    Port(misc::PortArgs),
    /// Remove all stopped containers
    Prune(misc::PruneArgs),
    /// Display detailed information on one or more containers
    Inspect(stats::InspectArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::Args),
    /// Update configuration of one or more containers
    Update(stats::UpdateArgs),
}

pub async fn run(ctx: &mut super::Ctx, cmd: ContainerCommand) -> crate::error::Result<()> {
    match cmd {
        ContainerCommand::Ls(a) => list::run(ctx, a).await,
        ContainerCommand::Run(a) => run::run(ctx, a).await,
        ContainerCommand::Create(a) => create::run(ctx, a).await,
        ContainerCommand::Start(a) => start::run(ctx, a).await,
        ContainerCommand::Stop(a) => multi::stop(ctx, a).await,
        ContainerCommand::Kill(a) => multi::kill(ctx, a).await,
        ContainerCommand::Restart(a) => multi::restart(ctx, a).await,
        ContainerCommand::Rm(a) => multi::rm(ctx, a).await,
        ContainerCommand::Pause(a) => multi::pause(ctx, a, "pause").await,
        ContainerCommand::Unpause(a) => multi::pause(ctx, a, "unpause").await,
        ContainerCommand::Wait(a) => multi::wait(ctx, a).await,
        ContainerCommand::Rename(a) => misc::rename(ctx, a).await,
        ContainerCommand::Logs(a) => logs::run(ctx, a).await,
        ContainerCommand::Exec(a) => exec::run(ctx, a).await,
        ContainerCommand::Attach(a) => start::attach(ctx, a).await,
        ContainerCommand::Top(a) => misc::top(ctx, a).await,
        ContainerCommand::Port(a) => misc::port(ctx, a).await,
        ContainerCommand::Prune(a) => misc::prune(ctx, a).await,
        ContainerCommand::Inspect(a) => stats::inspect(ctx, a).await,
        ContainerCommand::Stats(a) => stats::run(ctx, a).await,
        ContainerCommand::Update(a) => stats::update(ctx, a).await,
    }
}
