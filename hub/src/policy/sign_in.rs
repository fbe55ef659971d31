//! How this hub signs browsers in, decided once at start: each user names itself (open mode), a JWT
//! vouches for it (`--jwt-secret`), or the application says who it is (`--auth-url`). Publishers
//! connect with the publish token in every mode.

use super::app_sign_in::AppSignIn;
use super::jwt::JwtVerifier;

/// The hub's way of signing users in.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// Anyone may connect under a name of its own choosing.
    Open,
    /// A JWT signed with `--jwt-secret` names the user.
    Jwt(Box<JwtVerifier>),
    /// The application at `--auth-url` names the user.
    App(AppSignIn),
}
