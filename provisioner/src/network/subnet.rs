//! Subnets: found inside the VPC by Name, or by CIDR when the Name tag is
//! gone; CIDR, zone and VPC are fixed at creation.

use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::network::{ec2, vpc};
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, SubnetState};
use futures::FutureExt;

pub const KIND: &str = "subnet";
const CIDR: &str = "cidr";
const ZONE: &str = "availability zone";
const VPC: &str = "vpc";

pub struct SubnetKind;

#[async_trait]
impl Kind for SubnetKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[vpc::KIND]
    }

    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        let vpcs: Vec<String> = found.of(vpc::KIND).iter().map(|v| v.id.clone()).collect();
        if vpcs.is_empty() {
            return Ok(Vec::new());
        }
        let mut pages = ctx
            .aws
            .ec2
            .describe_subnets()
            .filters(ec2::filter("vpc-id", vpcs))
            .into_paginator()
            .send();
        let mut observed = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("listing", KIND, &ctx.naming.name("*"), e))?;
            for s in page.subnets() {
                let tagged = ec2::read_tags(&ctx.naming, s.tags());
                let mut attrs = tagged.attrs;
                attrs.insert(CIDR.into(), s.cidr_block().unwrap_or_default().to_string());
                attrs.insert(
                    ZONE.into(),
                    s.availability_zone().unwrap_or_default().to_string(),
                );
                attrs.insert(VPC.into(), s.vpc_id().unwrap_or_default().to_string());
                observed.push(Observed {
                    kind: KIND,
                    id: s.subnet_id().unwrap_or_default().to_string(),
                    name: tagged.name,
                    attrs,
                    details: Attrs::new(),
                    ready: s.state() == Some(&SubnetState::Available),
                    owned: tagged.owned,
                });
            }
        }
        Ok(observed)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        ec2::run_bounded(
            ctx,
            items.iter().map(|o| delete_one(ctx, o).boxed()).collect(),
        )
        .await
    }
}

pub struct Subnet {
    pub naming: Naming,
    pub name: String,
    pub vpc: Key,
    pub cidr: String,
    pub zone: String,
}

#[async_trait]
impl Resource for Subnet {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![self.vpc.clone()]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut attrs = Attrs::new();
        ec2::desired_tags(&self.naming, &self.name, &mut attrs);
        attrs.insert(CIDR.into(), self.cidr.clone());
        attrs.insert(ZONE.into(), self.zone.clone());
        attrs.insert(VPC.into(), refs.id(&self.vpc));
        attrs
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let vpc_id = refs.require(&self.vpc)?;
        let out = ctx
            .aws
            .ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(&self.cidr)
            .availability_zone(&self.zone)
            .tag_specifications(ec2::tag_spec(ResourceType::Subnet, &ctx.naming, &self.name))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        let subnet = out.subnet().ok_or_else(|| {
            Error::unexpected(KIND, &self.name, "CreateSubnet returned no subnet")
        })?;
        Ok(Observed {
            kind: KIND,
            id: subnet.subnet_id().unwrap_or_default().to_string(),
            name: Some(self.name.clone()),
            attrs: self.desired(refs),
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
        if let Some(c) = changes
            .iter()
            .find(|c| !c.attr.starts_with(crate::tags::ATTR_PREFIX))
        {
            return Err(ec2::immutable(KIND, &self.name, c));
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }

    fn adopts(&self, observed: &Observed) -> bool {
        observed.name.is_none() && observed.attrs.get(CIDR) == Some(&self.cidr)
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
            let call = ctx.aws.ec2.delete_subnet().subnet_id(&o.id).send();
            async move { call.await.map(|_| ()) }
        },
    )
    .await
}
