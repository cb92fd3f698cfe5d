//! The commands that change the environment: `up`, `down`, `deploy` (under
//! the environment's lock) and `chaos`.

use super::prompt::{confirm, Prompter};
use super::reports::PlanReport;
use super::{ChaosAction, Command, Outcome};
use crate::calls::CallCounts;
use crate::chaos::{self, ChaosReport};
use crate::deploy::DeployReport;
use crate::engine::{Observed, Plan};
use crate::session::Session;
use crate::workload::ecr_repository::PushHelp;
use crate::workload::rollout::Reachable;
use crate::Error;
use async_trait::async_trait;
use serde::Serialize;
use std::fmt;

/// `up`: converge, then wait until the game answers.
pub struct Up {
    yes: bool,
    wait: bool,
    plan: Option<Plan>,
}

impl Up {
    pub fn new(yes: bool, wait: bool) -> Up {
        Up {
            yes,
            wait,
            plan: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UpReport {
    pub plan: PlanReport,
    /// Where the game answers, once it does (`null` with --no-wait).
    pub game: Option<Reachable>,
    /// When the environment's repository has no image yet: the task
    /// definition and the service wait for it, and this says how to push it.
    pub image_missing: Option<PushHelp>,
    pub calls: CallCounts,
}

impl fmt::Display for UpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.plan)?;
        if let Some(game) = &self.game {
            write!(
                f,
                "\nThe game answers at {} ({} tasks, {} healthy targets).",
                game.url, game.tasks, game.healthy_targets
            )?;
        }
        if let Some(help) = &self.image_missing {
            write!(
                f,
                "\nNo image at {} yet: everything else is up; the task definition and the service wait for it. Push it with\n  {}\nand run `provisioner up` again.",
                help.image,
                help.commands.join("\n  ")
            )?;
        }
        Ok(())
    }
}

#[async_trait]
impl Command for Up {
    fn name(&self) -> &'static str {
        "up"
    }

    fn changes(&self) -> bool {
        true
    }

    async fn ask(&mut self, session: &Session, prompter: &mut dyn Prompter) -> Result<(), Error> {
        let plan = session.plan().await?;
        if !plan.is_empty() && !self.yes {
            let question = format!(
                "{plan}\nApply these changes to environment {}? Type yes to go on: ",
                session.profile.environment
            );
            confirm(prompter, "up", &question, "yes")?;
        }
        self.plan = Some(plan);
        Ok(())
    }

    async fn execute(&mut self, session: &Session) -> Result<Outcome, Error> {
        let plan = self
            .plan
            .take()
            .ok_or_else(|| Error::Plan("up ran without a plan".into()))?;
        let image_missing = if session.image_missing().await? {
            session.apply_without_service(&plan).await?;
            Some(session.push_help().await?)
        } else {
            session.apply(&plan).await?;
            None
        };
        let game = if self.wait && image_missing.is_none() && session.stack.task.is_some() {
            Some(session.wait_reachable().await?)
        } else {
            None
        };
        let report = UpReport {
            plan: PlanReport::new(session, &plan),
            game,
            image_missing,
            calls: session.calls(),
        };
        Outcome::of(&report, 0)
    }
}

/// `down`: delete everything the environment owns, after the person typed
/// its name (or with --yes).
pub struct Down {
    yes: bool,
    items: Vec<Observed>,
}

impl Down {
    pub fn new(yes: bool) -> Down {
        Down {
            yes,
            items: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DownReport {
    pub deleted: usize,
}

impl fmt::Display for DownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deleted {} resources.", self.deleted)
    }
}

#[async_trait]
impl Command for Down {
    fn name(&self) -> &'static str {
        "down"
    }

    fn changes(&self) -> bool {
        true
    }

    async fn ask(&mut self, session: &Session, prompter: &mut dyn Prompter) -> Result<(), Error> {
        self.items = session.everything().await?;
        let env = &session.profile.environment;
        if !self.items.is_empty() && !self.yes {
            let question = format!(
                "Delete every resource of environment {env} ({} found)? Type the environment name to confirm: ",
                self.items.len()
            );
            confirm(prompter, "down", &question, env)?;
        }
        Ok(())
    }

    async fn execute(&mut self, session: &Session) -> Result<Outcome, Error> {
        session.delete(&self.items).await?;
        Outcome::of(
            &DownReport {
                deleted: self.items.len(),
            },
            0,
        )
    }
}

/// `deploy --image URI`.
pub struct Deploy {
    has_image: bool,
}

impl Deploy {
    pub fn new(has_image: bool) -> Deploy {
        Deploy { has_image }
    }
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deployed {} as {} to {} in {:.0}s; the game answers at {}",
            self.image, self.task_definition, self.service, self.seconds, self.url
        )
    }
}

#[async_trait]
impl Command for Deploy {
    fn name(&self) -> &'static str {
        "deploy"
    }

    fn validate(&self) -> Result<(), Error> {
        if self.has_image {
            Ok(())
        } else {
            Err(Error::Usage(
                "deploy needs the image to roll out: --image URI".into(),
            ))
        }
    }

    fn changes(&self) -> bool {
        true
    }

    async fn execute(&mut self, session: &Session) -> Result<Outcome, Error> {
        Outcome::of(&session.deploy().await?, 0)
    }
}

/// `chaos ACTION`: a failure injected on purpose; not under the lock, so
/// it can hit a rollout in progress.
pub struct Chaos(pub ChaosAction);

#[async_trait]
impl Command for Chaos {
    fn name(&self) -> &'static str {
        "chaos"
    }

    async fn execute(&mut self, session: &Session) -> Result<Outcome, Error> {
        let ctx = &session.ctx;
        let report: ChaosReport = match &self.0 {
            ChaosAction::StopTask => chaos::stop_task(ctx).await?,
            ChaosAction::TerminateInstance => chaos::terminate_instance(ctx).await?,
            ChaosAction::AzOutage { az } => chaos::az_outage(ctx, az).await?,
            ChaosAction::RedisFailover => chaos::redis_failover(ctx).await?,
        };
        Outcome::of(&report, 0)
    }
}
