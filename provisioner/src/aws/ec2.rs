//! EC2: tags, filters, finding the network's resources by id or by filter,
//! and deletes where "already gone" is success and "still in use" is
//! retried (`crate::retry`).

use crate::engine::{Change, Ctx};
use crate::error::found;
use crate::tags::{self, Naming, Tags};
use crate::Error;
use aws_sdk_ec2::types::{
    Address, Filter, InternetGateway, LaunchTemplate, NatGateway, ResourceType, RouteTable,
    SecurityGroup, Subnet, Tag, TagSpecification, Vpc, VpcAttributeName,
};
use std::future::Future;

/// The managed tags, for CreateX's TagSpecifications.
pub fn tag_spec(resource_type: ResourceType, naming: &Naming, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(aws_tags(naming, name)))
        .build()
}

/// The managed tags as EC2 tags.
pub fn aws_tags(naming: &Naming, name: &str) -> Vec<Tag> {
    naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// EC2 tags as [`Tags`].
pub fn tags(aws: &[Tag]) -> Tags {
    Tags::new(
        aws.iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))),
    )
}

pub fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// Filters selecting what this environment owns.
pub fn owned_filters(naming: &Naming) -> Vec<Filter> {
    vec![
        filter(
            &format!("tag:{}", tags::MANAGED_BY_KEY),
            [tags::MANAGED_BY.to_string()],
        ),
        filter(
            &format!("tag:{}", tags::ENVIRONMENT),
            [naming.environment.clone()],
        ),
        filter(&format!("tag:{}", tags::PROJECT), [naming.project.clone()]),
    ]
}

/// Applies the tag changes among `changes` with CreateTags / DeleteTags.
pub async fn update_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    id: &str,
    changes: &[Change],
) -> Result<(), Error> {
    let set: Vec<Tag> = tags::to_set(changes)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let unset: Vec<Tag> = tags::to_unset(changes)
        .into_iter()
        .map(|k| Tag::builder().key(k).build())
        .collect();
    let ec2 = &ctx.aws.ec2;
    if !set.is_empty() {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(set))
            .send()
            .await
            .map_err(|e| Error::aws("tagging", kind, name, e))?;
    }
    if !unset.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(unset))
            .send()
            .await
            .map_err(|e| Error::aws("untagging", kind, name, e))?;
    }
    Ok(())
}

/// Refuses a change AWS cannot make in place, saying what to do instead.
pub fn immutable(kind: &'static str, name: &str, change: &Change) -> Error {
    Error::unexpected(
        kind,
        name,
        format!("{change} cannot be changed in place; delete the {kind} (or run `down`) and run `up` again"),
    )
}

/// The first item of a describe by id; a missing one is `None`.
async fn first<T, Fut>(call: Fut) -> Result<Option<T>, Error>
where
    Fut: Future<Output = Result<Vec<T>, Error>>,
{
    Ok(found(call.await)?.and_then(|items| items.into_iter().next()))
}

pub async fn find_vpc(ctx: &Ctx, id: &str) -> Result<Option<Vpc>, Error> {
    first(vpcs(ctx, id, |c| c.vpc_ids(id))).await
}

/// VPCs matching filters (none for an empty result).
pub async fn vpcs_where(ctx: &Ctx, label: &str, filters: Vec<Filter>) -> Result<Vec<Vpc>, Error> {
    vpcs(ctx, label, |c| c.set_filters(Some(filters))).await
}

async fn vpcs(
    ctx: &Ctx,
    label: &str,
    shape: impl FnOnce(
        aws_sdk_ec2::operation::describe_vpcs::builders::DescribeVpcsFluentBuilder,
    )
        -> aws_sdk_ec2::operation::describe_vpcs::builders::DescribeVpcsFluentBuilder,
) -> Result<Vec<Vpc>, Error> {
    let out = shape(ctx.aws.ec2.describe_vpcs())
        .send()
        .await
        .map_err(|e| Error::aws("reading", "vpc", label, e))?;
    Ok(out.vpcs().to_vec())
}

/// One of a VPC's boolean attributes (DNS support, DNS hostnames).
pub async fn vpc_attribute(
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
        .map_err(|e| Error::aws("reading attributes of", "vpc", name, e))?;
    let value = match attribute {
        VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
        _ => out.enable_dns_hostnames(),
    };
    Ok(value.and_then(|v| v.value()).unwrap_or(false))
}

pub async fn find_subnet(ctx: &Ctx, id: &str) -> Result<Option<Subnet>, Error> {
    first(async {
        let out = ctx
            .aws
            .ec2
            .describe_subnets()
            .subnet_ids(id)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "subnet", id, e))?;
        Ok(out.subnets().to_vec())
    })
    .await
}

