//! The internet gateway: found by the environment's tags (so one left
//! detached by an interrupted run is reused) or attached to the VPC.

use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::gone_ok;
use crate::network::{ec2, vpc};
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{InternetGateway as AwsIgw, ResourceType};
use futures::FutureExt;
use std::collections::BTreeMap;

pub const KIND: &str = "internet-gateway";
const ATTACHED: &str = "attached to";
/// Retried while the VPC still has public addresses mapped.
const BUSY: &[&str] = &["DependencyViolation"];

pub struct InternetGatewayKind;

#[async_trait]
impl Kind for InternetGatewayKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[vpc::KIND]
    }

    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        let listing = |e| Error::aws("listing", KIND, &ctx.naming.name("igw"), e);
        let tagged = ctx
            .aws
            .ec2
            .describe_internet_gateways()
            .set_filters(Some(ec2::owned_filters(&ctx.naming)))
            .send()
            .await
            .map_err(listing)?;
        let mut by_id: BTreeMap<String, Observed> = BTreeMap::new();
        for igw in tagged.internet_gateways() {
            let o = observe(&ctx.naming, igw);
            by_id.insert(o.id.clone(), o);
        }
        let vpcs: Vec<String> = found.of(vpc::KIND).iter().map(|v| v.id.clone()).collect();
        if !vpcs.is_empty() {
            let attached = ctx
                .aws
                .ec2
                .describe_internet_gateways()
                .filters(ec2::filter("attachment.vpc-id", vpcs))
                .send()
                .await
                .map_err(listing)?;
            for igw in attached.internet_gateways() {
                let o = observe(&ctx.naming, igw);
                by_id.entry(o.id.clone()).or_insert(o);
            }
        }
        Ok(by_id.into_values().collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        ec2::run_bounded(
            ctx,
            items.iter().map(|o| delete_one(ctx, o).boxed()).collect(),
        )
        .await
    }
}

fn observe(naming: &Naming, igw: &AwsIgw) -> Observed {
    let tagged = ec2::read_tags(naming, igw.tags());
    let mut attrs = tagged.attrs;
    if let Some(vpc_id) = igw.attachments().iter().find_map(|a| a.vpc_id()) {
        attrs.insert(ATTACHED.into(), vpc_id.to_string());
    }
    Observed {
        kind: KIND,
        id: igw.internet_gateway_id().unwrap_or_default().to_string(),
        name: tagged.name,
        attrs,
        details: Attrs::new(),
        ready: true,
        owned: tagged.owned,
    }
}

pub struct InternetGateway {
    pub naming: Naming,
    pub name: String,
    pub vpc: Key,
}

#[async_trait]
impl Resource for InternetGateway {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![self.vpc.clone()]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut attrs = Attrs::new();
        ec2::desired_tags(&self.naming, &self.name, &mut attrs);
        attrs.insert(ATTACHED.into(), refs.id(&self.vpc));
        attrs
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<Observed, Error> {
        let out = ctx
            .aws
            .ec2
            .create_internet_gateway()
            .tag_specifications(ec2::tag_spec(
                ResourceType::InternetGateway,
                &ctx.naming,
                &self.name,
            ))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        let igw = out.internet_gateway().ok_or_else(|| {
            Error::unexpected(
                KIND,
                &self.name,
                "CreateInternetGateway returned no gateway",
            )
        })?;
        Ok(observe(&ctx.naming, igw))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        if let Some(c) = changes.iter().find(|c| c.attr == ATTACHED) {
            if let Some(old) = &c.old {
                ctx.aws
                    .ec2
                    .detach_internet_gateway()
                    .internet_gateway_id(&current.id)
                    .vpc_id(old)
                    .send()
                    .await
                    .map_err(|e| Error::aws("detaching", KIND, &self.name, e))?;
            }
            if let Some(new) = &c.new {
                ctx.aws
                    .ec2
                    .attach_internet_gateway()
                    .internet_gateway_id(&current.id)
                    .vpc_id(new)
                    .send()
                    .await
                    .map_err(|e| Error::aws("attaching", KIND, &self.name, e))?;
            }
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }
}

async fn delete_one(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    let name = o.display_name();
    if let Some(vpc_id) = o.attrs.get(ATTACHED) {
        ec2::retry_while(ctx, "detaching", KIND, name, BUSY, || {
            let call = ctx
                .aws
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(&o.id)
                .vpc_id(vpc_id)
                .send();
            async move { call.await.map(|_| ()) }
        })
        .await?;
    }
    let result = ctx
        .aws
        .ec2
        .delete_internet_gateway()
        .internet_gateway_id(&o.id)
        .send()
        .await;
    gone_ok(result, "deleting", KIND, name)
}
