//! The commands that only read: `plan`, `status`, `outputs`.

use super::{Command, Outcome};
use crate::engine::{Action, Plan as EnginePlan, PlannedChange};
use crate::session::{Session, Status as SessionStatus};
use crate::Error;
use async_trait::async_trait;
use serde::Serialize;
use std::fmt;

/// `plan`: exit 0 when nothing would change, 2 when something would.
pub struct Plan;

/// The plan as `plan --json` prints it: a machine-readable diff.
#[derive(Debug, Serialize)]
pub struct PlanReport {
    pub environment: String,
    pub region: String,
    pub summary: Summary,
    /// In the order `up` applies them; each update lists its attributes
    /// as `{attr, old, new}` (`null` = absent).
    pub changes: Vec<PlannedChange>,
    #[serde(skip)]
    text: String,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

impl PlanReport {
    pub fn new(session: &Session, plan: &EnginePlan) -> PlanReport {
        PlanReport {
            environment: session.profile.environment.clone(),
            region: session.ctx.aws.region().unwrap_or_default().to_string(),
            summary: Summary {
                create: plan.count(Action::Create),
                update: plan.count(Action::Update),
                delete: plan.count(Action::Delete),
            },
            changes: plan.changes.clone(),
            text: plan.to_string(),
        }
    }
}

impl fmt::Display for PlanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[async_trait]
impl Command for Plan {
    fn name(&self) -> &'static str {
        "plan"
    }

    async fn execute(&mut self, session: &Session) -> Result<Outcome, Error> {
        let plan = session.plan().await?;
        let code = if plan.is_empty() { 0 } else { 2 };
        Outcome::of(&PlanReport::new(session, &plan), code)
    }
}

/// `status`: what exists and whether it matches the profile.
pub struct Status;

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "environment {} in {}: {}",
            self.environment,
            self.region,
            if self.converged {
                "converged"
            } else {
                "not converged"
            }
        )?;
        for r in &self.resources {
            write!(
                f,
                "\n{:<9} {:<21} {:<36} {}",
                r.state,
                r.kind,
                r.name,
                r.id.as_deref().unwrap_or("-")
            )?;
        }
        Ok(())
    }
}

#[async_trait]
impl Command for Status {
    fn name(&self) -> &'static str {
        "status"
    }

    async fn execute(&mut self, session: &Session) -> Result<Outcome, Error> {
        Outcome::of(&session.status().await?, 0)
    }
}

/// `outputs`: ids and endpoints a person or another tool needs.
pub struct Outputs;

struct Map(serde_json::Value);

impl Serialize for Map {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl fmt::Display for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self
            .0
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        f.write_str(&lines.join("\n"))
    }
}

#[async_trait]
impl Command for Outputs {
    fn name(&self) -> &'static str {
        "outputs"
    }

    async fn execute(&mut self, session: &Session) -> Result<Outcome, Error> {
        Outcome::of(&Map(session.outputs().await?), 0)
    }
}
