//! One run against one environment: the profile, the clients and the
//! desired stack, and what can be done with them (plan, apply, delete,
//! report), so that the CLI's commands, the tests and the benches share it.

use crate::aws::ecr;
use crate::aws::{AwsContext, AwsOptions};
use crate::calls::CallCounts;
use crate::engine::{self, Action, ApplyOptions, Ctx, Observed, Plan};
use crate::profile::Profile;
use crate::stack::Stack;
use crate::tags::Naming;
use crate::wait::WaitPolicy;
use crate::workload::ecr_repository::{self, PushHelp};
use crate::workload::ecs_service;
use crate::workload::rollout::{self, Reachable};
use crate::workload::task_definition::{self, Image};
use crate::Error;
use serde::Serialize;
use std::sync::Arc;

/// One run: the profile, the clients and the desired stack.
pub struct Session {
    pub ctx: Ctx,
    pub profile: Profile,
    pub stack: Stack,
}

#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub aws: AwsOptions,
    pub concurrency: usize,
    pub wait: WaitPolicy,
}

impl Session {
    pub async fn open(profile: Profile, options: SessionOptions) -> Result<Self, Error> {
        Self::open_with_image(profile, options, None).await
    }

    /// A session whose desired gameserver image is `image` (`--image`)
    /// instead of the profile's.
    pub async fn open_with_image(
        profile: Profile,
        options: SessionOptions,
        image: Option<&str>,
    ) -> Result<Self, Error> {
        let mut aws = options.aws.clone();
        aws.region.get_or_insert_with(|| profile.region.clone());
        let ctx = Ctx {
            aws: Arc::new(AwsContext::load(&aws).await),
            naming: Naming::new(&profile.project, &profile.environment),
            wait: options.wait,
            concurrency: options.concurrency.max(1),
        };
        let stack = Stack::build_with_image(&ctx, &profile, image).await?;
        Ok(Session {
            ctx,
            profile,
            stack,
        })
    }

    /// API calls made so far in this session.
    pub fn calls(&self) -> CallCounts {
        self.ctx.aws.calls.snapshot()
    }

    pub async fn plan(&self) -> Result<Plan, Error> {
        let inventory = engine::discover(&self.ctx, &self.stack.kinds).await?;
        engine::plan(&self.stack.resources, &inventory)
    }

    /// Converges the stack; returns the plan it applied.
    pub async fn up(&self) -> Result<Plan, Error> {
        let plan = self.plan().await?;
        self.apply(&plan).await?;
        Ok(plan)
    }

    /// Applies a plan made in this session.
    pub async fn apply(&self, plan: &Plan) -> Result<(), Error> {
        if plan.is_empty() {
            tracing::info!("nothing to change");
            return Ok(());
        }
        tracing::info!(
            "applying: {} to create, {} to update, {} to delete",
            plan.count(Action::Create),
            plan.count(Action::Update),
            plan.count(Action::Delete)
        );
        let options = ApplyOptions {
            concurrency: self.ctx.concurrency,
        };
        engine::apply(
            &self.ctx,
            &self.stack.kinds,
            &self.stack.resources,
            plan,
            options,
        )
        .await
    }

    /// Applies a plan, leaving out the task definition and the service
    /// (when their image is not there yet).
    pub async fn apply_without_service(&self, plan: &Plan) -> Result<(), Error> {
        let waits = [task_definition::KIND, ecs_service::KIND];
        let resources: Vec<_> = self
            .stack
            .resources
            .iter()
            .filter(|r| !waits.contains(&r.key().kind))
            .cloned()
            .collect();
        let mut rest = plan.clone();
        rest.changes.retain(|c| !waits.contains(&c.kind));
        if rest.is_empty() {
            tracing::info!("nothing to change");
            return Ok(());
        }
        let options = ApplyOptions {
            concurrency: self.ctx.concurrency,
        };
        engine::apply(&self.ctx, &self.stack.kinds, &resources, &rest, options).await
    }

    /// Whether the task runs the environment's repository image and no
    /// image was pushed there yet.
    pub async fn image_missing(&self) -> Result<bool, Error> {
        let Some(task) = &self.stack.task else {
            return Ok(false);
        };
        if !matches!(task.spec.image, Image::Repository(_)) {
            return Ok(false);
        }
        let repo = ecr_repository::name(&self.ctx.naming);
        Ok(!ecr::has_image(&self.ctx, &repo, ecr_repository::TAG).await?)
    }

