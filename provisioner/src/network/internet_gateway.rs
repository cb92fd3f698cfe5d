//! The internet gateway: found by the environment's tags (so one left
//! detached by an interrupted run is reused) or attached to the VPC.

use crate::aws::ec2;
use crate::engine::{
    run_bounded, Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State,
};
use crate::network::vpc;
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{InternetGateway as AwsIgw, ResourceType};
use futures::FutureExt;
use std::collections::BTreeMap;

pub const KIND: &str = "internet-gateway";
const ATTACHED: &str = "attached to";

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
        let label = ctx.naming.name("igw");
        let owned = ec2::owned_filters(&ctx.naming);
        let tagged = ec2::internet_gateways(ctx, &label, |c| c.set_filters(Some(owned))).await?;
        let mut by_id: BTreeMap<String, Observed> = BTreeMap::new();
        for igw in &tagged {
            let o = observe(&ctx.naming, igw);
            by_id.insert(o.id.clone(), o);
        }
        let vpcs: Vec<String> = found.of(vpc::KIND).iter().map(|v| v.id.clone()).collect();
        if !vpcs.is_empty() {
            let attached = ec2::internet_gateways(ctx, &label, |c| {
                c.filters(ec2::filter("attachment.vpc-id", vpcs))
            })
            .await?;
            for igw in &attached {
                let o = observe(&ctx.naming, igw);
                by_id.entry(o.id.clone()).or_insert(o);
            }
        }
        Ok(by_id.into_values().collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        run_bounded(
            ctx,
            items.iter().map(|o| delete_one(ctx, o).boxed()).collect(),
        )
        .await
    }
}

fn observe(naming: &Naming, igw: &AwsIgw) -> Observed {
    let tags = ec2::tags(igw.tags());
    let mut attrs = tags.attrs();
    if let Some(vpc_id) = igw.attachments().iter().find_map(|a| a.vpc_id()) {
        attrs.insert(ATTACHED.into(), vpc_id.to_string());
    }
    Observed {
        kind: KIND,
        id: igw.internet_gateway_id().unwrap_or_default().to_string(),
        name: tags.name(),
        attrs,
        details: Attrs::new(),
        state: State::Ready,
        owned: tags.owned_by(naming),
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
        let mut attrs = self.naming.desired_tags(&self.name);
        attrs.insert(ATTACHED.into(), refs.id(&self.vpc));
        attrs
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
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
        out.internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::unexpected(
                    KIND,
                    &self.name,
                    "CreateInternetGateway returned no gateway",
                )
            })
    }

    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
        Ok(ec2::find_internet_gateway(ctx, id)
            .await?
            .map(|g| observe(&ctx.naming, &g)))
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

/// Detaches (retried while the VPC still maps public addresses), then
/// deletes.
async fn delete_one(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    let name = o.display_name();
    if let Some(vpc_id) = o.attrs.get(ATTACHED) {
        retry::delete(ctx, KIND, name, || {
            ctx.aws
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(&o.id)
                .vpc_id(vpc_id)
                .send()
        })
        .await?;
    }
    retry::delete(ctx, KIND, name, || {
        ctx.aws
            .ec2
            .delete_internet_gateway()
            .internet_gateway_id(&o.id)
            .send()
    })
    .await
}
