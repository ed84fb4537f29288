//! One integration-test binary (STYLE.md 14): the real server on port 0 with a fresh database
//! per test, on SQLite and on PostgreSQL; the CLI as a user runs it; the pages in Chromium.

mod helpers;

mod accounts;
mod archive;
mod archive_pages;
mod browser;
mod cards;
mod chip;
mod civil;
mod cli;
mod cluster;
mod codes;
mod committees;
mod completeness;
mod exchange;
mod fuzz;
mod journeys;
mod oidc;
mod oidc_accounts;
mod onboarding;
mod one_stop;
mod people;
mod policy;
mod portal;
mod register_changes;
mod reliability;
mod reports;
mod security;
mod service;
mod steering_pages;
mod transparency;
