//! The gameserver's target group: HTTP to the game port, health check on
//! /health, sticky sessions by load-balancer cookie for a day (a player keeps
//! its node across reconnects) and a deregistration delay sized to the drain.

use super::NetworkKeys;
use crate::aws::elbv2;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as AwsTargetGroup, TargetGroupAttribute, TargetTypeEnum,
};

pub const KIND: &str = "target-group";
pub const HEALTH_CHECK_PATH: &str = "/health";
const STICKINESS: [(&str, &str); 3] = [
    ("stickiness.enabled", "true"),
    ("stickiness.type", "lb_cookie"),
    ("stickiness.lb_cookie.duration_seconds", "86400"),
];
pub const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

pub fn name(naming: &Naming) -> String {
    naming.name("game")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

fn is_managed_attribute(k: &str) -> bool {
    k == DEREGISTRATION_DELAY || STICKINESS.iter().any(|(s, _)| *s == k)
}

pub struct TargetGroupKind;

#[async_trait]
impl Kind for TargetGroupKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::VPC_KIND]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws
                    .elbv2
                    .delete_target_group()
                    .target_group_arn(&o.id)
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The environment's target group, with its tags and attributes.
pub async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let tg_name = name(&ctx.naming);
    let Some(tg) = elbv2::find_target_group(ctx, &tg_name).await? else {
        return Ok(None);
    };
    observe(ctx, &tg_name, &tg).await.map(Some)
}

async fn observe(ctx: &Ctx, tg_name: &str, tg: &AwsTargetGroup) -> Result<Observed, Error> {
    let arn = tg.target_group_arn().unwrap_or_default().to_string();
    let (tags, tg_attrs) = futures::try_join!(
        elbv2::tags_of(ctx, KIND, tg_name, vec![arn.clone()]),
        elbv2::target_group_attributes(ctx, &arn, tg_name),
    )?;
    let tags = tags.get(&arn).cloned().unwrap_or_default();
    let mut attrs = tags.attrs();
    attrs.insert(
        "protocol".into(),
        tg.protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
    );
    attrs.insert(
        "port".into(),
        tg.port().map(|p| p.to_string()).unwrap_or_default(),
    );
    attrs.insert("vpc".into(), tg.vpc_id().unwrap_or_default().to_string());
    attrs.insert(
        "health_check_path".into(),
        tg.health_check_path().unwrap_or_default().to_string(),
    );
    for (k, v) in tg_attrs {
        if is_managed_attribute(&k) {
            attrs.insert(k, v);
        }
    }
    let mut details = Attrs::new();
    details.insert("load_balancers".into(), tg.load_balancer_arns().join(","));
    Ok(Observed {
        kind: KIND,
        id: arn,
        name: Some(tg.target_group_name().unwrap_or(tg_name).to_string()),
        attrs,
        details,
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    })
}

pub struct TargetGroup {
    pub naming: Naming,
    pub network: NetworkKeys,
    pub port: u16,
    pub deregistration_delay_seconds: i32,
}

#[async_trait]
impl Resource for TargetGroup {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![self.network.vpc.clone()]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming));
        a.insert("protocol".into(), "HTTP".into());
        a.insert("port".into(), self.port.to_string());
        a.insert("vpc".into(), refs.id(&self.network.vpc));
        a.insert("health_check_path".into(), HEALTH_CHECK_PATH.into());
        for (k, v) in STICKINESS {
            a.insert(k.into(), v.into());
        }
        a.insert(
            DEREGISTRATION_DELAY.into(),
            self.deregistration_delay_seconds.to_string(),
        );
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let tg_name = name(&self.naming);
        let out = ctx
            .aws
            .elbv2
            .create_target_group()
            .name(&tg_name)
            .protocol(ProtocolEnum::Http)
            .port(i32::from(self.port))
            .vpc_id(refs.require(&self.network.vpc)?)
            .target_type(TargetTypeEnum::Instance)
            .health_check_path(HEALTH_CHECK_PATH)
            .health_check_interval_seconds(10)
            .healthy_threshold_count(2)
            .unhealthy_threshold_count(3)
            .matcher(Matcher::builder().http_code("200").build())
            .set_tags(Some(elbv2::aws_tags(&self.naming, &tg_name)))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &tg_name, e))?;
        out.target_groups()
            .first()
            .and_then(|tg| tg.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::unexpected(KIND, &tg_name, "CreateTargetGroup returned no target group")
            })
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        find(ctx).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let tg_name = name(&self.naming);
        let elb = &ctx.aws.elbv2;
        let mut attributes = Vec::new();
        for c in tags::non_tag(changes) {
            match c.attr.as_str() {
                "health_check_path" => {
                    elb.modify_target_group()
                        .target_group_arn(&current.id)
                        .health_check_path(HEALTH_CHECK_PATH)
                        .send()
                        .await
                        .map_err(|e| Error::aws("modify health check of", KIND, &tg_name, e))?;
                }
                attr if is_managed_attribute(attr) => {
                    let value = c.new.clone().unwrap_or_default();
                    attributes.push(TargetGroupAttribute::builder().key(attr).value(value).build());
                }
                other => {
                    return Err(Error::unexpected(
                        KIND,
                        &tg_name,
                        format!("{other} cannot be changed in place; delete the target group to recreate it"),
                    ))
                }
            }
        }
        if !attributes.is_empty() {
            elb.modify_target_group_attributes()
                .target_group_arn(&current.id)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| Error::aws("modify attributes of", KIND, &tg_name, e))?;
        }
        elbv2::update_tags(ctx, KIND, &tg_name, &current.id, changes).await
    }
}
