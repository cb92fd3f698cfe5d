//! SDK-level fakes (aws-smithy-mocks) for what moto cannot show: each fake
//! client answers a fixed sequence of calls and panics on any other call,
//! so a test also checks the exact calls in their order. Error answers use
//! the codes and messages AWS sends, each with its source.

use aws_smithy_mocks::{create_mock_http_client, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use provisioner::aws::AwsContext;
use provisioner::calls::CallCounter;
use provisioner::engine::{Change, Ctx, Key, Observed, State};
use provisioner::tags::Naming;
use provisioner::wait::WaitPolicy;
use provisioner::workload::{NetworkKeys, SECURITY_GROUP_KIND, SUBNET_KIND, VPC_KIND};
use std::sync::Arc;
use std::time::Duration;

/// One fake client per service; an empty rule list answers nothing.
#[derive(Default)]
pub struct Fakes<'a> {
    pub ec2: Vec<&'a Rule>,
    pub autoscaling: Vec<&'a Rule>,
    pub elasticache: Vec<&'a Rule>,
    pub ecs: Vec<&'a Rule>,
    pub ecr: Vec<&'a Rule>,
    pub elbv2: Vec<&'a Rule>,
    pub ssm: Vec<&'a Rule>,
    pub iam: Vec<&'a Rule>,
}

/// A client of `$sdk` answered by `$rules`, in order (the crates'
/// `test-util` feature is not needed, so the SDK is not built twice).
macro_rules! fake_client {
    ($sdk:ident, $rules:expr) => {{
        let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        for rule in $rules {
            mocks = mocks.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-east-1"))
                .credentials_provider($sdk::config::Credentials::new(
                    "AKIDFAKE", "fake", None, None, "fake",
                ))
                .http_client(create_mock_http_client())
                .interceptor(mocks)
                .build(),
        )
    }};
}

/// A context whose clients are the fakes, with waits in milliseconds.
pub fn ctx(f: Fakes<'_>) -> Ctx {
    ctx_in("us-east-1", f)
}

/// The same, with clients resolved to `region`.
pub fn ctx_in(region: &str, f: Fakes<'_>) -> Ctx {
    let aws = AwsContext {
        sdk: aws_types::SdkConfig::builder()
            .region(aws_types::region::Region::new(region.to_string()))
            .build(),
        ec2: fake_client!(aws_sdk_ec2, f.ec2),
        ecs: fake_client!(aws_sdk_ecs, f.ecs),
        ecr: fake_client!(aws_sdk_ecr, f.ecr),
        autoscaling: fake_client!(aws_sdk_autoscaling, f.autoscaling),
        elbv2: fake_client!(aws_sdk_elasticloadbalancingv2, f.elbv2),
        elasticache: fake_client!(aws_sdk_elasticache, f.elasticache),
        iam: fake_client!(aws_sdk_iam, f.iam),
        ssm: fake_client!(aws_sdk_ssm, f.ssm),
        calls: CallCounter::new(),
    };
    Ctx {
        aws: Arc::new(aws),
        naming: Naming::new("spaaace", "dev"),
        wait: WaitPolicy {
            interval: Duration::from_millis(1),
            timeout: Duration::from_secs(10),
            report_every: Duration::from_secs(60),
            settle: Duration::from_secs(10),
        },
        concurrency: 4,
    }
}

/// An error answer with AWS's code and a stand-in message.
pub fn meta(code: &str) -> ErrorMetadata {
    answer(code, &format!("fake {code}"))
}

/// An error answer with AWS's code and message.
pub fn answer(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

pub fn naming() -> Naming {
    Naming::new("spaaace", "dev")
}

pub fn network() -> NetworkKeys {
    let k = |kind, name: &str| Key::new(kind, name);
    NetworkKeys {
        vpc: k(VPC_KIND, "spaaace-dev-vpc"),
        public_subnets: vec![k(SUBNET_KIND, "pub-a"), k(SUBNET_KIND, "pub-b")],
        private_subnets: vec![k(SUBNET_KIND, "priv-a"), k(SUBNET_KIND, "priv-b")],
        private_route_tables: vec![
            k("route-table", "spaaace-dev-private-rt-a"),
            k("route-table", "spaaace-dev-private-rt-b"),
        ],
        alb_security_group: k(SECURITY_GROUP_KIND, "alb"),
        ecs_security_group: k(SECURITY_GROUP_KIND, "ecs"),
        redis_security_group: k(SECURITY_GROUP_KIND, "redis"),
    }
}

pub fn change(attr: &str, old: &str, new: &str) -> Change {
    Change {
        attr: attr.into(),
        old: Some(old.into()),
        new: Some(new.into()),
    }
}

pub fn observed(kind: &'static str, id: &str, name: &str) -> Observed {
    Observed {
        kind,
        id: id.into(),
        name: Some(name.into()),
        attrs: Default::default(),
        details: Default::default(),
        state: State::Ready,
        owned: true,
    }
}