/// Every subnet of these VPCs.
pub async fn subnets_in(ctx: &Ctx, vpcs: Vec<String>) -> Result<Vec<Subnet>, Error> {
    let mut pages = ctx
        .aws
        .ec2
        .describe_subnets()
        .filters(filter("vpc-id", vpcs))
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("listing", "subnet", &ctx.naming.name("*"), e))?;
        all.extend_from_slice(page.subnets());
    }
    Ok(all)
}

pub async fn find_security_group(ctx: &Ctx, id: &str) -> Result<Option<SecurityGroup>, Error> {
    first(async {
        let out = ctx
            .aws
            .ec2
            .describe_security_groups()
            .group_ids(id)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "security-group", id, e))?;
        Ok(out.security_groups().to_vec())
    })
    .await
}

/// Every security group of these VPCs.
pub async fn security_groups_in(ctx: &Ctx, vpcs: Vec<String>) -> Result<Vec<SecurityGroup>, Error> {
    let mut pages = ctx
        .aws
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpcs))
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| Error::aws("listing", "security-group", &ctx.naming.name("*-sg"), e))?;
        all.extend_from_slice(page.security_groups());
    }
    Ok(all)
}

pub async fn find_route_table(ctx: &Ctx, id: &str) -> Result<Option<RouteTable>, Error> {
    route_tables_where(ctx, id, |c| c.route_table_ids(id))
        .await
        .map(|t| t.into_iter().next())
}

/// Route tables matching filters, paginated; a missing id is an empty list.
pub async fn route_tables_where(
    ctx: &Ctx,
    label: &str,
    shape: impl FnOnce(
        aws_sdk_ec2::operation::describe_route_tables::builders::DescribeRouteTablesFluentBuilder,
    )
        -> aws_sdk_ec2::operation::describe_route_tables::builders::DescribeRouteTablesFluentBuilder,
) -> Result<Vec<RouteTable>, Error> {
    let mut pages = shape(ctx.aws.ec2.describe_route_tables())
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        match page.map_err(|e| Error::aws("reading", "route-table", label, e)) {
            Ok(page) => all.extend_from_slice(page.route_tables()),
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
    Ok(all)
}

pub async fn find_internet_gateway(ctx: &Ctx, id: &str) -> Result<Option<InternetGateway>, Error> {
    first(internet_gateways(ctx, id, |c| c.internet_gateway_ids(id))).await
}

pub async fn internet_gateways(
    ctx: &Ctx,
    label: &str,
    shape: impl FnOnce(
        aws_sdk_ec2::operation::describe_internet_gateways::builders::DescribeInternetGatewaysFluentBuilder,
    ) -> aws_sdk_ec2::operation::describe_internet_gateways::builders::DescribeInternetGatewaysFluentBuilder,
) -> Result<Vec<InternetGateway>, Error> {
    let out = shape(ctx.aws.ec2.describe_internet_gateways())
        .send()
        .await
        .map_err(|e| Error::aws("reading", "internet-gateway", label, e))?;
    Ok(out.internet_gateways().to_vec())
}

pub async fn find_nat_gateway(ctx: &Ctx, id: &str) -> Result<Option<NatGateway>, Error> {
    first(nat_gateways(ctx, id, |c| c.nat_gateway_ids(id))).await
}

pub async fn nat_gateways(
    ctx: &Ctx,
    label: &str,
    shape: impl FnOnce(
        aws_sdk_ec2::operation::describe_nat_gateways::builders::DescribeNatGatewaysFluentBuilder,
    ) -> aws_sdk_ec2::operation::describe_nat_gateways::builders::DescribeNatGatewaysFluentBuilder,
) -> Result<Vec<NatGateway>, Error> {
    let out = shape(ctx.aws.ec2.describe_nat_gateways())
        .send()
        .await
        .map_err(|e| Error::aws("reading", "nat-gateway", label, e))?;
    Ok(out.nat_gateways().to_vec())
}

pub async fn find_address(ctx: &Ctx, allocation: &str) -> Result<Option<Address>, Error> {
    first(addresses(ctx, allocation, |c| c.allocation_ids(allocation))).await
}

pub async fn addresses(
    ctx: &Ctx,
    label: &str,
    shape: impl FnOnce(
        aws_sdk_ec2::operation::describe_addresses::builders::DescribeAddressesFluentBuilder,
    ) -> aws_sdk_ec2::operation::describe_addresses::builders::DescribeAddressesFluentBuilder,
) -> Result<Vec<Address>, Error> {
    let out = shape(ctx.aws.ec2.describe_addresses())
        .send()
        .await
        .map_err(|e| Error::aws("reading", "elastic-ip", label, e))?;
    Ok(out.addresses().to_vec())
}

pub async fn find_launch_template(ctx: &Ctx, name: &str) -> Result<Option<LaunchTemplate>, Error> {
    first(async {
        let out = ctx
            .aws
            .ec2
            .describe_launch_templates()
            .launch_template_names(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "launch-template", name, e))?;
        Ok(out.launch_templates().to_vec())
    })
    .await
}
