//! The environment's lock through the real binary against moto: two `up`
//! runs serialize, a dead holder's lock is taken over, `--lock-timeout`
//! gives up naming the holder.

use crate::common::{managed_resources, Moto};
use provisioner::lock::{self, Holder};
use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Writes a lock as another run would have left it.
async fn plant(moto: &Moto, holder: &str, expires: u64) {
    let session = crate::common::session(moto, "dev").await;
    let h = Holder {
        holder: holder.into(),
        token: "0123".into(),
        since: now() - 600,
        expires,
        machine: "ci-runner-42 pid:[4026531836]".into(),
        pid: 1234,
    };
    session
        .ctx
        .aws
        .ssm
        .put_parameter()
        .name(lock::parameter_name(&session.ctx))
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .value(serde_json::to_string(&h).unwrap())
        .send()
        .await
        .unwrap();
}

/// A running `up --yes`, its stderr collected line by line by `reader`.
struct Up {
    child: Child,
    reader: Option<JoinHandle<()>>,
}

impl Up {
    /// Waits for the process and for the last of its stderr, so that what
    /// it said just before exiting is in `lines` when this returns.
    fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        status
    }
}

/// `up --yes` as `holder`.
fn up_as(moto: &Moto, holder: &str, extra: &[&str]) -> (Up, Arc<Mutex<Vec<String>>>) {
    let mut args = vec!["up", "--yes"];
    args.extend_from_slice(extra);
    let mut child = crate::common::cli(moto, &args)
        .env("SPAAACE_LOCK_HOLDER", holder)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let up = Up {
        child,
        reader: Some(reader),
    };
    (up, lines)
}

fn said(lines: &Arc<Mutex<Vec<String>>>, needle: &str) -> bool {
    lines.lock().unwrap().iter().any(|l| l.contains(needle))
}

fn text(lines: &Arc<Mutex<Vec<String>>>) -> String {
    lines.lock().unwrap().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_ups_serialize_and_the_second_finds_nothing_to_do() {
    let moto = Moto::start();
    // Hold the lock, so that both runs start while it is taken.
    let session = crate::common::session(&moto, "dev").await;
    let held = lock::acquire(&session.ctx, "the-test", Duration::ZERO)
        .await
        .unwrap();
    let (mut one, one_said) = up_as(&moto, "ci-job-1", &[]);
    let (mut two, two_said) = up_as(&moto, "ci-job-2", &[]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let waiting = "waiting for the lock of environment dev: held by the-test";
    while !(said(&one_said, waiting) && said(&two_said, waiting)) {
        assert!(
            Instant::now() < deadline,
            "not both waiting:\n{}\n--\n{}",
            text(&one_said),
            text(&two_said)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    held.release(&session.ctx).await.unwrap();
    assert!(one.wait().success(), "{}", text(&one_said));
    assert!(two.wait().success(), "{}", text(&two_said));

    let ec2 = crate::common::ec2(&moto).await;
    assert_eq!(managed_resources(&ec2).await.len(), 17, "no duplicates");
    // One applied everything, the other found nothing left to change
    // (without the lock both would have created a stack).
    let applied = [&one_said, &two_said]
        .iter()
        .filter(|s| said(s, "created vpc spaaace-dev-vpc"))
        .count();
    let idle = [&one_said, &two_said]
        .iter()
        .filter(|s| said(s, "nothing to change"))
        .count();
    assert_eq!(
        (applied, idle),
        (1, 1),
        "{}\n--\n{}",
        text(&one_said),
        text(&two_said)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lock_expires_and_is_taken_over() {
    let moto = Moto::start();
    plant(&moto, "ci-job-gone", now() - 1).await;
    let (mut up, lines) = up_as(&moto, "ci-job-next", &[]);
    assert!(up.wait().success(), "{}", text(&lines));
    assert!(
        said(
            &lines,
            "taking over the lock of environment dev from ci-job-gone: it expired"
        ),
        "{}",
        text(&lines)
    );
    let ec2 = crate::common::ec2(&moto).await;
    assert_eq!(managed_resources(&ec2).await.len(), 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_timeout_gives_up_naming_the_holder_and_changes_nothing() {
    let moto = Moto::start();
    plant(&moto, "ci-job-7", now() + 3600).await;
    let (mut up, lines) = up_as(&moto, "ci-job-8", &["--lock-timeout", "1s"]);
    let status = up.wait();
    assert_eq!(status.code(), Some(1), "{}", text(&lines));
    assert!(
        said(&lines, "environment dev is locked by ci-job-7 since"),
        "{}",
        text(&lines)
    );
    let ec2 = crate::common::ec2(&moto).await;
    assert!(managed_resources(&ec2).await.is_empty());
}
