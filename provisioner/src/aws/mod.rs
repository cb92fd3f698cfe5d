//! The AWS client context: one SDK configuration (region, endpoint,
//! credentials from the usual chain, the retry settings) and one client per
//! service, each with the shared [`CallCounter`] attached; and one module per
//! service with its tag helpers, `find_*` functions returning `Option`,
//! status reads and deletes where "already gone" is success.
//!
//! To add a service client: add the crate with the lean features (and its
//! `opt-level = 0` release override in the root Cargo.toml), a field here,
//! a line in [`AwsContext::load`] like the others, and its module.

/// `tag_list` and `aws_tags` for a service whose tag builder can fail (a
/// missing key or value): IAM, SSM and ECR.
macro_rules! checked_tags {
    ($tag:ty) => {
        /// Tags from pairs.
        pub fn tag_list(
            pairs: impl IntoIterator<Item = (String, String)>,
            name: &str,
        ) -> Result<Vec<$tag>, crate::Error> {
            pairs
                .into_iter()
                .map(|(k, v)| {
                    <$tag>::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| crate::Error::unexpected("tag", name, e.to_string()))
                })
                .collect()
        }

        /// The managed tags of the resource `name`.
        pub fn aws_tags(
            naming: &crate::tags::Naming,
            name: &str,
        ) -> Result<Vec<$tag>, crate::Error> {
            tag_list(
                naming
                    .tags(name)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v)),
                name,
            )
        }
    };
}

pub mod autoscaling;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod elasticache;
pub mod elbv2;
pub mod iam;
pub mod ssm;

use crate::calls::CallCounter;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_types::SdkConfig;
use std::time::Duration;

/// Where to reach AWS. `None` falls back to the SDK's own configuration
/// (`AWS_REGION`, `AWS_ENDPOINT_URL`, profiles).
#[derive(Debug, Clone)]
pub struct AwsOptions {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Attempts per call, the first included, for throttling and server
    /// errors (the SDK's standard retry mode, exponential backoff with
    /// jitter).
    pub max_attempts: u32,
    /// First backoff for throttling; doubled per attempt up to 20 s.
    pub initial_backoff: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AwsContext {
    pub sdk: SdkConfig,
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elasticache: aws_sdk_elasticache::Client,
    pub iam: aws_sdk_iam::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub calls: CallCounter,
}

impl AwsContext {
    pub async fn load(options: &AwsOptions) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(
            RetryConfig::standard()
                .with_max_attempts(options.max_attempts.max(1))
                .with_initial_backoff(options.initial_backoff)
                .with_max_backoff(Duration::from_secs(20)),
        );
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let calls = CallCounter::new();
        // Every client counts its calls on the same counter and gives up at
        // once on an endpoint that refuses connections.
        macro_rules! client {
            ($sdk_crate:ident) => {
                $sdk_crate::Client::from_conf(
                    $sdk_crate::config::Builder::from(&sdk)
                        .interceptor(calls.clone())
                        .retry_classifier(RefusedIsFinal)
                        .build(),
                )
            };
        }
        Self {
            ec2: client!(aws_sdk_ec2),
            ecs: client!(aws_sdk_ecs),
            ecr: client!(aws_sdk_ecr),
            autoscaling: client!(aws_sdk_autoscaling),
            elbv2: client!(aws_sdk_elasticloadbalancingv2),
            elasticache: client!(aws_sdk_elasticache),
            iam: client!(aws_sdk_iam),
            ssm: client!(aws_sdk_ssm),
            sdk,
            calls,
        }
    }

    /// The region the clients resolved (from `--region`, the environment or
    /// the SDK's configuration files).
    pub fn region(&self) -> Option<&str> {
        self.sdk.region().map(|r| r.as_ref())
    }

    /// Where the clients' ARNs point.
    pub fn location(&self) -> Location {
        let region = self.region().unwrap_or_default().to_string();
        Location {
            partition: partition(&region),
            region,
        }
    }
}

/// The partition and region the clients resolved: what every ARN this tool
/// writes (policies, log configuration) must name, whatever the profile's
/// own region says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub partition: &'static str,
    pub region: String,
}

impl Location {
    /// An ARN in any account of this partition and region.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:*:{resource}",
            self.partition, self.region
        )
    }
}

/// The AWS partition of a region: China, GovCloud and the isolated regions
/// have their own ARN prefixes (AWS General Reference, "Amazon Resource
/// Names": `arn:partition:service:region:account-id:...`, partitions `aws`,
/// `aws-cn`, `aws-us-gov`; the ISO partitions as in the SDKs' partitions.json).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else {
        "aws"
    }
}

/// Stops the SDK from retrying a connection the endpoint refused: nothing
/// listens there (a wrong `--endpoint-url`, an emulator not started), and
/// eight attempts with backoff would only delay the error.
#[derive(Debug)]
struct RefusedIsFinal;

impl ClassifyRetry for RefusedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let refused = ctx
            .output_or_error()
            .and_then(|r| r.err())
            .and_then(|e| e.as_connector_error())
            .is_some_and(|c| refused(c));
        if refused {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "RefusedIsFinal"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

fn refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::partition;

    #[test]
    fn arns_take_the_partition_of_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("eu-west-3"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-iso-east-1"), "aws-iso");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    }
}
