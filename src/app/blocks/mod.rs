//! Building blocks the use cases share, each in one place: recording
//! activity, idempotent creation, throttling, loading and locking rows,
//! creating users and accounts, deleting accounts, role coverage,
//! memberships, paging, and
//! mailed codes and links. They sit below the use-case modules and never
//! import them.

pub mod audit;
pub mod coverage;
pub mod deletion;
pub mod idempotency;
pub mod links;
pub mod loads;
pub mod members;
pub mod new_account;
pub mod new_user;
pub mod paging;
pub mod throttle;
