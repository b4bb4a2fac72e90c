//! Authorization: every call is authenticated and checked against the policy
//! of its gRPC method before any handler runs. A method with no policy is denied.

mod layer;
mod policy;

pub use layer::AuthzLayer;
pub use policy::{POLICIES, Policy, is_served_method, policy_for};
