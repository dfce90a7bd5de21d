//! `conflux connectors`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ConnectorsArgs {}

pub fn main(_args: ConnectorsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`conflux connectors` is not available in this build")
}
