//! Part 2 against moto 5.2.5 in server mode: `up` from empty, a no-op
//! second `up`, drift repaired, `down` from a full and a partial stack, and
//! the chaos actions moto can serve. What moto lacks is covered by
//! `workload_fakes.rs`.

use provisioner::aws::{AwsContext, AwsOptions};
use provisioner::engine::{self, ApplyOptions, Ctx, Kind, Observed, Plan, Resource};
use provisioner::network;
use provisioner::profile::Profile;
use provisioner::tags::Naming;
use provisioner::wait::WaitPolicy;
use provisioner::workload;
use provisioner::workload_profile::WorkloadProfile;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::Moto;

const PROFILE: &str = r#"
project = "spaaace"
environment = "test"
region = "us-east-1"
[network]
vpc_cidr = "10.0.0.0/16"
public_subnets = ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
private_subnets = ["10.0.11.0/24", "10.0.12.0/24", "10.0.13.0/24"]
availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
nat_gateways = "single"
[security]
game_port = 3000
host_port_range = [32768, 65535]
redis_port = 6379
[ecs]
instance_type = "t3.small"
min_size = 1
max_size = 3
desired_capacity = 2
[service]
image = "ghcr.io/spaaace/gameserver:1"
desired_count = 2
cpu = 512
memory_mib = 768
drain_seconds = 30
health_check_grace_seconds = 60
[cache]
enabled = CACHE
node_type = "cache.t4g.micro"
engine_version = "7.1"
parameter_family = "redis7"
replicas = 1
snapshot_retention_days = 7
snapshot_window = "03:00-04:00"
encryption = ENCRYPTION
# moto 5.2.5 has no parameter groups (covered by the fakes).
custom_parameter_group = false
[cost]
alb_lcu = 1.0
nat_gb_month = 20.0
egress_gb_month = 50.0
logs_gb_month = 1.0
"#;

/// One environment against one moto: the engine driven directly.
struct Env {
    _moto: Moto,
    ctx: Ctx,
    profile: Profile,
    kinds: Vec<Arc<dyn Kind>>,
    resources: Vec<Arc<dyn Resource>>,
}

impl Env {
    async fn start(cache: bool, encryption: bool) -> Env {
        let moto = Moto::start();
        let text = PROFILE
            .replace("CACHE", &cache.to_string())
            .replace("ENCRYPTION", &encryption.to_string());
        let profile = Profile::parse(Path::new("test.toml"), &text).unwrap();
        let aws = AwsContext::load(&AwsOptions {
            region: Some("us-east-1".into()),
            endpoint_url: Some(moto.endpoint.clone()),
            ..AwsOptions::default()
        })
        .await;
        let ctx = Ctx {
            aws: Arc::new(aws),
            naming: Naming::new("spaaace", "test"),
            wait: WaitPolicy {
                interval: Duration::from_millis(50),
                timeout: Duration::from_secs(30),
                report_every: Duration::from_secs(30),
                settle: Duration::from_secs(30),
            },
            concurrency: 8,
        };
        let mut env = Env {
            _moto: moto,
            ctx,
            profile,
            kinds: Vec::new(),
            resources: Vec::new(),
        };
        env.build(None).await;
        env
    }

    async fn build(&mut self, image: Option<&str>) {
        let n = &self.ctx.naming;
        let zones = network::zones(&self.ctx, &self.profile).await.unwrap();
        let keys = provisioner::stack::network_keys(n, zones.len());
        let w = WorkloadProfile::from_profile(&self.profile).unwrap();
        self.kinds = network::kinds();
        self.kinds.extend(workload::kinds(&w));
        self.resources = network::resources(n, &self.profile, &zones);
        self.resources.extend(
            workload::resources(&self.ctx, &self.profile, &w, &keys, image)
                .await
                .unwrap()
                .resources,
        );
    }

