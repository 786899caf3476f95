//! `pier image ...` and its top-level aliases (`images`, `pull`, `rmi`, `tag`, `import`).

pub mod import;
pub mod inspect;
pub mod list;
pub mod prune;
pub mod pull;
pub mod remove;
pub mod tag;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
// Each subcommand's arguments are built only when it is the one given (saves ~1 ms of
// clap building the whole tree at every start).
#[command(defer = true)]
pub enum ImageCommand {
    /// List images
    #[command(name = "ls", visible_alias = "list")]
    Ls(list::Args),
    /// Display detailed information on one or more images
    Inspect(inspect::Args),
    /// Remove one or more images
    #[command(name = "rm", visible_alias = "remove")]
    Rm(remove::Args),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::Args),
    /// Import the contents from a tarball to create a filesystem image
    Import(import::Args),
    /// Remove unused images
    Prune(prune::Args),
    /// Download an image from a registry
    Pull(pull::Args),
}

pub async fn run(ctx: &mut super::Ctx, cmd: ImageCommand) -> crate::error::Result<()> {
    match cmd {
        ImageCommand::Ls(a) => list::run(ctx, a, false).await,
        ImageCommand::Inspect(a) => inspect::run(ctx, a).await,
        ImageCommand::Rm(a) => remove::run(ctx, a).await,
        ImageCommand::Tag(a) => tag::run(ctx, a).await,
        ImageCommand::Import(a) => import::run(ctx, a).await,
        ImageCommand::Prune(a) => prune::run(ctx, a).await,
        ImageCommand::Pull(a) => pull::run(ctx, a).await,
    }
}
