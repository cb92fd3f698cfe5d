//! Elastic IPs for the NAT gateways: found by the environment's tags;
//! released only once no NAT gateway holds them.

use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::network::ec2;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use futures::FutureExt;

pub const KIND: &str = "elastic-ip";
const DOMAIN: &str = "domain";
const IN_USE: &[&str] = &["InvalidIPAddress.InUse", "DependencyViolation"];

pub struct ElasticIpKind;

#[async_trait]
impl Kind for ElasticIpKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let out = ctx
            .aws
            .ec2
            .describe_addresses()
            .set_filters(Some(ec2::owned_filters(&ctx.naming)))
            .send()
            .await
            .map_err(|e| Error::aws("listing", KIND, &ctx.naming.name("*-eip"), e))?;
        Ok(out
            .addresses()
            .iter()
            .map(|a| {
                let tagged = ec2::read_tags(&ctx.naming, a.tags());
                let mut attrs = tagged.attrs;
                attrs.insert(
                    DOMAIN.into(),
                    a.domain().map(|d| d.as_str()).unwrap_or("vpc").to_string(),
                );
                Observed {
                    kind: KIND,
                    id: a.allocation_id().unwrap_or_default().to_string(),
                    name: tagged.name,
                    attrs,
                    details: Attrs::new(),
                    ready: true,
                    owned: tagged.owned,
                }
            })
            .collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        ec2::run_bounded(
            ctx,
            items.iter().map(|o| delete_one(ctx, o).boxed()).collect(),
        )
        .await
    }
}

pub struct ElasticIp {
    pub naming: Naming,
    pub name: String,
}

#[async_trait]
impl Resource for ElasticIp {
    fn key(&self) -> Key {
        Key::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<Key> {
        Vec::new()
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let mut attrs = Attrs::new();
        ec2::desired_tags(&self.naming, &self.name, &mut attrs);
        attrs.insert(DOMAIN.into(), "vpc".into());
        attrs
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let out = ctx
            .aws
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(ec2::tag_spec(
                ResourceType::ElasticIp,
                &ctx.naming,
                &self.name,
            ))
            .send()
            .await
            .map_err(|e| Error::aws("allocating", KIND, &self.name, e))?;
        let id = out.allocation_id().ok_or_else(|| {
            Error::unexpected(
                KIND,
                &self.name,
                "AllocateAddress returned no allocation id",
            )
        })?;
        Ok(Observed {
            kind: KIND,
            id: id.to_string(),
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
        if let Some(c) = changes.iter().find(|c| c.attr == DOMAIN) {
            return Err(ec2::immutable(KIND, &self.name, c));
        }
        ec2::update_tags(ctx, KIND, &self.name, &current.id, changes).await
    }
}

async fn delete_one(ctx: &Ctx, o: &Observed) -> Result<(), Error> {
    // A NAT gateway being deleted holds its address until it is gone; AWS
    // refuses the release meanwhile, so retry while it says "in use".
    ec2::retry_while(ctx, "releasing", KIND, o.display_name(), IN_USE, || {
        let call = ctx.aws.ec2.release_address().allocation_id(&o.id).send();
        async move { call.await.map(|_| ()) }
    })
    .await
}
