//! The gameserver's target group: HTTP to the game port, with the health
//! check, the load-balancer cookie (a player keeps its node across
//! reconnects) and the deregistration delay of `fixtures/load-balancer.toml`
//! (see `crate::load_balancing`).

use super::NetworkKeys;
use crate::aws::elbv2;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::load_balancing::LoadBalancing;
use crate::retry;
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroup as AwsTargetGroup, TargetGroupAttribute, TargetTypeEnum,
};

pub const KIND: &str = "target-group";
pub const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
const COOKIE_SECONDS: &str = "stickiness.lb_cookie.duration_seconds";
/// Target-group attributes this tool manages (ModifyTargetGroupAttributes).
const ATTRIBUTES: [&str; 4] = [
    "stickiness.enabled",
    "stickiness.type",
    COOKIE_SECONDS,
    DEREGISTRATION_DELAY,
];
/// Health-check settings (ModifyTargetGroup), each an attribute.
const HEALTH_CHECK: [&str; 5] = [
    "health_check_path",
    "health_check_interval",
    "health_check_timeout",
    "healthy_threshold",
    "unhealthy_threshold",
];

pub fn name(naming: &Naming) -> String {
    naming.name("game")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

fn is_managed_attribute(k: &str) -> bool {
    ATTRIBUTES.contains(&k)
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
    let health = [
        tg.health_check_path().unwrap_or_default().to_string(),
        tg.health_check_interval_seconds().unwrap_or(0).to_string(),
        tg.health_check_timeout_seconds().unwrap_or(0).to_string(),
        tg.healthy_threshold_count().unwrap_or(0).to_string(),
        tg.unhealthy_threshold_count().unwrap_or(0).to_string(),
    ];
    for (k, v) in HEALTH_CHECK.into_iter().zip(health) {
        attrs.insert(k.into(), v);
    }
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
    pub balancing: LoadBalancing,
}

impl TargetGroup {
    fn health_check(&self) -> [(&'static str, String); 5] {
        let b = &self.balancing;
        [
            (HEALTH_CHECK[0], b.health_check_path.clone()),
            (HEALTH_CHECK[1], b.health_check_interval_seconds.to_string()),
            (HEALTH_CHECK[2], b.health_check_timeout_seconds.to_string()),
            (HEALTH_CHECK[3], b.healthy_threshold.to_string()),
            (HEALTH_CHECK[4], b.unhealthy_threshold.to_string()),
        ]
    }

    fn attributes(&self) -> [(&'static str, String); 4] {
        let b = &self.balancing;
        [
            (ATTRIBUTES[0], "true".into()),
            (ATTRIBUTES[1], "lb_cookie".into()),
            (COOKIE_SECONDS, b.stickiness_cookie_seconds.to_string()),
            (
                DEREGISTRATION_DELAY,
                b.deregistration_delay_seconds.to_string(),
            ),
        ]
    }

    async fn set_health_check(&self, ctx: &Ctx, arn: &str, name: &str) -> Result<(), Error> {
        let b = &self.balancing;
        ctx.aws
            .elbv2
            .modify_target_group()
            .target_group_arn(arn)
            .health_check_path(&b.health_check_path)
            .health_check_interval_seconds(b.health_check_interval_seconds)
            .health_check_timeout_seconds(b.health_check_timeout_seconds)
            .healthy_threshold_count(b.healthy_threshold)
            .unhealthy_threshold_count(b.unhealthy_threshold)
            .send()
            .await
            .map_err(|e| Error::aws("setting the health check of", KIND, name, e))?;
        Ok(())
    }
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
        for (k, v) in self.health_check().into_iter().chain(self.attributes()) {
            a.insert(k.into(), v);
        }
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let tg_name = name(&self.naming);
        let b = &self.balancing;
        let out = ctx
            .aws
            .elbv2
            .create_target_group()
            .name(&tg_name)
            .protocol(ProtocolEnum::Http)
            .port(i32::from(self.port))
            .vpc_id(refs.require(&self.network.vpc)?)
            .target_type(TargetTypeEnum::Instance)
            .health_check_path(&b.health_check_path)
            .health_check_interval_seconds(b.health_check_interval_seconds)
            .health_check_timeout_seconds(b.health_check_timeout_seconds)
            .healthy_threshold_count(b.healthy_threshold)
            .unhealthy_threshold_count(b.unhealthy_threshold)
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
        if let Some(c) = tags::non_tag(changes)
            .find(|c| !HEALTH_CHECK.contains(&c.attr.as_str()) && !is_managed_attribute(&c.attr))
        {
            return Err(Error::unexpected(
                KIND,
                &tg_name,
                format!("{c} cannot be changed in place; delete the target group to recreate it"),
            ));
        }
        if changes
            .iter()
            .any(|c| HEALTH_CHECK.contains(&c.attr.as_str()))
        {
            self.set_health_check(ctx, &current.id, &tg_name).await?;
        }
        let attributes: Vec<TargetGroupAttribute> = changes
            .iter()
            .filter(|c| is_managed_attribute(&c.attr))
            .map(|c| {
                TargetGroupAttribute::builder()
                    .key(&c.attr)
                    .value(c.new.clone().unwrap_or_default())
                    .build()
            })
            .collect();
        if !attributes.is_empty() {
            ctx.aws
                .elbv2
                .modify_target_group_attributes()
                .target_group_arn(&current.id)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| Error::aws("modifying the attributes of", KIND, &tg_name, e))?;
        }
        elbv2::update_tags(ctx, KIND, &tg_name, &current.id, changes).await
    }
}
