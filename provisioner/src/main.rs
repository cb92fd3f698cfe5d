//! `provisioner`: builds, converges and tears down the Spaaace HA AWS stack.
//! Data goes to stdout, progress and logs to stderr. The commands live in
//! the library (`provisioner::cli`); this is the process around them.

use clap::Parser;
use provisioner::cli::{self, Args, LogFormat, Terminal};
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(&args, &mut Terminal)) {
        Ok(outcome) => {
            println!("{}", outcome.render(args.json));
            ExitCode::from(outcome.code)
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(format: Option<LogFormat>) {
    let production = std::env::var("NODE_ENV").is_ok_and(|v| v == "production");
    let json = format.map_or(production, |f| f == LogFormat::Json);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.without_time().init();
    }
}
