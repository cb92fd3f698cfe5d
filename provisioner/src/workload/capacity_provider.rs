//! The capacity provider over the Auto Scaling Group: managed scaling (ECS
//! sizes the group to the tasks) and managed termination protection (only
//! hosts without tasks are scaled in).

use super::{auto_scaling_group, ecs_cluster, tagging};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::aws_code;
use crate::tags::Naming;
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProvider as AwsProvider,
    CapacityProviderField, ManagedScaling, ManagedScalingStatus, ManagedTerminationProtection, Tag,
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
    let pairs: Vec<(&str, &str)> = p
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    let mut attrs = tagging::observed(pairs.iter().copied());
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
        ready: true,
        owned: tagging::owns(&ctx.naming, &pairs),
    }
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
        let cp = name(&ctx.naming);
        let out = ctx
            .aws
            .ecs
            .describe_capacity_providers()
            .capacity_providers(&cp)
            .include(CapacityProviderField::Tags)
            .send()
            .await
            .map_err(|e| Error::aws("describe", KIND, &cp, e))?;
        Ok(out
            .capacity_providers()
            .iter()
            .filter(|p| p.status().map(|s| s.as_str()) == Some("ACTIVE"))
            .map(|p| observe(p, ctx))
            .collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        let ecs = &ctx.aws.ecs;
        for o in items {
            match ecs
                .delete_capacity_provider()
                .capacity_provider(&o.id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if aws_code(&e) == Some("ClientException") && is_gone(&e) => continue,
                Err(e) => return Err(Error::aws("delete", KIND, o.display_name(), e)),
            }
            wait::until(&ctx.wait, KIND, o.display_name(), "deleted", || async {
                let out = ecs
                    .describe_capacity_providers()
                    .capacity_providers(&o.id)
                    .send()
                    .await
                    .map_err(|e| Error::aws("describe", KIND, o.display_name(), e))?;
                Ok(match out.capacity_providers().first() {
                    Some(p) if p.status().map(|s| s.as_str()) == Some("ACTIVE") => Poll::Pending(
                        p.update_status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_else(|| "ACTIVE".into()),
                    ),
                    _ => Poll::Done,
                })
            })
            .await?;
        }
        Ok(())
    }
}

fn is_gone<E: aws_sdk_ecs::error::ProvideErrorMetadata, R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool {
    use aws_sdk_ecs::error::ProvideErrorMetadata as _;
    e.message()
        .is_some_and(|m| m.contains("not found") || m.contains("does not exist"))
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
        let mut a = tagging::desired(&self.naming, &name(&self.naming));
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

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let cp = name(&self.naming);
        let asg_arn = refs.require(&auto_scaling_group::key(&self.naming))?;
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(asg_arn)
            .managed_scaling(managed_scaling())
            .managed_termination_protection(ManagedTerminationProtection::Enabled)
            .build()
            .map_err(|e| Error::unexpected(KIND, &cp, e.to_string()))?;
        let out = ctx
            .aws
            .ecs
            .create_capacity_provider()
            .name(&cp)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(ecs_cluster::ecs_tags(&self.naming, &cp)))
            .send()
            .await
            .map_err(|e| Error::aws("create", KIND, &cp, e))?;
        let p = out.capacity_provider().ok_or_else(|| {
            Error::unexpected(KIND, &cp, "CreateCapacityProvider returned nothing")
        })?;
        let mut o = observe(p, ctx);
        o.attrs.extend(tagging::desired(&self.naming, &cp));
        o.owned = true;
        Ok(o)
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let cp = name(&self.naming);
        for c in tagging::non_tag(changes) {
            if c.attr == "auto_scaling_group" {
                return Err(Error::unexpected(
                    KIND,
                    &cp,
                    "its Auto Scaling Group cannot change; run `down` and `up` to recreate it",
                ));
            }
        }
        if tagging::non_tag(changes).next().is_some() {
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
        let tags = tagging::to_set(changes);
        if !tags.is_empty() {
            ctx.aws
                .ecs
                .tag_resource()
                .resource_arn(current.details.get("arn").cloned().unwrap_or_default())
                .set_tags(Some(
                    tags.into_iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| Error::aws("tag", KIND, &cp, e))?;
        }
        Ok(())
    }
}
