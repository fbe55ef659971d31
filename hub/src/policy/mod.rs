//! Who may do what: the publish token, how users sign in (open, JWTs, the application), the identity a
//! socket connects with, the throttle on failed authentications, and the limits on connections, rates and
//! sizes.

pub mod app_sign_in;
pub mod auth_failures;
pub mod identity;
pub mod jwt;
pub mod limits;
pub mod sign_in;
pub mod sign_in_cache;
pub mod token;
