//! `provisioner`: builds, converges and tears down the Spaaace HA AWS stack.
//! Data goes to stdout, progress and logs to stderr. The commands live in
//! the library (`provisioner::cli`); this is the process around them.

use clap::Parser;
use provisioner::cli::{self, Args, LogFormat, Terminal};
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => return usage(e),
    };
    let json_logs = init_logging(args.log_format, args.verbose);
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
            let explained = cli::explain(&e, &cli::target(&args));
            if json_logs {
                tracing::error!(code = %explained.code, "{explained}");
            } else {
                tracing::error!("{explained}");
            }
            tracing::debug!("{}", provisioner::explain::causes(&e));
            if args.json {
                println!("{}", serde_json::json!({ "error": explained }));
            }
            ExitCode::from(1)
        }
    }
}

/// A command line clap refuses: exit 1 like every other error (clap's own
/// 2 would read as "changes" after `plan`), as JSON too with `--json`.
fn usage(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let _ = e.print();
    if std::env::args().any(|a| a == "--json") {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        let error = cli::Explained {
            what: "the command line".into(),
            why: first.trim_start_matches("error: ").to_string(),
            code: "Usage".into(),
        };
        println!("{}", serde_json::json!({ "error": error }));
    }
    ExitCode::from(1)
}

/// Our own progress at info; the SDK's credential-provider and retry
/// messages only when asked for (`-v`, or RUST_LOG), since every failure
/// they describe ends in an error of ours that says it in one line.
/// Returns whether the logs are JSON.
fn init_logging(format: Option<LogFormat>, verbose: bool) -> bool {
    let production = std::env::var("NODE_ENV").is_ok_and(|v| v == "production");
    let json = format.map_or(production, |f| f == LogFormat::Json);
    let default = if verbose {
        "info,provisioner=debug,aws_config=debug,aws_smithy_runtime=info"
    } else {
        "info,aws_config=off,aws_smithy_runtime=off,aws_smithy_runtime_api=off"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
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
    json
}
