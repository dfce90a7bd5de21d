//! `conflux serve`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {}

pub fn main(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`conflux serve` is not available in this build")
}
