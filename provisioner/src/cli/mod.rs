//! The CLI's commands, each a small struct: `validate` (the arguments,
//! before any AWS call), `ask` (look at the environment and ask a person
//! when the change deletes or is not yet confirmed), `execute` (do it and
//! say what happened, as JSON or as text). Commands that change the
//! environment run under its lock (`crate::lock`).

pub mod args;
mod changes;
mod cost;
mod output;
mod profiles;
pub mod prompt;
mod reports;

pub use crate::explain::{explain, Explained, Target};
pub use args::{Args, ChaosAction, CommandArgs, LogFormat, ProfilesAction};
pub use output::Outcome;
pub use prompt::{Prompter, Scripted, Terminal};

use crate::aws::AwsOptions;
use crate::builtin;
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
        CommandArgs::Cost | CommandArgs::Profiles { .. } => {
            unreachable!("answered without a session")
        }
    }
}

/// Runs the command the arguments name; returns what to print and the
/// exit code.
pub async fn run(args: &Args, prompter: &mut dyn Prompter) -> Result<Outcome, Error> {
    if let CommandArgs::Profiles { action } = &args.command {
        let dir = args.profiles_dir.as_deref();
        return match action {
            None => profiles::list(dir),
            Some(ProfilesAction::Show { name }) => profiles::show(name, dir),
        };
    }
    let profile = profile(args)?;
    if args.command == CommandArgs::Cost {
        return cost::estimate(&profile, args.prices.as_deref());
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

/// The profile the arguments name: `--config`, `--env` in
/// `--profiles-dir`, or the built-in `--env`.
pub fn profile(args: &Args) -> Result<Profile, Error> {
    match (&args.config, &args.profiles_dir) {
        (Some(path), _) => Profile::load(path),
        (None, Some(dir)) => Profile::for_env(dir, &args.env),
        (None, None) => builtin::profile(&args.env),
    }
}

/// Where the AWS calls go, for error messages.
pub fn target(args: &Args) -> Target {
    let env = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    Target {
        endpoint: args
            .endpoint_url
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL")),
        aws_profile: env("AWS_PROFILE"),
    }
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
