//! Services context: the one-stop procedure system. So far: the documents citizens hand in and
//! the results they receive (content-checked, stored once per owner by SHA-256).

pub mod documents;
pub mod dossiers;
pub mod workflow;
