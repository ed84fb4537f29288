//! The inter-agency exchange: what civitas sends to other agencies and how.
//!
//! - [`delivery`]: follow-ups (interconnected procedures) delivered as signed webhooks, at
//!   least once, with back-off and dead letters; run as a job of the one runtime.
//! - [`sim`]: a stand-in agency (`civitas agency-sim`) that verifies and records deliveries.
//!
//! - [`portal`]: dossier synchronisation with the National Public Service Portal, from the
//!   outbox `civitas_services::portal` fills; [`portal_sim`] stands in for the portal.
//! - [`grants`]: the governed exchange — agencies' systems, their grants (service, purpose,
//!   legal basis, fields, units, until), verify / attributes / life-event subscriptions.
//!
//! No HTTP routes of civitas live here (the API and pages are in `civitas-web`); the follow-up
//! queue is `civitas_services::followups`.

pub mod delivery;
pub mod grants;
pub mod portal;
pub mod portal_sim;
pub mod sim;
pub mod witness;
