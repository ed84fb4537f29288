//! Identity context: the server's signing keys (kept in the database so several server
//! processes share them) and the signed bearer tokens that carry a role and administrative units.

pub mod keys;
pub mod tokens;

pub use keys::KeyRing;
pub use tokens::{Claims, Role, TokenError};
