//! The internet-facing Application Load Balancer in the public subnets:
//! the idle timeout of `fixtures/load-balancer.toml` (long-lived WebSockets),
//! cross-zone load balancing.

use super::NetworkKeys;
use crate::aws::elbv2;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry::{self, Presence};
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as AwsLoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerStateEnum, LoadBalancerTypeEnum,
};

pub const KIND: &str = "load-balancer";
pub const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
pub const CROSS_ZONE: &str = "load_balancing.cross_zone.enabled";
/// Load-balancer attributes this tool manages.
const MANAGED_ATTRIBUTES: [&str; 2] = [IDLE_TIMEOUT, CROSS_ZONE];

pub fn name(naming: &Naming) -> String {
    naming.name("alb")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

pub struct LoadBalancerKind;

#[async_trait]
impl Kind for LoadBalancerKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::SUBNET_KIND, super::SECURITY_GROUP_KIND]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    /// Deletes and waits until AWS no longer knows it (its network
    /// interfaces go with it, which the subnets and security groups need).
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            let name = o.display_name();
            let delete = || async {
                ctx.aws
                    .elbv2
                    .delete_load_balancer()
                    .load_balancer_arn(&o.id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::aws("deleting", KIND, name, e))
            };
            let probe = || async {
                Ok(match elbv2::find_load_balancer(ctx, name).await? {
                    None => Presence::Gone,
                    Some(_) => Presence::Present("exists".into()),
                })
            };
            retry::delete_until_gone(ctx, KIND, name, delete, probe).await?;
        }
        Ok(())
    }
}

/// The environment's load balancer, with its tags and attributes.
async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let lb_name = name(&ctx.naming);
    let Some(lb) = elbv2::find_load_balancer(ctx, &lb_name).await? else {
        return Ok(None);
    };
    observe(ctx, &lb_name, &lb).await.map(Some)
}

async fn observe(ctx: &Ctx, lb_name: &str, lb: &AwsLoadBalancer) -> Result<Observed, Error> {
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let (tags, lb_attrs) = futures::try_join!(
        elbv2::tags_of(ctx, KIND, lb_name, vec![arn.clone()]),
        elbv2::load_balancer_attributes(ctx, &arn, lb_name),
    )?;
    let tags = tags.get(&arn).cloned().unwrap_or_default();
    let mut attrs = tags.attrs();
    attrs.insert(
        "scheme".into(),
        lb.scheme()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    );
    let mut subnets: Vec<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id())
        .collect();
    subnets.sort_unstable();
    attrs.insert("subnets".into(), subnets.join(","));
    let mut groups: Vec<&str> = lb.security_groups().iter().map(String::as_str).collect();
    groups.sort_unstable();
    attrs.insert("security_groups".into(), groups.join(","));
    for (k, v) in lb_attrs {
        if MANAGED_ATTRIBUTES.contains(&k.as_str()) {
            attrs.insert(k, v);
        }
    }
    let mut details = Attrs::new();
    details.insert(
        "dns_name".into(),
        lb.dns_name().unwrap_or_default().to_string(),
    );
    let state = match lb.state().and_then(|s| s.code()) {
        Some(LoadBalancerStateEnum::Active) => State::Ready,
        Some(LoadBalancerStateEnum::Failed) => State::Failed(
            lb.state()
                .and_then(|s| s.reason())
                .unwrap_or("AWS reports the load balancer as failed")
                .to_string(),
        ),
        other => State::Pending(other.map(|s| s.as_str()).unwrap_or("unknown").to_string()),
    };
    Ok(Observed {
        kind: KIND,
        id: arn,
        name: Some(lb.load_balancer_name().unwrap_or(lb_name).to_string()),
        attrs,
        details,
        state,
        owned: tags.owned_by(&ctx.naming),
    })
}

pub struct LoadBalancer {
    pub naming: Naming,
    pub network: NetworkKeys,
    pub idle_timeout_seconds: i32,
}

impl LoadBalancer {
    fn name(&self) -> String {
        name(&self.naming)
    }
}

fn sorted_ids(refs: &Refs, keys: &[Key]) -> String {
    let mut ids: Vec<String> = keys.iter().map(|k| refs.id(k)).collect();
    ids.sort();
    ids.join(",")
}

#[async_trait]
impl Resource for LoadBalancer {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        let mut deps = self.network.public_subnets.clone();
        deps.push(self.network.alb_security_group.clone());
        deps
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&self.name());
        a.insert("scheme".into(), "internet-facing".into());
        a.insert(
            "subnets".into(),
            sorted_ids(refs, &self.network.public_subnets),
        );
        a.insert(
            "security_groups".into(),
            refs.id(&self.network.alb_security_group),
        );
        a.insert(IDLE_TIMEOUT.into(), self.idle_timeout_seconds.to_string());
        a.insert(CROSS_ZONE.into(), "true".into());
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let name = self.name();
        let mut req = ctx
            .aws
            .elbv2
            .create_load_balancer()
            .name(&name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .ip_address_type(IpAddressType::Ipv4)
            .security_groups(refs.require(&self.network.alb_security_group)?)
            .set_tags(Some(elbv2::aws_tags(&self.naming, &name)));
        for s in &self.network.public_subnets {
            req = req.subnets(refs.require(s)?);
        }
        let out = req
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &name, e))?;
        out.load_balancers()
            .first()
            .and_then(|lb| lb.load_balancer_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::unexpected(KIND, &name, "CreateLoadBalancer returned no load balancer")
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
        refs: &Refs,
    ) -> Result<(), Error> {
        let name = self.name();
        let elb = &ctx.aws.elbv2;
        let mut attributes = Vec::new();
        for c in tags::non_tag(changes) {
            match c.attr.as_str() {
                "subnets" => {
                    let mut req = elb.set_subnets().load_balancer_arn(&current.id);
                    for s in &self.network.public_subnets {
                        req = req.subnets(refs.require(s)?);
                    }
                    req.send().await.map_err(|e| Error::aws("set subnets of", KIND, &name, e))?;
                }
                "security_groups" => {
                    elb.set_security_groups()
                        .load_balancer_arn(&current.id)
                        .security_groups(refs.require(&self.network.alb_security_group)?)
                        .send()
                        .await
                        .map_err(|e| Error::aws("set security groups of", KIND, &name, e))?;
                }
                attr if MANAGED_ATTRIBUTES.contains(&attr) => {
                    let value = c.new.clone().unwrap_or_default();
                    attributes.push(LoadBalancerAttribute::builder().key(attr).value(value).build());
                }
                other => {
                    return Err(Error::unexpected(
                        KIND,
                        &name,
                        format!("{other} cannot be changed in place; delete the load balancer to recreate it"),
                    ))
                }
            }
        }
        if !attributes.is_empty() {
            elb.modify_load_balancer_attributes()
                .load_balancer_arn(&current.id)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| Error::aws("modify attributes of", KIND, &name, e))?;
        }
        elbv2::update_tags(ctx, KIND, &name, &current.id, changes).await
    }
}
