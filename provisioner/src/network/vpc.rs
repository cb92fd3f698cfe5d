//! The VPC: found by its Name tag (or, if that was removed, by the
//! environment's ownership tags); CIDR fixed at creation, DNS support and
//! hostnames switched on.

use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::network::ec2;
use crate::tags::Naming;
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, ResourceType, Vpc as AwsVpc, VpcAttributeName, VpcState,
};
use futures::FutureExt;

pub const KIND: &str = "vpc";
const CIDR: &str = "cidr";
const DNS_SUPPORT: &str = "dns support";
const DNS_HOSTNAMES: &str = "dns hostnames";

pub struct VpcKind;

#[async_trait]
impl Kind for VpcKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let name = ctx.naming.name("vpc");
        let describe = |filters| {
            ctx.aws
                .ec2
                .describe_vpcs()
                .set_filters(Some(filters))
                .send()
        };
        // By Name, and by the ownership tags in case the Name tag was lost.
        let (by_name, by_owner) = futures::try_join!(
            describe(vec![ec2::filter("tag:Name", [name.clone()])]),
            describe(ec2::owned_filters(&ctx.naming)),
        )
        .map_err(|e| Error::aws("listing", KIND, &name, e))?;
        let mut vpcs: Vec<&AwsVpc> = by_name.vpcs().iter().collect();
        for vpc in by_owner.vpcs() {
            if !vpcs.iter().any(|v| v.vpc_id() == vpc.vpc_id()) {
                vpcs.push(vpc);
            }
        }
        let mut found = Vec::new();
        for vpc in vpcs {
            found.push(observe(ctx, vpc).await?);
        }
        Ok(found)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        ec2::run_bounded(
            ctx,
            items.iter().map(|o| delete_one(ctx, o).boxed()).collect(),
        )
        .await
    }
}

async fn observe(ctx: &Ctx, vpc: &AwsVpc) -> Result<Observed, Error> {
    let id = vpc.vpc_id().unwrap_or_default().to_string();
    let tagged = ec2::read_tags(&ctx.naming, vpc.tags());
    let mut attrs = tagged.attrs;
    attrs.insert(
        CIDR.into(),
        vpc.cidr_block().unwrap_or_default().to_string(),
    );
    let shown = tagged.name.clone().unwrap_or_else(|| id.clone());
    let (support, hostnames) = futures::try_join!(
        dns_attribute(ctx, &id, &shown, VpcAttributeName::EnableDnsSupport),
        dns_attribute(ctx, &id, &shown, VpcAttributeName::EnableDnsHostnames),
    )?;
    attrs.insert(DNS_SUPPORT.into(), support.to_string());
    attrs.insert(DNS_HOSTNAMES.into(), hostnames.to_string());
    Ok(Observed {
        kind: KIND,
        id,
        name: tagged.name,
        attrs,
        details: Attrs::new(),
        ready: vpc.state() == Some(&VpcState::Available),
        owned: tagged.owned,
    })
}

async fn dns_attribute(
    ctx: &Ctx,
    id: &str,
    name: &str,
    attribute: VpcAttributeName,
) -> Result<bool, Error> {
    let out = ctx
        .aws
        .ec2
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(attribute.clone())
        .send()
        .await
        .map_err(|e| Error::aws("reading attributes of", KIND, name, e))?;
    let value = match attribute {
        VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
        _ => out.enable_dns_hostnames(),
    };
    Ok(value
        .and_then(AttributeBooleanValue::value)
        .unwrap_or(false))
}

pub struct Vpc {
    pub naming: Naming,
    pub name: String,
    pub cidr: String,
}

#[async_trait]
impl Resource for Vpc {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        Vec::new()
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let mut attrs = Attrs::new();
        ec2::desired_tags(&self.naming, &self.name, &mut attrs);
        attrs.insert(CIDR.into(), self.cidr.clone());
        attrs.insert(DNS_SUPPORT.into(), "true".into());
        attrs.insert(DNS_HOSTNAMES.into(), "true".into());
        attrs
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<Observed, Error> {
        let out = ctx
            .aws
            .ec2
            .create_vpc()
            .cidr_block(&self.cidr)
            .tag_specifications(ec2::tag_spec(ResourceType::Vpc, &ctx.naming, &self.name))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        let vpc = out
            .vpc()
            .ok_or_else(|| Error::unexpected(KIND, &self.name, "CreateVpc returned no VPC"))?;
        let mut attrs = Attrs::new();
        ec2::desired_tags(&ctx.naming, &self.name, &mut attrs);
        attrs.insert(CIDR.into(), self.cidr.clone());
        // AWS's defaults for a new VPC.
        attrs.insert(DNS_SUPPORT.into(), "true".into());
        attrs.insert(DNS_HOSTNAMES.into(), "false".into());
        Ok(Observed {
            kind: KIND,
            id: vpc.vpc_id().unwrap_or_default().to_string(),
            name: Some(self.name.clone()),
            attrs,
            details: Attrs::new(),
            ready: vpc.state() == Some(&VpcState::Available),
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
        for c in changes {
            match c.attr.as_str() {
                DNS_SUPPORT | DNS_HOSTNAMES => {
                    let on = AttributeBooleanValue::builder()
                        .value(c.new.as_deref() == Some("true"))
                        .build();
                    let call = ctx.aws.ec2.modify_vpc_attribute().vpc_id(&current.id);
                    let call = if c.attr == DNS_SUPPORT {
                        call.enable_dns_support(on)
                    } else {
                        call.enable_dns_hostnames(on)
                    };
                    call.send().await.map_err(|e| {
                        Error::aws("setting DNS attributes of", KIND, &self.name, e)
                    })?;
                }
                CIDR => return Err(ec2::immutable(KIND, &self.name, c)),
                _ => {}
            }
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }

    fn adopts(&self, observed: &Observed) -> bool {
        observed.name.is_none() && observed.owned && observed.attrs.get(CIDR) == Some(&self.cidr)
    }

    async fn wait(&self, ctx: &Ctx, current: &Observed) -> Result<(), Error> {
        wait::until(&ctx.wait, KIND, &self.name, "available", || async {
            let out = ctx
                .aws
                .ec2
                .describe_vpcs()
                .vpc_ids(&current.id)
                .send()
                .await
                .map_err(|e| Error::aws("reading", KIND, &self.name, e))?;
            Ok(match out.vpcs().first().and_then(|v| v.state()) {
                Some(VpcState::Available) => Poll::Done,
                other => Poll::Pending(format!("{other:?}")),
            })
        })
        .await
    }
}

async fn delete_one(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    ec2::retry_while(
        ctx,
        "deleting",
        KIND,
        o.display_name(),
        &["DependencyViolation"],
        || {
            let call = ctx.aws.ec2.delete_vpc().vpc_id(&o.id).send();
            async move { call.await.map(|_| ()) }
        },
    )
    .await
}
