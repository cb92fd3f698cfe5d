//! The VPC: found by its Name tag (or, if that was removed, by the
//! environment's ownership tags); CIDR fixed at creation, DNS support and
//! hostnames switched on.

use crate::aws::ec2;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, ResourceType, Vpc as AwsVpc, VpcAttributeName, VpcState,
};

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
        // By Name, and by the ownership tags in case the Name tag was lost.
        let (by_name, by_owner) = futures::try_join!(
            ec2::vpcs_where(ctx, &name, vec![ec2::filter("tag:Name", [name.clone()])]),
            ec2::vpcs_where(ctx, &name, ec2::owned_filters(&ctx.naming)),
        )?;
        let mut vpcs: Vec<AwsVpc> = by_name;
        for vpc in by_owner {
            if !vpcs.iter().any(|v| v.vpc_id() == vpc.vpc_id()) {
                vpcs.push(vpc);
            }
        }
        let mut found = Vec::new();
        for vpc in &vpcs {
            found.push(observe(ctx, vpc).await?);
        }
        Ok(found)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws.ec2.delete_vpc().vpc_id(&o.id).send()
            })
            .await?;
        }
        Ok(())
    }
}

async fn observe(ctx: &Ctx, vpc: &AwsVpc) -> Result<Observed, Error> {
    let id = vpc.vpc_id().unwrap_or_default().to_string();
    let tags = ec2::tags(vpc.tags());
    let mut attrs = tags.attrs();
    attrs.insert(
        CIDR.into(),
        vpc.cidr_block().unwrap_or_default().to_string(),
    );
    let shown = tags.name().unwrap_or_else(|| id.clone());
    let (support, hostnames) = futures::try_join!(
        ec2::vpc_attribute(ctx, &id, &shown, VpcAttributeName::EnableDnsSupport),
        ec2::vpc_attribute(ctx, &id, &shown, VpcAttributeName::EnableDnsHostnames),
    )?;
    attrs.insert(DNS_SUPPORT.into(), support.to_string());
    attrs.insert(DNS_HOSTNAMES.into(), hostnames.to_string());
    let state = vpc.state().map(|s| s.as_str()).unwrap_or("unknown");
    Ok(Observed {
        kind: KIND,
        id,
        name: tags.name(),
        attrs,
        details: Attrs::new(),
        state: State::from_status(vpc.state() == Some(&VpcState::Available), state),
        owned: tags.owned_by(&ctx.naming),
    })
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
        let mut attrs = self.naming.desired_tags(&self.name);
        attrs.insert(CIDR.into(), self.cidr.clone());
        attrs.insert(DNS_SUPPORT.into(), "true".into());
        attrs.insert(DNS_HOSTNAMES.into(), "true".into());
        attrs
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
        let out = ctx
            .aws
            .ec2
            .create_vpc()
            .cidr_block(&self.cidr)
            .tag_specifications(ec2::tag_spec(ResourceType::Vpc, &ctx.naming, &self.name))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        out.vpc()
            .and_then(|v| v.vpc_id())
            .map(str::to_string)
            .ok_or_else(|| Error::unexpected(KIND, &self.name, "CreateVpc returned no VPC"))
    }

    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
        match ec2::find_vpc(ctx, id).await? {
            Some(vpc) => observe(ctx, &vpc).await.map(Some),
            None => Ok(None),
        }
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
}
