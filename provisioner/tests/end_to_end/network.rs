//! The network layer against a real moto server: what `up` builds, that a
//! second `up` changes nothing, drift repair, interrupted runs, `down`, and
//! AWS errors in the middle of an apply.

use crate::common::{filter, managed_resources, run, session, Moto};
use aws_sdk_ec2::Client;
use provisioner::engine::Action;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

async fn vpc_id(ec2: &Client) -> String {
    let vpcs = ec2
        .describe_vpcs()
        .filters(filter("tag:Name", "spaaace-dev-vpc"))
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "exactly one VPC");
    vpcs.vpcs()[0].vpc_id().unwrap().to_string()
}

/// subnet name → (cidr, zone, id)
async fn subnets(ec2: &Client, vpc: &str) -> BTreeMap<String, (String, String, String)> {
    let out = ec2
        .describe_subnets()
        .filters(filter("vpc-id", vpc))
        .send()
        .await
        .unwrap();
    out.subnets()
        .iter()
        .map(|s| {
            let name = s
                .tags()
                .iter()
                .find(|t| t.key() == Some("Name"))
                .and_then(|t| t.value())
                .unwrap_or("?");
            (
                name.to_string(),
                (
                    s.cidr_block().unwrap().to_string(),
                    s.availability_zone().unwrap().to_string(),
                    s.subnet_id().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// Security-group rules as "direction proto from-to peer" strings.
async fn sg_rules(ec2: &Client, vpc: &str, name: &str) -> (String, BTreeSet<String>) {
    let out = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc))
        .filters(filter("group-name", name))
        .send()
        .await
        .unwrap();
    assert_eq!(out.security_groups().len(), 1, "exactly one group {name}");
    let sg = &out.security_groups()[0];
    let mut rules = BTreeSet::new();
    for (dir, perms) in [
        ("in", sg.ip_permissions()),
        ("out", sg.ip_permissions_egress()),
    ] {
        for p in perms {
            let ports = format!(
                "{}-{}",
                p.from_port().unwrap_or(-1),
                p.to_port().unwrap_or(-1)
            );
            let proto = p.ip_protocol().unwrap_or("?");
            for r in p.ip_ranges() {
                rules.insert(format!("{dir} {proto} {ports} {}", r.cidr_ip().unwrap()));
            }
            for r in p.ipv6_ranges() {
                rules.insert(format!("{dir} {proto} {ports} {}", r.cidr_ipv6().unwrap()));
            }
            for g in p.user_id_group_pairs() {
                rules.insert(format!("{dir} {proto} {ports} {}", g.group_id().unwrap()));
            }
        }
    }
    (sg.group_id().unwrap().to_string(), rules)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_builds_exactly_the_seed_network_and_a_second_up_changes_nothing() {
    let moto = Moto::start();
    let first = session(&moto, "dev").await;
    let resources = first.stack.resources.len();
    let applied = first.up().await.unwrap();
    assert_eq!(applied.count(Action::Create), resources);
    let ec2 = crate::common::ec2(&moto).await;
    let vpc = vpc_id(&ec2).await;

    let vpc_desc = ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
    assert_eq!(vpc_desc.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));
    for attr in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let a = ec2
            .describe_vpc_attribute()
            .vpc_id(&vpc)
            .attribute(attr.clone())
            .send()
            .await
            .unwrap();
        let on = a
            .enable_dns_support()
            .or(a.enable_dns_hostnames())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attr:?}");
    }

    let subnets = subnets(&ec2, &vpc).await;
    let expected = [
        ("public-a", "10.0.1.0/24"),
        ("public-b", "10.0.2.0/24"),
        ("public-c", "10.0.3.0/24"),
        ("private-a", "10.0.11.0/24"),
        ("private-b", "10.0.12.0/24"),
        ("private-c", "10.0.13.0/24"),
    ];
    assert_eq!(subnets.len(), 6, "{subnets:?}");
    for (suffix, cidr) in expected {
        assert_eq!(subnets[&format!("spaaace-dev-{suffix}")].0, cidr);
    }
    let zones: BTreeSet<&String> = subnets.values().map(|s| &s.1).collect();
    assert_eq!(zones.len(), 3, "three zones");
    for letter in ["a", "b", "c"] {
        assert_eq!(
            subnets[&format!("spaaace-dev-public-{letter}")].1,
            subnets[&format!("spaaace-dev-private-{letter}")].1,
            "one public and one private subnet per zone"
        );
    }

    let igws = ec2
        .describe_internet_gateways()
        .filters(filter("attachment.vpc-id", &vpc))
        .send()
        .await
        .unwrap();
    assert_eq!(igws.internet_gateways().len(), 1);
    let igw = igws.internet_gateways()[0]
        .internet_gateway_id()
        .unwrap()
        .to_string();

    let nats = ec2
        .describe_nat_gateways()
        .filter(filter("vpc-id", &vpc))
        .send()
        .await
        .unwrap();
    assert_eq!(nats.nat_gateways().len(), 1, "dev has one NAT gateway");
    let nat = &nats.nat_gateways()[0];
    assert_eq!(
        nat.subnet_id(),
        Some(subnets["spaaace-dev-public-a"].2.as_str())
    );
    assert!(
        nat.nat_gateway_addresses()[0].allocation_id().is_some(),
        "NAT has an Elastic IP"
    );
    let nat_id = nat.nat_gateway_id().unwrap().to_string();

    let tables = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", &vpc))
        .send()
        .await
        .unwrap();
    let mut default_route_of_subnet = BTreeMap::new();
    for rt in tables.route_tables() {
        let target = rt
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .map(|r| r.nat_gateway_id().or(r.gateway_id()).unwrap().to_string());
        for a in rt.associations() {
            if let Some(s) = a.subnet_id() {
                default_route_of_subnet.insert(s.to_string(), target.clone());
            }
        }
    }
    for (name, (_, _, id)) in &subnets {
        let want = if name.contains("public") {
            &igw
        } else {
            &nat_id
        };
        assert_eq!(
            default_route_of_subnet.get(id),
            Some(&Some(want.clone())),
            "default route of {name}"
        );
    }

    let (alb, alb_rules) = sg_rules(&ec2, &vpc, "spaaace-dev-alb-sg").await;
    assert_eq!(
        alb_rules,
        BTreeSet::from([
            "in tcp 80-80 0.0.0.0/0".to_string(),
            "in tcp 443-443 0.0.0.0/0".to_string(),
            "out -1 -1--1 0.0.0.0/0".to_string(),
        ])
    );
    let (ecs, ecs_rules) = sg_rules(&ec2, &vpc, "spaaace-dev-ecs-sg").await;
    assert_eq!(
        ecs_rules,
        BTreeSet::from([
            format!("in tcp 3000-3000 {alb}"),
            format!("in tcp 32768-65535 {alb}"),
            "out -1 -1--1 0.0.0.0/0".to_string(),
        ])
    );
    let (_, redis_rules) = sg_rules(&ec2, &vpc, "spaaace-dev-redis-sg").await;
    assert_eq!(
        redis_rules,
        BTreeSet::from([format!("in tcp 6379-6379 {ecs}")])
    );

    // Everything the run created carries the four tags.
    let tagged = managed_resources(&ec2).await;
    assert_eq!(tagged.len(), resources, "{tagged:?}");

    let second = session(&moto, "dev").await;
    let plan = second.up().await.unwrap();
    assert!(plan.is_empty(), "{plan}");
    let calls = second.calls();
    assert_eq!(calls.mutating, 0, "{:?}", calls.mutating_operations());
    assert!(
        (calls.read as usize) < resources,
        "no-op reconcile made {} reads for {resources} resources",
        calls.read
    );
    let (code, stdout, _) = run(&moto, &["plan"]);
    assert_eq!(code, 0, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_named_by_plan_and_repaired_by_up() {
    let moto = Moto::start();
    session(&moto, "dev").await.up().await.unwrap();
    let ec2 = crate::common::ec2(&moto).await;
    let vpc = vpc_id(&ec2).await;
    let subnets = subnets(&ec2, &vpc).await;

    // A private route deleted.
    let rt = ec2
        .describe_route_tables()
        .filters(filter("tag:Name", "spaaace-dev-private-rt-b"))
        .send()
        .await
        .unwrap();
    let rt_id = rt.route_tables()[0].route_table_id().unwrap().to_string();
    ec2.delete_route()
        .route_table_id(&rt_id)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    // An extra rule opened.
    let (ecs_sg, _) = sg_rules(&ec2, &vpc, "spaaace-dev-ecs-sg").await;
    ec2.authorize_security_group_ingress()
        .group_id(&ecs_sg)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    // A subnet deleted (its route-table association goes with it).
    let public_c = &subnets["spaaace-dev-public-c"].2;
    let assoc = ec2
        .describe_route_tables()
        .filters(filter("association.subnet-id", public_c))
        .send()
        .await
        .unwrap();
    for a in assoc.route_tables().iter().flat_map(|t| t.associations()) {
        if a.subnet_id() == Some(public_c.as_str()) {
            ec2.disassociate_route_table()
                .association_id(a.route_table_association_id().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    ec2.delete_subnet()
        .subnet_id(public_c)
        .send()
        .await
        .unwrap();
    // A tag removed.
    let private_a = &subnets["spaaace-dev-private-a"].2;
    ec2.delete_tags()
        .resources(private_a)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("Environment")
                .build(),
        )
        .send()
        .await
        .unwrap();

    // The VPC's Name tag removed: found by its ownership tags, not duplicated.
    ec2.delete_tags()
        .resources(&vpc)
        .tags(aws_sdk_ec2::types::Tag::builder().key("Name").build())
        .send()
        .await
        .unwrap();

    let (code, stdout, stderr) = run(&moto, &["plan"]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    for needle in [
        "~ update route-table spaaace-dev-private-rt-b",
        "route 0.0.0.0/0: (absent) → nat-",
        "~ update security-group spaaace-dev-ecs-sg",
        "ingress tcp 22 from 0.0.0.0/0: allow → (absent)",
        "+ create subnet spaaace-dev-public-c",
        "~ update subnet spaaace-dev-private-a",
        "tag:Environment: (absent) → dev",
        "~ update route-table spaaace-dev-public-rt",
        "~ update vpc spaaace-dev-vpc",
        "tag:Name: (absent) → spaaace-dev-vpc",
    ] {
        assert!(stdout.contains(needle), "plan lacks {needle:?}:\n{stdout}");
    }
    let (code, json, _) = run(&moto, &["plan", "--json"]);
    assert_eq!(code, 2);
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("plan --json parses");
    assert_eq!(
        parsed["changes"].as_array().map(Vec::len),
        Some(6),
        "{json}"
    );

    let (code, _, stderr) = run(&moto, &["up", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = run(&moto, &["plan"]);
    assert_eq!(code, 0, "{stdout}");
    let (_, rules) = sg_rules(&ec2, &vpc, "spaaace-dev-ecs-sg").await;
    assert!(!rules.iter().any(|r| r.contains("22-22")), "{rules:?}");
    assert_eq!(vpc_id(&ec2).await, vpc, "the same VPC, named again");
    assert_eq!(managed_resources(&ec2).await.len(), 17);
}

/// Starts `up` as a process and kills it once `after` resources are created.
fn up_killed_after(moto: &Moto, after: usize) {
    let mut child = crate::common::cli(moto, &["up", "--yes", "--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut created = 0;
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("created ") {
            created += 1;
            if created == after {
                break;
            }
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(created, after, "up ended before it was killed");
    assert!(!status.success(), "up was not interrupted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_up_is_completed_by_the_next_one_and_down_is_safe_to_repeat() {
    let moto = Moto::start();
    let ec2 = crate::common::ec2(&moto).await;
    up_killed_after(&moto, 6);
    let partial = managed_resources(&ec2).await.len();
    assert!(
        (6..17).contains(&partial),
        "{partial} resources after the kill"
    );

    let (code, _, stderr) = run(&moto, &["up", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = run(&moto, &["plan"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(managed_resources(&ec2).await.len(), 17, "no duplicates");

    let (code, _, stderr) = run(&moto, &["down"]);
    assert_eq!(
        code, 1,
        "down without --yes and without a terminal must refuse"
    );
    assert!(stderr.contains("--yes"), "{stderr}");
    let (code, stdout, stderr) = run(&moto, &["down", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Deleted 17 resources"), "{stdout}");
    assert_eq!(managed_resources(&ec2).await, Vec::<String>::new());
    let (code, stdout, stderr) = run(&moto, &["down", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Deleted 0 resources"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_after_an_interrupted_up_leaves_nothing() {
    let moto = Moto::start();
    let ec2 = crate::common::ec2(&moto).await;
    up_killed_after(&moto, 10);
    assert!(!managed_resources(&ec2).await.is_empty());
    let (code, _, stderr) = run(&moto, &["down", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(managed_resources(&ec2).await, Vec::<String>::new());
    let vpcs = ec2
        .describe_vpcs()
        .filters(filter("tag:Project", "spaaace"))
        .send()
        .await
        .unwrap();
    assert!(vpcs.vpcs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_error_mid_apply_names_the_resource_and_exits_1() {
    let moto = Moto::start();
    session(&moto, "dev").await.up().await.unwrap();
    let ec2 = crate::common::ec2(&moto).await;
    let vpc = vpc_id(&ec2).await;
    let subnets = subnets(&ec2, &vpc).await;
    // Someone replaced our subnet with their own, on the same CIDR.
    let private_c = &subnets["spaaace-dev-private-c"].2;
    let tables = ec2
        .describe_route_tables()
        .filters(filter("association.subnet-id", private_c))
        .send()
        .await
        .unwrap();
    for a in tables.route_tables().iter().flat_map(|t| t.associations()) {
        if a.subnet_id() == Some(private_c.as_str()) {
            ec2.disassociate_route_table()
                .association_id(a.route_table_association_id().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    ec2.delete_subnet()
        .subnet_id(private_c)
        .send()
        .await
        .unwrap();
    let foreign = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.13.0/24")
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Subnet)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value("someone-elses")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let foreign = foreign.subnet().unwrap().subnet_id().unwrap().to_string();

    let (code, _, stderr) = run(&moto, &["up", "--yes"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("creating subnet spaaace-dev-private-c: InvalidSubnet.Conflict"),
        "{stderr}"
    );
    // Nothing the provisioner made is untagged: every subnet, route table
    // and group in the VPC is either ours (tagged) or AWS's / the foreign one.
    let all = ec2
        .describe_subnets()
        .filters(filter("vpc-id", &vpc))
        .send()
        .await
        .unwrap();
    for s in all.subnets() {
        let managed = s.tags().iter().any(|t| t.key() == Some("ManagedBy"));
        assert!(
            managed || s.subnet_id() == Some(foreign.as_str()),
            "untagged {s:?}"
        );
    }
    let tables = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", &vpc))
        .send()
        .await
        .unwrap();
    for t in tables.route_tables() {
        let main = t.associations().iter().any(|a| a.main() == Some(true));
        assert!(
            main || t.tags().iter().any(|t| t.key() == Some("ManagedBy")),
            "untagged {t:?}"
        );
    }
    // down clears the VPC, the foreign subnet inside it included.
    let (code, _, stderr) = run(&moto, &["down", "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(managed_resources(&ec2).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_outputs_report_what_exists_as_json() {
    let moto = Moto::start();
    let (code, json, _) = run(&moto, &["status", "--json"]);
    assert_eq!(code, 0);
    let empty: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(empty["converged"], false);
    assert!(empty["resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["state"] == "missing"));

    let (code, _, stderr) = run(&moto, &["up", "--yes", "--env", "prod"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, json, _) = run(&moto, &["status", "--env", "prod", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["converged"], true, "{json}");
    assert_eq!(
        status["resources"].as_array().unwrap().len(),
        21,
        "prod: 3 NATs and 3 EIPs"
    );

    let (code, json, _) = run(&moto, &["outputs", "--env", "prod", "--json"]);
    assert_eq!(code, 0);
    let outputs: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ec2 = crate::common::ec2(&moto).await;
    let vpcs = ec2
        .describe_vpcs()
        .filters(filter("tag:Name", "spaaace-prod-vpc"))
        .send()
        .await
        .unwrap();
    assert_eq!(outputs["vpc_id"].as_str(), vpcs.vpcs()[0].vpc_id());
    assert_eq!(outputs["private_subnet_ids"].as_array().unwrap().len(), 3);
    assert_eq!(outputs["nat_gateway_ids"].as_array().unwrap().len(), 3);
    assert!(outputs["security_group_ids"]["redis"]
        .as_str()
        .unwrap()
        .starts_with("sg-"));

    // Switching prod to a single NAT would delete the other two: plan says so.
    let single = crate::common::profile("prod");
    let text = std::fs::read_to_string(&single.path)
        .unwrap()
        .replace("per-az", "single");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod-single.toml");
    std::fs::write(&path, text).unwrap();
    let (code, stdout, _) = run(&moto, &["plan", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(
        stdout.matches("- delete nat-gateway").count(),
        2,
        "{stdout}"
    );
    assert_eq!(stdout.matches("- delete elastic-ip").count(), 2, "{stdout}");
}