    /// How to push the image to the environment's repository.
    pub async fn push_help(&self) -> Result<PushHelp, Error> {
        let repo = ecr_repository::name(&self.ctx.naming);
        let uri = ecr::find_repository(&self.ctx, &repo)
            .await?
            .and_then(|r| r.repository_uri().map(str::to_string))
            .ok_or_else(|| Error::unexpected(ecr_repository::KIND, &repo, "does not exist"))?;
        Ok(PushHelp::new(&uri, &self.ctx.aws.location().region))
    }

    /// Deletes everything the environment owns; returns how many resources
    /// it found to delete (zero on a repeat).
    pub async fn down(&self) -> Result<usize, Error> {
        let items = self.everything().await?;
        self.delete(&items).await?;
        Ok(items.len())
    }

    /// Everything `down` deletes.
    pub async fn everything(&self) -> Result<Vec<Observed>, Error> {
        let inventory = engine::discover(&self.ctx, &self.stack.kinds).await?;
        Ok(inventory.all().cloned().collect())
    }

    /// Deletes these resources, dependents first.
    pub async fn delete(&self, items: &[Observed]) -> Result<(), Error> {
        if items.is_empty() {
            tracing::info!("nothing to delete");
            return Ok(());
        }
        engine::delete_observed(&self.ctx, &self.stack.kinds, items).await
    }

    /// Waits until the game answers behind the load balancer.
    pub async fn wait_reachable(&self) -> Result<Reachable, Error> {
        let https = self
            .stack
            .workload
            .as_ref()
            .is_some_and(|w| w.alb.certificate_arn.is_some());
        rollout::wait_reachable(&self.ctx, &self.ctx.wait, https).await
    }

    pub async fn status(&self) -> Result<Status, Error> {
        let plan = self.plan().await?;
        let mut resources = Vec::new();
        for r in &self.stack.resources {
            let key = r.key();
            let observed = plan.matched.get(&key);
            let drifted = plan
                .changes
                .iter()
                .any(|c| c.action == Action::Update && c.kind == key.kind && c.name == key.name);
            let state = match observed {
                None => "missing",
                Some(o) if matches!(o.state, crate::engine::State::Failed(_)) => "failed",
                Some(o) if !o.is_ready() => "pending",
                Some(_) if drifted => "drifted",
                Some(_) => "ok",
            };
            resources.push(ResourceStatus {
                kind: key.kind,
                name: key.name.clone(),
                id: observed.map(|o| o.id.clone()),
                state,
            });
        }
        for o in &plan.unwanted {
            resources.push(ResourceStatus {
                kind: o.kind,
                name: o.display_name().to_string(),
                id: Some(o.id.clone()),
                state: "unwanted",
            });
        }
        let converged = plan.is_empty();
        Ok(Status {
            environment: self.profile.environment.clone(),
            region: self.ctx.aws.region().unwrap_or_default().to_string(),
            converged,
            resources,
        })
    }

    /// Rolls the session's task definition (its image) out to the service
    /// and waits until the service is steady.
    pub async fn deploy(&self) -> Result<crate::deploy::DeployReport, Error> {
        let task = self
            .stack
            .task
            .as_ref()
            .ok_or_else(|| Error::Plan("the profile describes no workload to deploy".into()))?;
        let plan = self.plan().await?;
        let https = self
            .stack
            .workload
            .as_ref()
            .is_some_and(|w| w.alb.certificate_arn.is_some());
        crate::deploy::deploy(&self.ctx, task, &plan.refs(), &self.ctx.wait, https).await
    }

    pub async fn outputs(&self) -> Result<serde_json::Value, Error> {
        let plan = self.plan().await?;
        let mut map = serde_json::Map::new();
        map.insert(
            "environment".into(),
            self.profile.environment.clone().into(),
        );
        map.insert(
            "region".into(),
            self.ctx.aws.region().unwrap_or_default().into(),
        );
        map.extend(self.stack.outputs(&self.ctx, &self.profile, &plan.matched));
        Ok(serde_json::Value::Object(map))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub environment: String,
    pub region: String,
    /// True when `plan` would change nothing.
    pub converged: bool,
    pub resources: Vec<ResourceStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceStatus {
    pub kind: &'static str,
    pub name: String,
    pub id: Option<String>,
    /// ok, missing, pending, drifted or unwanted.
    pub state: &'static str,
}
