//! The AWS client context: one SDK configuration (region, endpoint,
//! credentials from the usual chain) and one client per service, each with
//! the shared [`CallCounter`] attached.
//!
//! To add a service client (part 2: ECS, ELBv2, ...): add the crate with the
//! lean features, a field here, and build it in [`AwsContext::load`] with
//! `with_counter`, exactly as `ec2` is.

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
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        Self { sdk, ec2, calls }
    }

    pub fn region(&self) -> Option<&str> {
        self.sdk.region().map(|r| r.as_ref())
    }
}
