//! The internet-facing Application Load Balancer in the public subnets:
//! idle timeout 120 s (long-lived WebSockets), cross-zone load balancing.

use super::{tagging, NetworkKeys};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum,
    LoadBalancerTypeEnum, Tag,
};

pub const KIND: &str = "load-balancer";
pub const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
pub const CROSS_ZONE: &str = "load_balancing.cross_zone.enabled";
/// Load-balancer attributes this tool manages, with their wanted values.
const MANAGED_ATTRIBUTES: [(&str, &str); 2] = [(IDLE_TIMEOUT, "120"), (CROSS_ZONE, "true")];

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
        let lb_name = name(&ctx.naming);
        let elb = &ctx.aws.elbv2;
        let out = match elb.describe_load_balancers().names(&lb_name).send().await {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(Error::aws("describe", KIND, &lb_name, e)),
        };
        let mut found = Vec::new();
        for lb in out.load_balancers() {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            let tags = super::target_group::describe_tags(ctx, KIND, &lb_name, &arn).await?;
            let pairs: Vec<(&str, &str)> =
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut attrs = tagging::observed(pairs.iter().copied());
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
            let lb_attrs = elb
                .describe_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .send()
                .await
                .map_err(|e| Error::aws("describe attributes of", KIND, &lb_name, e))?;
            for a in lb_attrs.attributes() {
                let k = a.key().unwrap_or_default();
                if MANAGED_ATTRIBUTES.iter().any(|(m, _)| *m == k) {
                    attrs.insert(k.to_string(), a.value().unwrap_or_default().to_string());
                }
            }
            let mut details = Attrs::new();
            details.insert(
                "dns_name".into(),
                lb.dns_name().unwrap_or_default().to_string(),
            );
            let state = lb.state().and_then(|s| s.code()).cloned();
            found.push(Observed {
                kind: KIND,
                id: arn,
                name: Some(lb.load_balancer_name().unwrap_or(&lb_name).to_string()),
                attrs,
                details,
                ready: state == Some(LoadBalancerStateEnum::Active),
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
                .delete_load_balancer()
                .load_balancer_arn(&o.id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(Error::aws("delete", KIND, o.display_name(), e)),
            }
            wait_gone(ctx, o).await?;
        }
        Ok(())
    }
}

/// Until the load balancer no longer exists (its network interfaces go with
/// it, which the subnets and security groups wait for).
async fn wait_gone(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    wait::until(&ctx.wait, KIND, o.display_name(), "deleted", || async {
        match ctx
            .aws
            .elbv2
            .describe_load_balancers()
            .load_balancer_arns(&o.id)
            .send()
            .await
        {
            Ok(out) if out.load_balancers().is_empty() => Ok(Poll::Done),
            Ok(_) => Ok(Poll::Pending("deleting".into())),
            Err(e) if is_not_found(&e) => Ok(Poll::Done),
            Err(e) => Err(Error::aws("describe", KIND, o.display_name(), e)),
        }
    })
    .await
}

pub struct LoadBalancer {
    pub naming: Naming,
    pub network: NetworkKeys,
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
        let mut a = tagging::desired(&self.naming, &self.name());
        a.insert("scheme".into(), "internet-facing".into());
        a.insert(
            "subnets".into(),
            sorted_ids(refs, &self.network.public_subnets),
        );
        a.insert(
            "security_groups".into(),
            refs.id(&self.network.alb_security_group),
        );
        for (k, v) in MANAGED_ATTRIBUTES {
            a.insert(k.into(), v.into());
        }
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let name = self.name();
        let mut req = ctx
            .aws
            .elbv2
            .create_load_balancer()
            .name(&name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .ip_address_type(IpAddressType::Ipv4)
            .security_groups(refs.require(&self.network.alb_security_group)?);
        for s in &self.network.public_subnets {
            req = req.subnets(refs.require(s)?);
        }
        for (k, v) in self.naming.tags(&name) {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| Error::aws("create", KIND, &name, e))?;
        let lb = out.load_balancers().first().ok_or_else(|| {
            Error::unexpected(KIND, &name, "CreateLoadBalancer returned no load balancer")
        })?;
        let mut attrs = self.desired(refs);
        for (k, _) in MANAGED_ATTRIBUTES {
            attrs.remove(k);
        }
        let mut details = Attrs::new();
        details.insert(
            "dns_name".into(),
            lb.dns_name().unwrap_or_default().to_string(),
        );
        Ok(Observed {
            kind: KIND,
            id: lb.load_balancer_arn().unwrap_or_default().to_string(),
            name: Some(name),
            attrs,
            details,
            ready: false,
            owned: true,
        })
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
        for c in tagging::non_tag(changes) {
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
                attr if MANAGED_ATTRIBUTES.iter().any(|(m, _)| *m == attr) => {
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
        super::target_group::add_tags(ctx, KIND, &name, &current.id, tagging::to_set(changes)).await
    }

    async fn wait(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        let name = self.name();
        wait::until(&ctx.wait, KIND, &name, "active", || async {
            let out = ctx
                .aws
                .elbv2
                .describe_load_balancers()
                .load_balancer_arns(&current.id)
                .send()
                .await
                .map_err(|e| Error::aws("describe", KIND, &name, e))?;
            let state = out
                .load_balancers()
                .first()
                .and_then(|lb| lb.state())
                .and_then(|s| s.code())
                .cloned();
            Ok(match state {
                Some(LoadBalancerStateEnum::Active) => Poll::Done,
                Some(LoadBalancerStateEnum::Failed) => {
                    return Err(Error::unexpected(
                        KIND,
                        &name,
                        "AWS reports the load balancer as failed",
                    ))
                }
                other => Poll::Pending(
                    other
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "unknown".into()),
                ),
            })
        })
        .await
    }
}
