//! Counts AWS API calls with an SDK interceptor, split into mutating and
//! read calls, so that `up` can report them and tests can assert that a
//! converged stack is left alone (zero mutating calls).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Operations whose names start with these only read.
const READ_PREFIXES: &[&str] = &["Describe", "List", "Get"];

#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    inner: Arc<Mutex<BTreeMap<String, u64>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallCounts {
    pub mutating: u64,
    pub read: u64,
    /// Per operation, as `Service.Operation`.
    pub by_operation: BTreeMap<String, u64>,
}

impl CallCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts taken so far.
    pub fn snapshot(&self) -> CallCounts {
        let by_operation = self.lock().clone();
        let mut counts = CallCounts {
            by_operation,
            ..CallCounts::default()
        };
        for (op, n) in &counts.by_operation {
            if is_read(op) {
                counts.read += n;
            } else {
                counts.mutating += n;
            }
        }
        counts
    }

    fn record(&self, operation: String) {
        *self.lock().entry(operation).or_insert(0) += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        // A poisoned counter still holds valid counts.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn is_read(qualified_op: &str) -> bool {
    let op = qualified_op.rsplit('.').next().unwrap_or(qualified_op);
    READ_PREFIXES.iter().any(|p| op.starts_with(p))
}

/// The IAM action prefix of each service, by the name the SDK gives it.
const IAM_PREFIXES: &[(&str, &str)] = &[
    ("Auto Scaling", "autoscaling"),
    ("EC2", "ec2"),
    ("ECR", "ecr"),
    ("ECS", "ecs"),
    ("ElastiCache", "elasticache"),
    ("Elastic Load Balancing v2", "elasticloadbalancing"),
    ("IAM", "iam"),
    ("SSM", "ssm"),
];

/// The IAM action a call needs (`ec2:CreateVpc`), when its service is one
/// this tool uses.
pub fn iam_action(qualified_op: &str) -> Option<String> {
    let (service, op) = qualified_op.rsplit_once('.')?;
    let prefix = IAM_PREFIXES.iter().find(|(s, _)| *s == service)?.1;
    Some(format!("{prefix}:{op}"))
}

impl CallCounts {
    /// The IAM actions these calls needed.
    pub fn iam_actions(&self) -> std::collections::BTreeSet<String> {
        self.by_operation
            .keys()
            .filter_map(|op| iam_action(op))
            .collect()
    }

    /// Counts of the mutating operations only, for diagnostics.
    pub fn mutating_operations(&self) -> BTreeMap<&str, u64> {
        self.by_operation
            .iter()
            .filter(|(op, _)| !is_read(op))
            .map(|(op, n)| (op.as_str(), *n))
            .collect()
    }
}

impl std::fmt::Display for CallCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} mutating, {} read ({} total)",
            self.mutating,
            self.read,
            self.mutating + self.read
        )
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    // Counted per attempt (before transmit), so retries show up as calls.
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = match cfg.load::<Metadata>() {
            Some(m) => format!("{}.{}", m.service(), m.name()),
            None => "unknown.Unknown".to_string(),
        };
        self.record(op);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_reads_from_mutations() {
        let c = CallCounter::new();
        c.record("ec2.DescribeVpcs".into());
        c.record("ec2.DescribeVpcs".into());
        c.record("ec2.CreateVpc".into());
        c.record("ecs.ListClusters".into());
        let s = c.snapshot();
        assert_eq!((s.mutating, s.read), (1, 3));
        assert_eq!(s.mutating_operations().get("ec2.CreateVpc"), Some(&1));
    }

    #[test]
    fn calls_name_their_iam_actions() {
        assert_eq!(
            iam_action("Elastic Load Balancing v2.CreateLoadBalancer").as_deref(),
            Some("elasticloadbalancing:CreateLoadBalancer")
        );
        assert_eq!(
            iam_action("EC2.CreateVpc").as_deref(),
            Some("ec2:CreateVpc")
        );
        assert_eq!(iam_action("Unknown.Thing"), None);
    }
}
