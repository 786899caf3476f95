//! `pier`: docker's CLI as a plain Engine API client. Same commands, flags, output and exit codes as
//! docker 28's CLI, against pierd or a real dockerd. Host: `-H/--host`, then `PIER_HOST`, then
//! `DOCKER_HOST`, default `unix:///run/pier/pier.sock`. Errors go to stderr as docker prints them;
//! flag errors exit 125, other failures 1 (or the command's own status).
//!
//! Layout: [`client`] (connection, negotiation, errors), [`commands`] (`<noun>/<verb>.rs`),
//! [`format`] (tables, sizes, durations), [`template`] (Go templates), [`progress`] (JSON progress).

mod client;
mod commands;
mod error;
mod format;
mod progress;
mod stream;
mod template;

use clap::{Parser, Subcommand};
use commands::container::{self, ContainerCommand};
use commands::image::{self, ImageCommand};
use commands::network::{self, NetworkCommand};
use commands::system;
use error::CliError;

#[derive(Parser, Debug)]
#[command(
    name = "pier",
    about = "A self-sufficient runtime for containers",
    disable_version_flag = true
)]
struct Cli {
    /// Daemon socket to connect to
    #[arg(short = 'H', long = "host", global = true)]
    host: Option<String>,
    /// Location of client config files
    #[arg(long = "config", global = true)]
    config: Option<String>,
    /// Enable debug mode
    #[arg(short = 'D', long = "debug", global = true)]
    debug: bool,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level")]
    log_level: Option<String>,
    /// Name of the context to use (only "default")
    #[arg(short = 'c', long = "context")]
    context: Option<String>,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
// Each subcommand's arguments are built only when it is the one given (saves ~1 ms of
// clap building the whole tree at every start).
#[command(defer = true)]
enum Command {
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// List containers
    Ps(container::list::Args),
    /// Create and run a new container from an image
    #[command(
        override_usage = "pier run [OPTIONS] IMAGE [COMMAND] [ARG...]",
        disable_help_flag = true
    )]
    Run(container::run::Args),
    /// Create a new container
    #[command(
        override_usage = "pier create [OPTIONS] IMAGE [COMMAND] [ARG...]",
        disable_help_flag = true
    )]
    Create(container::create::Args),
    /// Start one or more stopped containers
    Start(container::start::Args),
    /// Stop one or more running containers
    Stop(container::multi::StopArgs),
    /// Kill one or more running containers
    Kill(container::multi::KillArgs),
    /// Restart one or more containers
    Restart(container::multi::StopArgs),
    /// Remove one or more containers
    Rm(container::multi::RmArgs),
    /// Pause all processes within one or more containers
    Pause(container::multi::NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(container::multi::NamesArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(container::multi::NamesArgs),
    /// Rename a container
    Rename(container::misc::RenameArgs),
    /// Fetch the logs of a container
    Logs(container::logs::Args),
    /// Execute a command in a running container
    Exec(container::exec::Args),
    /// Attach local standard input, output, and error streams to a running container
    Attach(container::start::AttachArgs),
    /// Display the running processes of a container
    Top(container::misc::TopArgs),
    /// List port mappings or a specific mapping for the container
    #[command(override_usage = "pier port CONTAINER [PRIVATE_PORT[/PROTO]]")]
    Port(container::misc::PortArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(container::stats::Args),
    /// Update configuration of one or more containers
    Update(container::stats::UpdateArgs),
    /// Get real time events from the server
    Events(container::events::Args),
    /// Download an image from a registry
    #[command(override_usage = "pier pull [OPTIONS] NAME[:TAG|@DIGEST]")]
    Pull(image::pull::Args),
    /// List images
    Images(image::list::Args),
    /// Remove one or more images
    #[command(override_usage = "pier rmi [OPTIONS] IMAGE [IMAGE...]")]
    Rmi(image::remove::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::tag::Args),
    /// Import the contents from a tarball to create a filesystem image
    #[command(override_usage = "pier import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]")]
    Import(image::import::Args),
    /// Return low-level information on Docker objects
    #[command(override_usage = "pier inspect [OPTIONS] NAME|ID [NAME|ID...]")]
    Inspect(system::inspect::Args),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Show the Docker version information
    Version(system::version::Args),
    /// Display system-wide information
    Info(system::info::Args),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage Docker
    #[command(subcommand)]
    System(SystemCommand),
}

#[derive(Subcommand, Debug)]
// Each subcommand's arguments are built only when it is the one given (saves ~1 ms of
// clap building the whole tree at every start).
#[command(defer = true)]
enum SystemCommand {
    /// Display system-wide information
    Info(system::info::Args),
    /// Get real time events from the server
    Events(container::events::Args),
}

fn config_dir(flag: Option<&str>) -> std::path::PathBuf {
    if let Some(f) = flag {
        return f.into();
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return d.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    std::path::PathBuf::from(home).join(".docker")
}

async fn dispatch(cli: Cli) -> error::Result<()> {
    if cli.version {
        println!("Pier version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(c) = cli.context.as_deref().filter(|c| *c != "default") {
        return Err(CliError::Usage(format!("context \"{c}\" does not exist")));
    }
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return Ok(());
    };
    let host = client::select_host(cli.host.as_deref());
    let mut ctx = commands::Ctx {
        client: client::Client::new(&host)?,
        config_dir: config_dir(cli.config.as_deref()),
    };
    match command {
        Command::Container(c) => container::run(&mut ctx, c).await,
        Command::Ps(a) => container::list::run(&mut ctx, a).await,
        Command::Run(a) => container::run::run(&mut ctx, a).await,
        Command::Create(a) => container::create::run(&mut ctx, a).await,
        Command::Start(a) => container::start::run(&mut ctx, a).await,
        Command::Stop(a) => container::multi::stop(&mut ctx, a).await,
        Command::Kill(a) => container::multi::kill(&mut ctx, a).await,
        Command::Restart(a) => container::multi::restart(&mut ctx, a).await,
        Command::Rm(a) => container::multi::rm(&mut ctx, a).await,
        Command::Pause(a) => container::multi::pause(&mut ctx, a, "pause").await,
        Command::Unpause(a) => container::multi::pause(&mut ctx, a, "unpause").await,
        Command::Wait(a) => container::multi::wait(&mut ctx, a).await,
        Command::Rename(a) => container::misc::rename(&mut ctx, a).await,
        Command::Logs(a) => container::logs::run(&mut ctx, a).await,
        Command::Exec(a) => container::exec::run(&mut ctx, a).await,
        Command::Attach(a) => container::start::attach(&mut ctx, a).await,
        Command::Top(a) => container::misc::top(&mut ctx, a).await,
        Command::Port(a) => container::misc::port(&mut ctx, a).await,
        Command::Stats(a) => container::stats::run(&mut ctx, a).await,
        Command::Update(a) => container::stats::update(&mut ctx, a).await,
        Command::Events(a) | Command::System(SystemCommand::Events(a)) => {
            container::events::run(&mut ctx, a).await
        }
        Command::Pull(a) => image::pull::run(&mut ctx, a).await,
        Command::Images(a) => image::list::run(&mut ctx, a, true).await,
        Command::Rmi(a) => image::remove::run(&mut ctx, a).await,
        Command::Tag(a) => image::tag::run(&mut ctx, a).await,
        Command::Import(a) => image::import::run(&mut ctx, a).await,
        Command::Inspect(a) => system::inspect::run(&mut ctx, a).await,
        Command::Image(c) => image::run(&mut ctx, c).await,
        Command::Network(c) => network::run(&mut ctx, c).await,
        Command::Version(a) => system::version::run(&mut ctx, a).await,
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => {
            system::info::run(&mut ctx, a, cli.debug).await
        }
    }
}

/// Turn a clap error into docker's (cobra's) wording and layout: "unknown flag: --x" (exit 125) or
/// "pier: 'pier tag' requires 2 arguments" (exit 1), then "Usage:  ..." and the help hint.
fn docker_usage_error(e: &clap::Error) -> (String, i32) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = e.render().to_string();
    let usage = rendered
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .map(|u| u.replace(['<', '>'], ""))
        .unwrap_or_else(|| "pier [OPTIONS] COMMAND".into());
    let path: Vec<&str> = usage
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect();
    let path = path.join(" ");
    let invalid = match e
        .get(ContextKind::InvalidArg)
        .or_else(|| e.get(ContextKind::InvalidSubcommand))
    {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let (msg, code) = match e.kind() {
        ErrorKind::UnknownArgument if invalid.starts_with("--") => (format!("unknown flag: {}", invalid.split('=').next().unwrap_or(&invalid)), 125),
        ErrorKind::UnknownArgument if invalid.starts_with('-') => {
            let c = invalid.chars().nth(1).unwrap_or('?');
            (format!("unknown shorthand flag: '{c}' in {invalid}"), 125)
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::TooFewValues | ErrorKind::UnknownArgument | ErrorKind::TooManyValues => {
            let verb = path.rsplit(' ').next().unwrap_or("");
            let noun_verb = path.strip_prefix("pier ").unwrap_or(&path);
            let need = match noun_verb {
                "network create" => "requires 1 argument",
                "network connect" | "network disconnect" => "requires 2 arguments",
                "network ls" | "network list" | "network prune" => "accepts no arguments",
                "port" | "container port" => "requires at least 1 and at most 2 arguments",
                _ => match verb {
                "tag" => "requires 2 arguments",
                "pull" => "requires 1 argument",
                "images" | "ls" | "list" => "accepts at most 1 argument",
                "version" | "info" | "prune" => "accepts no arguments",
                _ => "requires at least 1 argument",
                },
            };
            (format!("pier: '{path}' {need}"), 1)
        }
        ErrorKind::InvalidSubcommand => (format!("pier: unknown command: {path} {invalid}\n\nRun '{path} --help' for more information"), 1),
        _ => {
            let first = rendered.lines().next().unwrap_or("").trim_start_matches("error: ").to_string();
            (first, 125)
        }
    };
    if e.kind() == ErrorKind::InvalidSubcommand {
        return (msg, code);
    }
    // cobra's RequiresMinArgs says "See" where the other argument checks say "Run".
    let hint = if matches!(path.as_str(), "pier network rm" | "pier network inspect")
        && msg.contains("requires at least")
    {
        "See"
    } else {
        "Run"
    };
    (
        format!("{msg}\n\nUsage:  {usage}\n\n{hint} '{path} --help' for more information"),
        code,
    )
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    std::process::exit(0);
                }
                _ => {
                    let (msg, code) = docker_usage_error(&e);
                    eprintln!("{msg}");
                    std::process::exit(code);
                }
            }
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(dispatch(cli)) {
        let msg = e.to_string();
        if !msg.is_empty() {
            eprintln!("{msg}");
        }
        std::process::exit(e.exit_code());
    }
}
