//! One clock: every time identityd records comes from the clock it was built
//! with, so tests (and replicas) see one time line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use identityd::domain::Timestamp;
use identityd::proto::{ListActivityRequest, ListMailsRequest, Mail, MailStatus};

use crate::helpers::{TestApp, spawn_app};
use crate::people::{account_of, active_user};

/// Microseconds since the Unix epoch of a wire timestamp.
fn micros(time: Option<&prost_types::Timestamp>) -> i64 {
    let time = time.expect("a timestamp");
    time.seconds * 1_000_000 + i64::from(time.nanos) / 1_000
}

/// Asserts `time` lies on the moved clock between `from` and `to`, which a
/// time read from the system clock (a year earlier) cannot.
fn assert_on_clock(
    what: &str,
    time: Option<&prost_types::Timestamp>,
    from: Timestamp,
    to: Timestamp,
) {
    let at = micros(time);
    assert!(
        (from.as_micros()..=to.as_micros()).contains(&at),
        "{what} is dated {at}, not on the test clock ({} ..= {})",
        from.as_micros(),
        to.as_micros()
    );
}

/// The outbox once every mail in it is sent (the worker runs on its own
/// task; this waits for delivery, never for an expiry).
async fn sent_mails(app: &TestApp) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mails = app
            .admin
            .clone()
            .list_mails(ListMailsRequest::default())
            .await
            .expect("list mails")
            .into_inner()
            .mails;
        let all_sent = !mails.is_empty() && mails.iter().all(|m| m.status() == MailStatus::Sent);
        if all_sent || Instant::now() > deadline {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn with_a_moved_clock_users_activity_and_mail_carry_the_clocks_time() {
    let app = spawn_app().await;
    app.clock.advance(Duration::from_secs(400 * 86_400));
    let from = app.clock.now();

    let old_owner = active_user(&app, "olive").await;
    let new_owner = active_user(&app, "nina").await;
    let account_id = account_of(&app, &old_owner.id, "Moved Clock Ltd").await;
    app.accounts
        .clone()
        .transfer_ownership(identityd::proto::TransferOwnershipRequest {
            account_id: account_id.clone(),
            new_owner_user_id: new_owner.id.clone(),
            remove_previous_owner: false,
        })
        .await
        .expect("transfer the account");
    let mails = sent_mails(&app).await;
    let to = app.clock.now();

    assert_on_clock("olive's creation", old_owner.create_time.as_ref(), from, to);
    assert_on_clock("nina's creation", new_owner.create_time.as_ref(), from, to);

    let events = app
        .admin
        .clone()
        .list_activity(ListActivityRequest {
            account_id: account_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list the account's activity")
        .into_inner()
        .events;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"account.created") && actions.contains(&"account.ownership_transferred"),
        "{actions:?}"
    );
    for event in &events {
        assert_on_clock(&event.action, event.time.as_ref(), from, to);
    }

    assert_eq!(mails.len(), 2, "one notice to each owner: {mails:?}");
    for mail in &mails {
        assert_eq!(mail.status(), MailStatus::Sent, "{mail:?}");
        assert_on_clock("the mail's queueing", mail.create_time.as_ref(), from, to);
        assert_on_clock("the mail's sending", mail.send_time.as_ref(), from, to);
    }
}

/// Files whose system-time reads wait for the sign-in use cases that another
/// branch is changing (`app/auth.rs` calls the three system-time wrappers;
/// `app/idempotency.rs` dates its keys itself). Each count must fall to zero
/// and its entry go; a new read anywhere fails the test.
const AWAITING_THE_CLOCK: &[(&str, usize)] = &[];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn only_the_clock_reads_the_system_time() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut reads = BTreeMap::new();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .expect("under the crate")
            .to_string_lossy()
            .replace('\\', "/");
        if relative == "src/domain/time.rs" {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("read a source file");
        let count = source
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .map(|line| {
                line.matches("Timestamp::now()").count() + line.matches("SystemTime::now").count()
            })
            .sum::<usize>();
        if count > 0 {
            reads.insert(relative, count);
        }
    }
    let awaiting: BTreeMap<String, usize> = AWAITING_THE_CLOCK
        .iter()
        .map(|(file, count)| ((*file).to_owned(), *count))
        .collect();
    assert_eq!(
        reads, awaiting,
        "the system time is read outside domain::Clock: use App::now() or pass the use case's `now`"
    );
}
