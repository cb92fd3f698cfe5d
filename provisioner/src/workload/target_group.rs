//! The gameserver's target group: HTTP to the game port, health check on
//! /health, sticky sessions by load-balancer cookie for a day (a player keeps
//! its node across reconnects) and a deregistration delay sized to the drain.

use super::{tagging, NetworkKeys};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, Tag, TargetGroupAttribute, TargetTypeEnum,
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

/// Tags of one ELBv2 resource as (key, value) pairs.
pub async fn describe_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    arn: &str,
) -> Result<Vec<(String, String)>, Error> {
    let out = ctx
        .aws
        .elbv2
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(|e| Error::aws("describe tags of", kind, name, e))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// Sets tags on one ELBv2 resource (nothing to do for an empty list).
pub async fn add_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    arn: &str,
    tags: Vec<(String, String)>,
) -> Result<(), Error> {
    if tags.is_empty() {
        return Ok(());
    }
    let tags = tags
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    ctx.aws
        .elbv2
        .add_tags()
        .resource_arns(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| Error::aws("tag", kind, name, e))?;
    Ok(())
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
        let tg_name = name(&ctx.naming);
        let elb = &ctx.aws.elbv2;
        let out = match elb.describe_target_groups().names(&tg_name).send().await {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(Error::aws("describe", KIND, &tg_name, e)),
        };
        let mut found = Vec::new();
        for tg in out.target_groups() {
            let arn = tg.target_group_arn().unwrap_or_default().to_string();
            let tags = describe_tags(ctx, KIND, &tg_name, &arn).await?;
            let pairs: Vec<(&str, &str)> =
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut attrs = tagging::observed(pairs.iter().copied());
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
            let tg_attrs = elb
                .describe_target_group_attributes()
                .target_group_arn(&arn)
                .send()
                .await
                .map_err(|e| Error::aws("describe attributes of", KIND, &tg_name, e))?;
            for a in tg_attrs.attributes() {
                let k = a.key().unwrap_or_default();
                if is_managed_attribute(k) {
                    attrs.insert(k.to_string(), a.value().unwrap_or_default().to_string());
                }
            }
            let mut details = Attrs::new();
            let lbs: Vec<&str> = tg.load_balancer_arns().iter().map(String::as_str).collect();
            details.insert("load_balancers".into(), lbs.join(","));
            found.push(Observed {
                kind: KIND,
                id: arn,
                name: Some(tg.target_group_name().unwrap_or(&tg_name).to_string()),
                attrs,
                details,
                ready: true,
                owned: tagging::owns(&ctx.naming, &pairs),
            });
        }
        Ok(found)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            match ctx
                .aws
                .elbv2
                .delete_target_group()
                .target_group_arn(&o.id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::aws("delete", KIND, o.display_name(), e)),
            }
        }
        Ok(())
    }
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
        let mut a = tagging::desired(&self.naming, &name(&self.naming));
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

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let tg_name = name(&self.naming);
        let mut req = ctx
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
            .matcher(Matcher::builder().http_code("200").build());
        for (k, v) in self.naming.tags(&tg_name) {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| Error::aws("create", KIND, &tg_name, e))?;
        let tg = out.target_groups().first().ok_or_else(|| {
            Error::unexpected(KIND, &tg_name, "CreateTargetGroup returned no target group")
        })?;
        let mut attrs = self.desired(refs);
        attrs.retain(|k, _| !is_managed_attribute(k));
        Ok(Observed {
            kind: KIND,
            id: tg.target_group_arn().unwrap_or_default().to_string(),
            name: Some(tg_name),
            attrs,
            details: Attrs::new(),
            ready: true,
            owned: true,
        })
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
        for c in tagging::non_tag(changes) {
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
        add_tags(ctx, KIND, &tg_name, &current.id, tagging::to_set(changes)).await
    }
}
