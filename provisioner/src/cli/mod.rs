//! The CLI's commands, each a small struct: `validate` (the arguments,
//! before any AWS call), `ask` (look at the environment and ask a person
//! when the change deletes or is not yet confirmed), `execute` (do it and
//! say what happened, as JSON or as text). Commands that change the
//! environment run under its lock (`crate::lock`).

pub mod args;
mod changes;
mod cost;
mod output;
pub mod prompt;
mod reports;

pub use args::{Args, ChaosAction, CommandArgs, LogFormat};
pub use output::Outcome;
pub use prompt::{Prompter, Scripted, Terminal};

use crate::aws::AwsOptions;
use crate::lock;
use crate::profile::Profile;
use crate::session::{Session, SessionOptions};
use crate::wait::WaitPolicy;
use crate::Error;
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
pub trait Command: Send {
    fn name(&self) -> &'static str;

    /// Checks the arguments before any AWS call.
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Whether it changes the environment, and so runs under its lock.
    fn changes(&self) -> bool {
        false
    }

    /// Looks at what will happen and asks `prompter` when it must.
    async fn ask(&mut self, _session: &Session, _prompter: &mut dyn Prompter) -> Result<(), Error> {
        Ok(())
    }

    async fn execute(&mut self, session: &Session) -> Result<Outcome, Error>;
}

/// The command the arguments name.
fn command(args: &Args) -> Box<dyn Command> {
    match &args.command {
        CommandArgs::Plan => Box::new(reports::Plan),
        CommandArgs::Up { yes, no_wait } => Box::new(changes::Up::new(*yes, !*no_wait)),
        CommandArgs::Down { yes } => Box::new(changes::Down::new(*yes)),
        CommandArgs::Status => Box::new(reports::Status),
        CommandArgs::Outputs => Box::new(reports::Outputs),
        CommandArgs::Deploy => Box::new(changes::Deploy::new(args.image.is_some())),
        CommandArgs::Chaos { action } => Box::new(changes::Chaos(action.clone())),
        CommandArgs::Cost => unreachable!("cost is answered without a session"),
    }
}

/// Runs the command the arguments name; returns what to print and the
/// exit code.
pub async fn run(args: &Args, prompter: &mut dyn Prompter) -> Result<Outcome, Error> {
    let profile = match &args.config {
        Some(path) => Profile::load(path)?,
        None => Profile::for_env(&args.profiles_dir, &args.env)?,
    };
    if args.command == CommandArgs::Cost {
        return cost::estimate(&profile, &args.prices);
    }
    let mut cmd = command(args);
    cmd.validate()?;
    let started = Instant::now();
    let session = Session::open_with_image(profile, options(args), args.image.as_deref()).await?;
    let outcome = if cmd.changes() {
        locked(&session, cmd.as_mut(), prompter, args).await
    } else {
        perform(&session, cmd.as_mut(), prompter).await
    };
    tracing::info!(
        "{} took {:.2}s; api calls: {}",
        cmd.name(),
        started.elapsed().as_secs_f64(),
        session.calls()
    );
    outcome
}

fn options(args: &Args) -> SessionOptions {
    SessionOptions {
        aws: AwsOptions {
            region: args.region.clone(),
            endpoint_url: args.endpoint_url.clone(),
            ..AwsOptions::default()
        },
        concurrency: args.concurrency,
        wait: WaitPolicy::default(),
    }
}

async fn perform(
    session: &Session,
    cmd: &mut dyn Command,
    prompter: &mut dyn Prompter,
) -> Result<Outcome, Error> {
    cmd.ask(session, prompter).await?;
    cmd.execute(session).await
}

/// Runs a changing command while holding the environment's lock, and
/// stops it if another run takes the lock over.
async fn locked(
    session: &Session,
    cmd: &mut dyn Command,
    prompter: &mut dyn Prompter,
    args: &Args,
) -> Result<Outcome, Error> {
    let ctx = &session.ctx;
    let held = lock::acquire(ctx, &lock::default_holder(), args.lock_timeout).await?;
    tracing::debug!(
        "holding the lock of environment {} as {}",
        ctx.naming.environment,
        held.holder()
    );
    let outcome = tokio::select! {
        outcome = perform(session, cmd, prompter) => outcome,
        holder = held.lost() => Err(Error::LockLost {
            environment: ctx.naming.environment.clone(),
            holder,
        }),
    };
    if let Err(e) = held.release(ctx).await {
        tracing::warn!("releasing the lock: {e}");
    }
    outcome
}
