//! The inter-agency exchange: what civitas sends to other agencies and how.
//!
//! - [`delivery`]: follow-ups (interconnected procedures) delivered as signed webhooks, at
//!   least once, with back-off and dead letters; run as a job of the one runtime.
//! - [`sim`]: a stand-in agency (`civitas agency-sim`) that verifies and records deliveries.
//!
//! No HTTP routes of civitas live here (the operators' API is in `civitas-web`); no SQL either
//! (the follow-up queue is `civitas_services::followups`).

pub mod delivery;
pub mod sim;
pub mod witness;
