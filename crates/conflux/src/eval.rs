//! `conflux eval`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct EvalArgs {}

pub fn main(_args: EvalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`conflux eval` is not available in this build")
}
