//! Who may do what: the publish token, JWTs, the identity a socket connects with, and the limits on
//! connections, rates and sizes.

pub mod identity;
pub mod jwt;
pub mod limits;
pub mod token;
