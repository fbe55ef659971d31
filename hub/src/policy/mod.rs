//! Who may do what: the publish token, JWTs, the identity a socket connects with, the throttle on
//! failed authentications, and the limits on connections, rates and sizes.

pub mod auth_failures;
pub mod identity;
pub mod jwt;
pub mod limits;
pub mod token;
