//! The OS threads that hash passwords, at a lower scheduling priority than
//! the rest of identityd.
//!
//! An argon2id hash keeps a core busy for tens of milliseconds. On threads of
//! the same priority as the async runtime, a login storm takes the cores in
//! whole scheduler time slices and every other call waits behind it. At a
//! higher nice value the kernel runs the runtime's threads first whenever
//! they have work, and hashing gets every cycle they leave.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;

/// The nice value hashing threads run at (0 is normal, 19 the lowest).
pub const HASHING_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of hashing threads fed through one queue. The threads end
/// when every clone of the handle is dropped.
#[derive(Debug, Clone)]
pub struct HashingThreads {
    jobs: Sender<Job>,
}

/// The hashing threads have stopped (they only stop when dropped).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the password hashing threads have stopped")]
pub struct Stopped;

impl HashingThreads {
    /// Starts `count` threads (at least one).
    pub fn start(count: usize) -> std::io::Result<Self> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..count.max(1) {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("identityd-hash-{n}"))
                .spawn(move || {
                    lower_priority();
                    work(&queue);
                })?;
        }
        Ok(Self { jobs })
    }

    /// Queues `job` for the next free thread.
    pub fn submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), Stopped> {
        self.jobs.send(Box::new(job)).map_err(|_| Stopped)
    }
}

/// Runs jobs until the queue closes. A panicking job is contained, so the
/// pool never shrinks; its caller sees its reply channel dropped.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let next = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => {
                let _ = catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    // On Linux, PRIO_PROCESS with `who` 0 names the calling thread only.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HASHING_NICE) };
    if result != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "could not lower the priority of a password hashing thread"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_and_a_panicking_job_does_not_shrink_the_pool() {
        let threads = HashingThreads::start(1).expect("start");
        let (tx, rx) = std::sync::mpsc::channel();
        threads.submit(|| panic!("a broken job")).expect("queued");
        let reply = tx.clone();
        threads
            .submit(move || reply.send(7).expect("send"))
            .expect("queued");
        assert_eq!(rx.recv().expect("the job ran after the panic"), 7);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_run_at_a_lower_priority() {
        let threads = HashingThreads::start(1).expect("start");
        let (tx, rx) = std::sync::mpsc::channel();
        threads
            .submit(move || {
                // SAFETY: as in lower_priority; getpriority reads plain integers.
                let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
                tx.send(nice).expect("send");
            })
            .expect("queued");
        assert_eq!(rx.recv().expect("a reply"), HASHING_NICE);
    }
}
