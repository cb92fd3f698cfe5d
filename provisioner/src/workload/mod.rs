//! The workload on the engine: the ALB, ECS on EC2 and ElastiCache Redis
//! that run the game, one module per resource kind, wired here into the
//! stack: [`kinds`] for discovery and teardown, [`resources`] for the
//! desired state, [`outputs`] for what a person needs afterwards.

pub mod auth_token;
pub mod auto_scaling_group;
pub mod cache_parameter_group;
pub mod cache_subnet_group;
pub mod capacity_provider;
pub mod cluster_capacity;
pub mod ecr_repository;
pub mod ecs_cluster;
pub mod ecs_service;
pub mod iam_role;
pub mod instance_profile;
pub mod launch_template;
pub mod listener;
pub mod load_balancer;
pub mod replication_group;
pub mod rollout;
pub mod target_group;
pub mod task_definition;

use crate::engine::{Ctx, Key, Kind, Observed, Resource};
use crate::load_balancing::LoadBalancing;
use crate::profile::Profile;
use crate::tags::Naming;
use crate::workload_profile::{instance_architecture, WorkloadProfile};
use crate::Error;
use std::collections::HashMap;
use std::sync::Arc;

/// Kind names of the network layer this one depends on.
pub const VPC_KIND: &str = "vpc";
pub const SUBNET_KIND: &str = "subnet";
pub const SECURITY_GROUP_KIND: &str = "security-group";
pub const ROUTE_TABLE_KIND: &str = "route-table";

/// The network layer's resources the workload references.
#[derive(Debug, Clone)]
pub struct NetworkKeys {
    pub vpc: Key,
    pub public_subnets: Vec<Key>,
    pub private_subnets: Vec<Key>,
    /// The private subnets' route tables: hosts there reach ECS (and the
    /// image registry) only once their default route to the NAT exists.
    pub private_route_tables: Vec<Key>,
    pub alb_security_group: Key,
    pub ecs_security_group: Key,
    pub redis_security_group: Key,
}

/// Every kind of the workload, for discovery and teardown. The parameter
/// group kind only when the profile uses one: emulators without parameter
/// groups fail even to list them.
pub fn kinds(workload: &WorkloadProfile) -> Vec<Arc<dyn Kind>> {
    let mut kinds: Vec<Arc<dyn Kind>> = vec![
        Arc::new(ecr_repository::EcrRepositoryKind),
        Arc::new(load_balancer::LoadBalancerKind),
        Arc::new(target_group::TargetGroupKind),
        Arc::new(listener::ListenerKind),
        Arc::new(iam_role::IamRoleKind),
        Arc::new(instance_profile::InstanceProfileKind),
        Arc::new(launch_template::LaunchTemplateKind),
        Arc::new(auto_scaling_group::AutoScalingGroupKind),
        Arc::new(ecs_cluster::EcsClusterKind),
        Arc::new(capacity_provider::CapacityProviderKind),
        Arc::new(cluster_capacity::ClusterCapacityKind),
        Arc::new(task_definition::TaskDefinitionKind),
        Arc::new(ecs_service::EcsServiceKind),
        Arc::new(cache_subnet_group::CacheSubnetGroupKind),
        Arc::new(auth_token::AuthTokenKind),
        Arc::new(replication_group::ReplicationGroupKind),
    ];
    if workload.cache.custom_parameter_group {
        kinds.push(Arc::new(cache_parameter_group::CacheParameterGroupKind));
    }
    kinds
}

/// The desired workload: every resource, and the task definition apart for
/// `deploy`.
pub struct Desired {
    pub resources: Vec<Arc<dyn Resource>>,
    pub task: Arc<task_definition::TaskDefinition>,
}

