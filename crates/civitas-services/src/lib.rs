//! Services context: the one-stop procedure system — the catalogue of procedures, dossiers and
//! their workflow and clock, and the documents citizens hand in and the results they receive.

pub mod archive;
pub mod cards;
pub mod catalogue;
pub mod certificate_issue;
pub mod certificates;
pub mod civil;
pub mod codes;
pub mod corrections;
pub mod demo;
pub mod demo_history;
pub mod documents;
pub mod dossiers;
pub mod drafts;
pub mod followups;
pub mod papers;
pub mod portal;
pub mod processing;
pub mod qr_image;
pub mod submission;
pub mod verification;
pub mod workflow;
