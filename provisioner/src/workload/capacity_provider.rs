//! The capacity provider over the Auto Scaling Group: managed scaling (ECS
//! sizes the group to the tasks) and managed termination protection (only
//! hosts without tasks are scaled in).

use super::{auto_scaling_group, ecs_cluster};
use crate::aws::ecs;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry::{self, Presence};
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProvider as AwsProvider,
    CapacityProviderStatus, CapacityProviderUpdateStatus, ManagedScaling, ManagedScalingStatus,
    ManagedTerminationProtection,
};

pub const KIND: &str = "ecs-capacity-provider";
const TARGET_CAPACITY: i32 = 100;

pub fn name(naming: &Naming) -> String {
    naming.name("hosts")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

fn observe(p: &AwsProvider, ctx: &Ctx) -> Observed {
    let tags = ecs::tags(p.tags());
    let mut attrs = tags.attrs();
    let asg = p.auto_scaling_group_provider();
    attrs.insert(
        "auto_scaling_group".into(),
        asg.map(|a| a.auto_scaling_group_arn())
            .unwrap_or_default()
            .to_string(),
    );
    let scaling = asg.and_then(|a| a.managed_scaling());
    attrs.insert(
        "managed_scaling".into(),
        format!(
            "{} target={}",
            scaling
                .and_then(|s| s.status())
                .map(|s| s.as_str())
                .unwrap_or("DISABLED"),
            scaling.and_then(|s| s.target_capacity()).unwrap_or(0)
        ),
    );
    attrs.insert(
        "termination_protection".into(),
        asg.and_then(|a| a.managed_termination_protection())
            .map(|t| t.as_str())
            .unwrap_or("DISABLED")
            .to_string(),
    );
    Observed {
        kind: KIND,
        id: p.name().unwrap_or_default().to_string(),
        name: p.name().map(String::from),
        attrs,
        details: Attrs::from([(
            "arn".to_string(),
            p.capacity_provider_arn().unwrap_or_default().to_string(),
        )]),
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }
}

/// The provider, unless it is deleted (INACTIVE).
async fn find(ctx: &Ctx, cp: &str) -> Result<Option<AwsProvider>, Error> {
    Ok(ecs::find_capacity_provider(ctx, cp)
        .await?
        .filter(|p| p.status() == Some(&CapacityProviderStatus::Active)))
}

pub struct CapacityProviderKind;

#[async_trait]
impl Kind for CapacityProviderKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[auto_scaling_group::KIND, ecs_cluster::KIND]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let p = find(ctx, &name(&ctx.naming)).await?;
        Ok(p.iter().map(|p| observe(p, ctx)).collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            delete_one(ctx, &o.id).await?;
        }
        Ok(())
    }
}

/// Deletes and waits until ECS has let it go. A delete that ended
/// `DELETE_FAILED` (ECS API reference, CapacityProvider: updateStatus, with
/// the reason in updateStatusReason) is sent again rather than waited on.
async fn delete_one(ctx: &Ctx, cp: &str) -> Result<(), Error> {
    let delete = || async {
        ctx.aws
            .ecs
            .delete_capacity_provider()
            .capacity_provider(cp)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("deleting", KIND, cp, e))
    };
    let probe = || async {
        let Some(p) = find(ctx, cp).await? else {
            return Ok(Presence::Gone);
        };
        Ok(match p.update_status() {
            Some(CapacityProviderUpdateStatus::DeleteInProgress) => {
                Presence::Going("DELETE_IN_PROGRESS".into())
            }
            Some(CapacityProviderUpdateStatus::DeleteFailed) => {
                let why = p.update_status_reason().unwrap_or("no reason given");
                tracing::warn!("deleting {KIND} {cp} failed ({why}); deleting it again");
                Presence::Present(format!("DELETE_FAILED: {why}"))
            }
            _ => Presence::Present("ACTIVE".into()),
        })
    };
    retry::delete_until_gone(ctx, KIND, cp, delete, probe).await
}

pub struct CapacityProvider {
    pub naming: Naming,
}

fn managed_scaling() -> ManagedScaling {
    ManagedScaling::builder()
        .status(ManagedScalingStatus::Enabled)
        .target_capacity(TARGET_CAPACITY)
        .build()
}

#[async_trait]
impl Resource for CapacityProvider {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![auto_scaling_group::key(&self.naming)]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming));
        a.insert(
            "auto_scaling_group".into(),
            refs.id(&auto_scaling_group::key(&self.naming)),
        );
        a.insert(
            "managed_scaling".into(),
            format!("ENABLED target={TARGET_CAPACITY}"),
        );
        a.insert("termination_protection".into(), "ENABLED".into());
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let cp = name(&self.naming);
        let asg_arn = refs.require(&auto_scaling_group::key(&self.naming))?;
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(asg_arn)
            .managed_scaling(managed_scaling())
            .managed_termination_protection(ManagedTerminationProtection::Enabled)
            .build()
            .map_err(|e| Error::unexpected(KIND, &cp, e.to_string()))?;
        ctx.aws
            .ecs
            .create_capacity_provider()
            .name(&cp)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(ecs::aws_tags(&self.naming, &cp)))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &cp, e))?;
        Ok(cp)
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        let p = find(ctx, &name(&self.naming)).await?;
        Ok(p.map(|p| observe(&p, ctx)))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let cp = name(&self.naming);
        for c in tags::non_tag(changes) {
            if c.attr == "auto_scaling_group" {
                return Err(Error::unexpected(
                    KIND,
                    &cp,
                    "its Auto Scaling Group cannot change; run `down` and `up` to recreate it",
                ));
            }
        }
        if tags::non_tag(changes).next().is_some() {
            ctx.aws
                .ecs
                .update_capacity_provider()
                .name(&cp)
                .auto_scaling_group_provider(
                    AutoScalingGroupProviderUpdate::builder()
                        .managed_scaling(managed_scaling())
                        .managed_termination_protection(ManagedTerminationProtection::Enabled)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| Error::aws("update", KIND, &cp, e))?;
        }
        let arn = current.details.get("arn").cloned().unwrap_or_default();
        ecs::update_tags(ctx, KIND, &cp, &arn, changes).await
    }
}