/// The desired workload of an environment. Reads the current ECS-optimized
/// AMI id (one SSM call); `image` overrides the profile's image.
pub async fn resources(
    ctx: &Ctx,
    profile: &Profile,
    workload: &WorkloadProfile,
    network: &NetworkKeys,
    image: Option<&str>,
) -> Result<Desired, Error> {
    let naming = &ctx.naming;
    // ARNs and the log region follow the region the clients use (from
    // --region or the SDK's configuration), not the profile's.
    let location = ctx.aws.location();
    let balancing = LoadBalancing::shipped();
    let ami = launch_template::resolve_ami(ctx, instance_architecture(&workload.ecs.instance_type))
        .await?;
    let port = profile.security.game_port;
    let cache = &workload.cache;
    let auth = (cache.enabled && cache.encryption).then(|| auth_token::key(naming));
    let parameter_group =
        (cache.enabled && cache.custom_parameter_group).then(|| cache_parameter_group::key(naming));
    let cluster = ecs_cluster::name(naming);
    let uses_repository = image.is_none() && workload.service.image.is_none();

    let mut out: Vec<Arc<dyn Resource>> = vec![
        Arc::new(ecr_repository::EcrRepository {
            naming: naming.clone(),
        }),
        Arc::new(load_balancer::LoadBalancer {
            naming: naming.clone(),
            network: network.clone(),
            idle_timeout_seconds: balancing.idle_timeout_seconds,
        }),
        Arc::new(target_group::TargetGroup {
            naming: naming.clone(),
            network: network.clone(),
            port,
            balancing: balancing.clone(),
        }),
        Arc::new(listener::Listener {
            naming: naming.clone(),
            port: 80,
            certificate_arn: None,
        }),
        Arc::new(iam_role::IamRole {
            naming: naming.clone(),
            name: iam_role::instance_role_name(naming),
            service: "ec2.amazonaws.com",
            policy: iam_role::PolicySource::Fixed(iam_role::instance_policy(&location, &cluster)),
        }),
        Arc::new(iam_role::IamRole {
            naming: naming.clone(),
            name: iam_role::execution_role_name(naming),
            service: "ecs-tasks.amazonaws.com",
            policy: iam_role::PolicySource::Execution {
                location: location.clone(),
                token: auth.clone(),
                repository: uses_repository.then(|| ecr_repository::arn(naming, &location)),
            },
        }),
        Arc::new(instance_profile::InstanceProfile {
            naming: naming.clone(),
        }),
        Arc::new(launch_template::LaunchTemplate {
            naming: naming.clone(),
            network: network.clone(),
            ami,
            instance_type: workload.ecs.instance_type.clone(),
            root_volume_gb: workload.ecs.root_volume_gb,
        }),
        Arc::new(auto_scaling_group::AutoScalingGroup {
            naming: naming.clone(),
            network: network.clone(),
            min_size: workload.ecs.min_size,
            max_size: workload.ecs.max_size,
            desired_capacity: workload.ecs.desired_capacity,
        }),
        Arc::new(ecs_cluster::EcsCluster {
            naming: naming.clone(),
        }),
        Arc::new(capacity_provider::CapacityProvider {
            naming: naming.clone(),
        }),
        Arc::new(cluster_capacity::ClusterCapacity {
            naming: naming.clone(),
        }),
    ];
    if cache.enabled {
        out.push(Arc::new(cache_subnet_group::CacheSubnetGroup {
            naming: naming.clone(),
            network: network.clone(),
        }));
        out.push(Arc::new(replication_group::ReplicationGroup {
            naming: naming.clone(),
            network: network.clone(),
            node_type: cache.node_type.clone(),
            engine_version: cache.engine_version.clone(),
            parameter_group: parameter_group.clone(),
            parameter_family: cache.parameter_family.clone(),
            replicas: cache.replicas,
            snapshot_retention_days: cache.snapshot_retention_days,
            snapshot_window: cache.snapshot_window.clone(),
            encryption: cache.encryption,
        }));
    }
    if let Some(cert) = &workload.alb.certificate_arn {
        out.push(Arc::new(listener::Listener {
            naming: naming.clone(),
            port: 443,
            certificate_arn: Some(cert.clone()),
        }));
    }
    if parameter_group.is_some() {
        out.push(Arc::new(cache_parameter_group::CacheParameterGroup {
            naming: naming.clone(),
            family: cache.parameter_family.clone(),
            node_type: cache.node_type.clone(),
        }));
    }
    if auth.is_some() {
        out.push(Arc::new(auth_token::AuthToken {
            naming: naming.clone(),
        }));
    }
    let task = Arc::new(task_definition::TaskDefinition {
        naming: naming.clone(),
        spec: task_definition::TaskSpec {
            image: image_of(naming, workload, image),
            port,
            cpu: workload.service.cpu,
            memory_mib: workload.service.memory_mib,
            stop_timeout: workload.stop_timeout_seconds(),
            health_check_path: balancing.health_check_path.clone(),
            redis_enabled: workload.service.redis_enabled,
            hydration_enabled: workload.service.hydration_enabled,
            redis_tls: cache.enabled && cache.encryption,
            region: location.region.clone(),
        },
        replication_group: cache.enabled.then(|| replication_group::key(naming)),
        execution_role: Key::new(iam_role::KIND, iam_role::execution_role_name(naming)),
        auth_token: auth,
    });
    out.push(task.clone());
    out.push(Arc::new(ecs_service::EcsService {
        naming: naming.clone(),
        task: task.clone(),
        desired_count: workload.service.desired_count,
        port,
        health_check_grace_seconds: workload.service.health_check_grace_seconds,
    }));
    Ok(Desired {
        resources: out,
        task,
    })
}

/// The task's image: `--image`, else the profile's, else the environment's
/// repository.
fn image_of(
    naming: &Naming,
    workload: &WorkloadProfile,
    flag: Option<&str>,
) -> task_definition::Image {
    match flag
        .map(str::to_string)
        .or_else(|| workload.service.image.clone())
    {
        Some(uri) => task_definition::Image::Given(uri),
        None => task_definition::Image::Repository(ecr_repository::key(naming)),
    }
}

/// The ALB's DNS name, the Redis primary endpoint, the cluster and the
/// service, as far as they exist.
pub fn outputs(
    ctx: &Ctx,
    existing: &HashMap<Key, Observed>,
) -> serde_json::Map<String, serde_json::Value> {
    let naming = &ctx.naming;
    let mut out = serde_json::Map::new();
    if let Some(repo) = existing.get(&ecr_repository::key(naming)) {
        let help = ecr_repository::PushHelp::new(&repo.id, &ctx.aws.location().region);
        out.insert("ecr_repository_uri".into(), repo.id.clone().into());
        out.insert("push_commands".into(), help.commands.into());
    }
    if let Some(lb) = existing.get(&load_balancer::key(naming)) {
        let dns = lb.details.get("dns_name").cloned().unwrap_or_default();
        out.insert("alb_dns_name".into(), dns.into());
    }
    if let Some(rg) = existing.get(&replication_group::key(naming)) {
        out.insert("redis_primary_endpoint".into(), rg.id.clone().into());
    }
    if existing.contains_key(&ecs_cluster::key(naming)) {
        out.insert("ecs_cluster".into(), ecs_cluster::name(naming).into());
    }
    if existing.contains_key(&ecs_service::key(naming)) {
        out.insert("ecs_service".into(), ecs_service::name(naming).into());
    }
    out
}
