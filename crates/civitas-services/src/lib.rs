//! Services context: the one-stop procedure system — the catalogue of procedures, dossiers and
//! their workflow and clock, and the documents citizens hand in and the results they receive.

pub mod catalogue;
pub mod certificate_issue;
pub mod certificates;
pub mod civil;
pub mod documents;
pub mod dossiers;
pub mod followups;
pub mod processing;
pub mod submission;
pub mod workflow;
