//! `conflux run`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RunArgs {}

pub fn main(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`conflux run` is not available in this build")
}
