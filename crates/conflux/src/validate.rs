//! `conflux validate`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ValidateArgs {}

pub fn main(_args: ValidateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`conflux validate` is not available in this build")
}
