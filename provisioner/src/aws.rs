//! The AWS client context: one SDK configuration (region, endpoint,
//! credentials from the usual chain) and one client per service, each with
//! the shared [`CallCounter`] attached.
//!
//! To add a service client: add the crate with the lean features (and its
//! `opt-level = 0` release override in the root Cargo.toml), a field here,
//! and a line in [`AwsContext::load`] like the others.

use crate::calls::CallCounter;
use aws_config::{BehaviorVersion, Region};
use aws_types::SdkConfig;

/// Where to reach AWS. `None` falls back to the SDK's own configuration
/// (`AWS_REGION`, `AWS_ENDPOINT_URL`, profiles).
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AwsContext {
    pub sdk: SdkConfig,
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub calls: CallCounter,
}

impl AwsContext {
    pub async fn load(options: &AwsOptions) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let calls = CallCounter::new();
        // Every client counts its calls on the same counter.
        macro_rules! client {
            ($sdk_crate:ident) => {
                $sdk_crate::Client::from_conf(
                    $sdk_crate::config::Builder::from(&sdk)
                        .interceptor(calls.clone())
                        .build(),
                )
            };
        }
        Self {
            ec2: client!(aws_sdk_ec2),
            ecs: client!(aws_sdk_ecs),
            autoscaling: client!(aws_sdk_autoscaling),
            elbv2: client!(aws_sdk_elasticloadbalancingv2),
            elasticache: client!(aws_sdk_elasticache),
            iam: client!(aws_sdk_iam),
            ssm: client!(aws_sdk_ssm),
            sdk,
            calls,
        }
    }

    pub fn region(&self) -> Option<&str> {
        self.sdk.region().map(|r| r.as_ref())
    }
}