    async fn plan(&self) -> Plan {
        let inventory = engine::discover(&self.ctx, &self.kinds).await.unwrap();
        engine::plan(&self.resources, &inventory).unwrap()
    }

    async fn up(&self) -> Plan {
        let plan = self.plan().await;
        let options = ApplyOptions { concurrency: 8 };
        engine::apply(&self.ctx, &self.kinds, &self.resources, &plan, options)
            .await
            .unwrap_or_else(|e| panic!("up failed: {e}"));
        plan
    }

    async fn owned(&self) -> Vec<Observed> {
        let inventory = engine::discover(&self.ctx, &self.kinds).await.unwrap();
        inventory.all().filter(|o| o.owned).cloned().collect()
    }

    async fn down(&self) {
        let items = self.owned().await;
        engine::delete_observed(&self.ctx, &self.kinds, &items)
            .await
            .unwrap_or_else(|e| panic!("down failed: {e}"));
    }

    fn mutating(&self) -> u64 {
        self.ctx.aws.calls.snapshot().mutating
    }

    fn aws(&self) -> &AwsContext {
        &self.ctx.aws
    }
}

fn described(plan: &Plan) -> String {
    plan.changes
        .iter()
        .map(|c| {
            let attrs: Vec<String> = c.changes.iter().map(ToString::to_string).collect();
            format!(
                "{:?} {} {} [{}]",
                c.action,
                c.kind,
                c.name,
                attrs.join("; ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn up_from_empty_creates_each_resource_once_with_its_attributes_and_a_second_up_changes_nothing(
) {
    let env = Env::start(true, false).await;
    env.up().await;
    let a = env.aws();

    // Exactly one of each: moto silently duplicates repeated creates.
    let lbs = a.elbv2.describe_load_balancers().send().await.unwrap();
    assert_eq!(lbs.load_balancers().len(), 1);
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.load_balancer_name(), Some("spaaace-test-alb"));
    let lb_arn = lb.load_balancer_arn().unwrap();
    let lb_attrs = a
        .elbv2
        .describe_load_balancer_attributes()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .unwrap();
    let attr = |k: &str| {
        lb_attrs
            .attributes()
            .iter()
            .find(|x| x.key() == Some(k))
            .and_then(|x| x.value())
            .map(String::from)
    };
    assert_eq!(attr("idle_timeout.timeout_seconds").as_deref(), Some("120"));
    assert_eq!(
        attr("load_balancing.cross_zone.enabled").as_deref(),
        Some("true")
    );

    let tgs = a.elbv2.describe_target_groups().send().await.unwrap();
    assert_eq!(tgs.target_groups().len(), 1);
    let tg = &tgs.target_groups()[0];
    // The numbers of fixtures/load-balancer.toml, shared with the HA lab.
    assert_eq!(tg.health_check_path(), Some("/ready"));
    assert_eq!(tg.health_check_interval_seconds(), Some(5));
    assert_eq!(tg.health_check_timeout_seconds(), Some(3));
    assert_eq!(
        (tg.healthy_threshold_count(), tg.unhealthy_threshold_count()),
        (Some(2), Some(2))
    );
    assert_eq!(tg.port(), Some(3000));
    let tg_arn = tg.target_group_arn().unwrap();
    let tg_attrs = a
        .elbv2
        .describe_target_group_attributes()
        .target_group_arn(tg_arn)
        .send()
        .await
        .unwrap();
    let tattr = |k: &str| {
        tg_attrs
            .attributes()
            .iter()
            .find(|x| x.key() == Some(k))
            .and_then(|x| x.value())
            .map(String::from)
    };
    assert_eq!(tattr("stickiness.enabled").as_deref(), Some("true"));
    assert_eq!(tattr("stickiness.type").as_deref(), Some("lb_cookie"));
    assert_eq!(
        tattr("stickiness.lb_cookie.duration_seconds").as_deref(),
        Some("86400")
    );
    assert_eq!(
        tattr("deregistration_delay.timeout_seconds").as_deref(),
        Some("30")
    );

    let listeners = a
        .elbv2
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listeners.listeners().len(),
        1,
        "only HTTP: the profile names no certificate"
    );
    let l = &listeners.listeners()[0];
    assert_eq!(l.port(), Some(80));
    assert_eq!(l.default_actions()[0].target_group_arn(), Some(tg_arn));

    let groups = a
        .elasticache
        .describe_replication_groups()
        .send()
        .await
        .unwrap();
    assert_eq!(groups.replication_groups().len(), 1);
    let rg = &groups.replication_groups()[0];
    assert_eq!(rg.multi_az().map(|m| m.as_str()), Some("enabled"));
    assert_eq!(rg.automatic_failover().map(|m| m.as_str()), Some("enabled"));
    assert_eq!(rg.member_clusters().len(), 2);
    assert_eq!(rg.snapshot_retention_limit(), Some(7));
    let endpoint = workload::replication_group::primary_endpoint(rg).unwrap();

    let asgs = a
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    assert_eq!(asgs.auto_scaling_groups().len(), 1);
    let asg = &asgs.auto_scaling_groups()[0];
    let private = a
        .ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("cidr-block")
                .values("10.0.11.0/24")
                .values("10.0.12.0/24")
                .values("10.0.13.0/24")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut want: Vec<&str> = private
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id())
        .collect();
    want.sort_unstable();
    let mut have: Vec<&str> = asg.vpc_zone_identifier().unwrap().split(',').collect();
    have.sort_unstable();
    assert_eq!(have, want, "the hosts live in the three private subnets");
    assert_eq!(asg.new_instances_protected_from_scale_in(), Some(true));

    let lt_id = asg
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap();
    let lt = a
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(lt_id)
        .versions("$Default")
        .send()
        .await
        .unwrap();
    let data = lt.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    let ami = a
        .ssm
        .get_parameter()
        .name("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")
        .send()
        .await
        .unwrap();
    assert_eq!(data.image_id(), ami.parameter().and_then(|p| p.value()));
    let user_data =
        String::from_utf8(aws_smithy_types::base64::decode(data.user_data().unwrap()).unwrap())
            .unwrap();
    assert!(
        user_data.contains("ECS_CLUSTER=spaaace-test-cluster"),
        "{user_data}"
    );
    assert_eq!(
        data.metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str()),
        Some("required")
    );

    let clusters = a.ecs.list_clusters().send().await.unwrap();
    assert_eq!(clusters.cluster_arns().len(), 1);
    let cluster = a
        .ecs
        .describe_clusters()
        .clusters("spaaace-test-cluster")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cluster.clusters()[0].capacity_providers(),
        ["spaaace-test-hosts"]
    );

    let td = a
        .ecs
        .describe_task_definition()
        .task_definition("spaaace-test-gameserver")
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    let c = &td.container_definitions()[0];
    assert_eq!(c.port_mappings()[0].container_port(), Some(3000));
    let env_var = |n: &str| {
        c.environment()
            .iter()
            .find(|e| e.name() == Some(n))
            .and_then(|e| e.value())
    };
    assert_eq!(
        env_var("REDIS_URL"),
        Some(format!("redis://{endpoint}").as_str())
    );
    assert_eq!(env_var("REDIS_ENABLED"), Some("true"));
    assert_eq!(env_var("PORT"), Some("3000"));
    assert!(c.secrets().is_empty(), "no AUTH token without encryption");
    assert!(
        c.stop_timeout().unwrap() > 30,
        "the stop timeout outlasts the drain"
    );
    assert_eq!(
        c.health_check().unwrap().command(),
        ["CMD", "/usr/local/bin/healthcheck", "/ready"]
    );

    let services = a
        .ecs
        .list_services()
        .cluster("spaaace-test-cluster")
        .send()
        .await
        .unwrap();
    assert_eq!(services.service_arns().len(), 1);
    let svc = a
        .ecs
        .describe_services()
        .cluster("spaaace-test-cluster")
        .services("spaaace-test-gameserver")
        .send()
        .await
        .unwrap();
    let svc = &svc.services()[0];
    assert_eq!(svc.load_balancers()[0].target_group_arn(), Some(tg_arn));
    assert_eq!(svc.desired_count(), 2);

    let repos = a
        .ecr
        .describe_repositories()
        .repository_names("spaaace-test-gameserver")
        .send()
        .await
        .unwrap();
    let repo = &repos.repositories()[0];
    assert_eq!(
        repo.image_scanning_configuration()
            .map(|c| c.scan_on_push()),
        Some(true)
    );
    let lifecycle = a
        .ecr
        .get_lifecycle_policy()
        .repository_name("spaaace-test-gameserver")
        .send()
        .await
        .unwrap();
    assert!(lifecycle
        .lifecycle_policy_text()
        .unwrap()
        .contains("imageCountMoreThan"));

    // A second `up` finds nothing to do and makes no mutating call.
    let before = env.mutating();
    let plan = env.up().await;
    assert!(plan.is_empty(), "second up planned:\n{}", described(&plan));
    assert_eq!(env.mutating(), before, "a converged stack was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prod_passes_the_auth_token_as_a_secret_and_never_as_an_attribute() {
    let env = Env::start(true, true).await;
    let plan = env.up().await;
    let a = env.aws();
    let td = a
        .ecs
        .describe_task_definition()
        .task_definition("spaaace-test-gameserver")
        .send()
        .await
        .unwrap();
    let c = &td.task_definition().unwrap().container_definitions()[0];
    let secret = &c.secrets()[0];
    assert_eq!(secret.name(), "REDIS_PASSWORD");
    assert!(
        secret
            .value_from()
            .ends_with("parameter/spaaace/test/redis-auth-token"),
        "{}",
        secret.value_from()
    );
    assert!(c
        .environment()
        .iter()
        .any(|e| e.value().is_some_and(|v| v.starts_with("rediss://"))));
    // The gameserver reads REDIS_PASSWORD itself: the image's entry point runs as is.
    assert!(c.entry_point().is_empty() && c.command().is_empty());
    let plaintext = a
        .ssm
        .get_parameter()
        .name("/spaaace/test/redis-auth-token")
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let plaintext = plaintext
        .parameter()
        .and_then(|p| p.value())
        .unwrap()
        .to_string();
    assert!(
        !format!("{td:?}").contains(&plaintext),
        "the token is in the task definition"
    );
    assert!(
        !described(&plan).contains(&plaintext),
        "the plan shows the token"
    );
    let again = env.plan().await;
    assert!(
        again.is_empty(),
        "prod does not converge:\n{}",
        described(&again)
    );
    let token = a
        .ssm
        .get_parameter()
        .name("/spaaace/test/redis-auth-token")
        .send()
        .await
        .unwrap();
    assert_eq!(
        token
            .parameter()
            .and_then(|p| p.r#type())
            .map(|t| t.as_str()),
        Some("SecureString")
    );
    let rg = a
        .elasticache
        .describe_replication_groups()
        .send()
        .await
        .unwrap();
    let rg = &rg.replication_groups()[0];
    assert_eq!(
        (
            rg.transit_encryption_enabled(),
            rg.at_rest_encryption_enabled(),
            rg.auth_token_enabled()
        ),
        (Some(true), Some(true), Some(true))
    );
    let exec = a
        .iam
        .get_role_policy()
        .role_name("spaaace-test-task-execution")
        .policy_name("spaaace")
        .send()
        .await
        .unwrap();
    assert!(provisioner::aws::iam::canonical(exec.policy_document())
        .contains("parameter/spaaace/test/redis-auth-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drift_on_stickiness_idle_timeout_health_check_desired_count_and_image_is_planned_then_repaired(
) {
    let mut env = Env::start(true, false).await;
    env.up().await;
    // Someone rolls out another image by hand...
    env.build(Some("ghcr.io/spaaace/gameserver:rogue")).await;
    env.up().await;
    env.build(None).await;
    // ...and edits settings in the console.
    let a = env.aws().clone();
    let lb = a
        .elbv2
        .describe_load_balancers()
        .names("spaaace-test-alb")
        .send()
        .await
        .unwrap();
    let lb_arn = lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let tg = a
        .elbv2
        .describe_target_groups()
        .names("spaaace-test-game")
        .send()
        .await
        .unwrap();
    let tg_arn = tg.target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerAttribute, TargetGroupAttribute};
    a.elbv2
        .modify_target_group_attributes()
        .target_group_arn(&tg_arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key("stickiness.lb_cookie.duration_seconds")
                .value("60")
                .build(),
        )
        .send()
        .await
        .unwrap();
    a.elbv2
        .modify_target_group()
        .target_group_arn(&tg_arn)
        .health_check_path("/health")
        .send()
        .await
        .unwrap();
    a.elbv2
        .modify_load_balancer_attributes()
        .load_balancer_arn(&lb_arn)
        .attributes(
            LoadBalancerAttribute::builder()
                .key("idle_timeout.timeout_seconds")
                .value("60")
                .build(),
        )
        .send()
        .await
        .unwrap();
    a.ecs
        .update_service()
        .cluster("spaaace-test-cluster")
        .service("spaaace-test-gameserver")
        .desired_count(5)
        .send()
        .await
        .unwrap();

    let plan = env.plan().await;
    let text = described(&plan);
    assert!(
        text.contains("stickiness.lb_cookie.duration_seconds: 60 → 86400"),
        "{text}"
    );
    assert!(
        text.contains("idle_timeout.timeout_seconds: 60 → 120"),
        "{text}"
    );
    assert!(
        text.contains("health_check_path: /health → /ready"),
        "{text}"
    );
    assert!(text.contains("desired_count: 5 → 2"), "{text}");
    assert!(
        text.contains("image: ghcr.io/spaaace/gameserver:rogue → ghcr.io/spaaace/gameserver:1"),
        "{text}"
    );
    assert!(
        text.contains("ecs-service") && text.contains("task_definition"),
        "{text}"
    );
    env.up().await;
    let after = env.plan().await;
    assert!(
        after.is_empty(),
        "still drifting after up:\n{}",
        described(&after)
    );
    let svc = a
        .ecs
        .describe_services()
        .cluster("spaaace-test-cluster")
        .services("spaaace-test-gameserver")
        .send()
        .await
        .unwrap();
    let running = svc.services()[0].task_definition().unwrap().to_string();
    let td = a
        .ecs
        .describe_task_definition()
        .task_definition(&running)
        .send()
        .await
        .unwrap();
    assert_eq!(
        td.task_definition().unwrap().container_definitions()[0].image(),
        Some("ghcr.io/spaaace/gameserver:1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn down_from_a_full_stack_leaves_nothing_and_a_second_down_is_a_no_op() {
    // moto never finishes deleting a replication group, so this stack runs
    // without ElastiCache; the fakes cover its deletion.
    let env = Env::start(false, false).await;
    env.up().await;
    assert!(env
        .owned()
        .await
        .iter()
        .any(|o| o.kind == workload::ecs_service::KIND));
    env.down().await;
    let left = env.owned().await;
    assert!(left.is_empty(), "left behind: {left:?}");
    let a = env.aws();
    assert!(a
        .elbv2
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .is_empty());
    assert!(a
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()
        .is_empty());
    let before = env.mutating();
    env.down().await;
    assert_eq!(env.mutating(), before, "a second down changed something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn down_from_a_partial_stack_leaves_nothing() {
    let env = Env::start(false, false).await;
    // Half an `up`: the ALB and the cluster exist, nothing that needs them.
    let wanted = [
        "vpc",
        "subnet",
        "security-group",
        "load-balancer",
        "target-group",
        "ecs-cluster",
        "iam-role",
    ];
    let partial: Vec<Arc<dyn Resource>> = env
        .resources
        .iter()
        .filter(|r| wanted.contains(&r.key().kind))
        .cloned()
        .collect();
    let inventory = engine::discover(&env.ctx, &env.kinds).await.unwrap();
    let plan = engine::plan(&partial, &inventory).unwrap();
    engine::apply(
        &env.ctx,
        &env.kinds,
        &partial,
        &plan,
        ApplyOptions { concurrency: 8 },
    )
    .await
    .unwrap();
    assert!(env.owned().await.iter().any(|o| o.kind == "load-balancer"));
    env.down().await;
    let left = env.owned().await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_stops_a_task_terminates_a_host_and_takes_a_zone_out_until_up_restores_it() {
    let env = Env::start(false, false).await;
    env.up().await;
    let a = env.aws();
    // moto does not register ASG hosts with ECS: register one and start a
    // task of the service on it, as the agent and the scheduler would.
    let hosts = a
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    let host = hosts.auto_scaling_groups()[0].instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    let doc = serde_json::json!({"instanceId": host, "region": "us-east-1", "availabilityZone": "us-east-1a"}).to_string();
    let ci = a
        .ecs
        .register_container_instance()
        .cluster("spaaace-test-cluster")
        .instance_identity_document(doc)
        .send()
        .await
        .unwrap();
    let ci_arn = ci
        .container_instance()
        .unwrap()
        .container_instance_arn()
        .unwrap()
        .to_string();
    let started = a
        .ecs
        .start_task()
        .cluster("spaaace-test-cluster")
        .task_definition("spaaace-test-gameserver")
        .container_instances(&ci_arn)
        .group("service:spaaace-test-gameserver")
        .send()
        .await
        .unwrap();
    let task = started.tasks()[0].task_arn().unwrap().to_string();

    let report = provisioner::chaos::stop_task(&env.ctx).await.unwrap();
    assert_eq!(report.targets, vec![task.clone()]);
    let t = a
        .ecs
        .describe_tasks()
        .cluster("spaaace-test-cluster")
        .tasks(&task)
        .send()
        .await
        .unwrap();
    assert_eq!(t.tasks()[0].desired_status(), Some("STOPPED"));

    let report = provisioner::chaos::terminate_instance(&env.ctx)
        .await
        .unwrap();
    let victim = report.targets[0].split(' ').next().unwrap().to_string();
    let state = a
        .ec2
        .describe_instances()
        .instance_ids(&victim)
        .send()
        .await
        .unwrap();
    let code = state.reservations()[0].instances()[0]
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string());
    assert!(
        matches!(code.as_deref(), Some("shutting-down") | Some("terminated")),
        "{code:?}"
    );

    let report = provisioner::chaos::az_outage(&env.ctx, "b").await.unwrap();
    assert_eq!(report.targets[0], "zone us-east-1b");
    assert!(report.undo.contains("provisioner up"));
    let g = a
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    let subnets = g.auto_scaling_groups()[0]
        .vpc_zone_identifier()
        .unwrap()
        .split(',')
        .count();
    assert_eq!(subnets, 2, "the group may no longer launch in us-east-1b");
    for victim in &report.targets[1..] {
        let s = a
            .ec2
            .describe_instances()
            .instance_ids(victim)
            .send()
            .await
            .unwrap();
        let zone = s.reservations()[0].instances()[0]
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap()
            .to_string();
        assert_eq!(zone, "us-east-1b");
    }
    let plan = env.plan().await;
    assert!(
        described(&plan).contains("auto-scaling-group"),
        "{}",
        described(&plan)
    );
    env.up().await;
    let g = a
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    assert_eq!(
        g.auto_scaling_groups()[0]
            .vpc_zone_identifier()
            .unwrap()
            .split(',')
            .count(),
        3,
        "up restores the zone"
    );
}
