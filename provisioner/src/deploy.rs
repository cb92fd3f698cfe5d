//! `deploy --image URI`: a new task-definition revision with the image, the
//! service moved to it, and a wait until the game is reachable on it (see
//! `workload::rollout`).

use crate::engine::{Ctx, Refs};
use crate::wait::WaitPolicy;
use crate::workload::{ecs_cluster, ecs_service, rollout, task_definition};
use crate::Error;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub image: String,
    pub task_definition: String,
    pub service: String,
    pub url: String,
    pub seconds: f64,
}

/// Rolls `task` (built with the new image) out to the service. `refs` are
/// the ids of what the task references (from discovery).
pub async fn deploy(
    ctx: &Ctx,
    task: &task_definition::TaskDefinition,
    refs: &Refs,
    steady: &WaitPolicy,
    https: bool,
) -> Result<DeployReport, Error> {
    let start = Instant::now();
    let cluster = ecs_cluster::name(&ctx.naming);
    let service = ecs_service::name(&ctx.naming);
    if ecs_service::describe(ctx, &cluster, &service)
        .await?
        .is_none()
    {
        return Err(Error::unexpected(
            ecs_service::KIND,
            &service,
            "does not exist; run `up` first",
        ));
    }
    let revision = task.register(ctx, refs).await?;
    ctx.aws
        .ecs
        .update_service()
        .cluster(&cluster)
        .service(&service)
        .task_definition(&revision)
        .send()
        .await
        .map_err(|e| Error::aws("updating", ecs_service::KIND, &service, e))?;
    tracing::info!("{service} is rolling out {revision}");
    let reachable = rollout::wait_reachable(ctx, steady, https).await?;
    Ok(DeployReport {
        image: task.spec.image.reference(refs),
        task_definition: revision,
        service,
        url: reachable.url,
        seconds: start.elapsed().as_secs_f64(),
    })
}
