use anyhow::Context;
use clap::Parser;
use gameserver::config::Config;
use gameserver::{logging, server};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // Before any TLS connection (rediss://): redis-rs brings no crypto provider.
    gameserver::persist::install_crypto_provider();
    logging::init(config.log_format());
    let listener = server::bind(&config).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    server::run(&config, listener, shutdown)
        .await
        .context("game server")
}

/// SIGTERM (what ECS sends) or ctrl-c begins a graceful shutdown.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only ctrl-c stops the server");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal: closing sockets with 4000 and stopping rooms");
    shutdown.cancel();
}
