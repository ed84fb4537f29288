//! The population register: people, households and residence, every change kept as a revision
//! with its actor and legal basis, folded-name search, and a synthetic population generator.
//!
//! Knows nothing of HTTP. All SQL lives in [`store`]; the rest is pure.

pub mod model;
pub mod search;
pub mod store;
pub mod synth;

pub use model::{
    Change, Household, HouseholdId, HouseholdMember, LegalBasis, Person, PersonError, Residence, Revision,
    TemporaryResidence,
};
pub use store::{ImportOutcome, Register, RegisterError};
