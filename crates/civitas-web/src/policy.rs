//! The one authorization policy: every route (API, pages, protocol endpoints) declares here who
//! may call it, with which scopes, under which administrative-unit rule, and with which purpose
//! its reads are logged. The [`crate::guard::enforce`] layer wraps every route: a request whose
//! route and method have no entry never reaches a handler (405 with the methods the table
//! allows), a route registered without any entry stops the server from starting
//! ([`PolicyRouter::route`]), and the caller's identity reaches handlers only through the
//! extensions this layer sets (the [`crate::auth::Caller`] and [`crate::auth::Citizen`]
//! extractors refuse to work without them).
//!
//! The unit rule depends on the resource (the person, dossier or certificate must be loaded
//! first), so handlers apply it; the table names it, the README's access section is generated
//! from it, and the generated matrix test (`tests/api/policy.rs`) checks every route × role ×
//! covering / non-covering unit × scope against it.

use axum::http::Method;

use civitas_identity::Role;

use crate::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone, signed in or not (public data, sign-in forms, protocol discovery).
    Public,
    /// An OAuth / OpenID protocol endpoint that authenticates its caller itself, by the rules of
    /// its RFC (client authentication at the token, PAR, revocation and introspection endpoints;
    /// the bearer token at userinfo), answering in the protocol's error format.
    Protocol,
    /// An officer's or agency system's bearer token with one of these roles (API).
    Roles(&'static [Role]),
    /// A citizen's access token, issued by the e-ID provider to a relying party (API), carrying
    /// the rule's scopes.
    Citizen,
    /// Either a bearer token with one of these roles, or the citizen concerned (with the rule's
    /// scopes).
    RolesOrCitizen(&'static [Role]),
    /// A signed-in officer's browser (level-2 session, or a pasted token) with one of these roles.
    OfficerPage(&'static [Role]),
    /// A citizen's browser session at the e-ID provider.
    CitizenPage,
}

/// Which administrative units the caller's must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitRule {
    /// No unit rule (public data, the caller's own data, system operations).
    None,
    /// The person read or changed: one of their communes (or, without one, their province of
    /// registration). Outside: 403.
    Person,
    /// The household's commune. Outside: 403.
    Household,
    /// The dossier's competent unit; a province covers its communes. Outside: 404 (a dossier's
    /// existence is not revealed). A citizen: their own dossiers only.
    Dossier,
    /// The certificate's registering unit; a province covers its communes. Outside: 404. A
    /// citizen: certificates naming them only.
    Certificate,
    /// The commune a registration goes to (residence, a new person). Outside: 403.
    Destination,
    /// The holder of a card read at a counter: anyone may be received anywhere (Decree 118),
    /// but outside the caller's units the card must agree with the register (name, birth date,
    /// sex); a difference is refused with 422 naming the fields, never the register's values.
    CardHolder,
    /// A list: only items within the caller's units (a province lists its communes' items).
    List,
    /// The unit named in the request (`?unit=`; default: the caller's first unit): one of the
    /// caller's units or a commune within them. Outside: 403.
    Requested,
    /// The steering committee's unit (a task's committee); a province covers its communes'
    /// committees. Outside: 404.
    Committee,
}

/// One route's access rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub who: Who,
    /// Scopes a citizen's token must carry (for [`Who::Citizen`] and [`Who::RolesOrCitizen`]).
    pub scopes: &'static [&'static str],
    pub unit: UnitRule,
    /// The purpose logged with every read of personal data this route makes (an agency
    /// system's `X-Purpose` is logged beside it).
    pub purpose: Option<&'static str>,
    /// The exchange service an agency system needs a grant of to call this route (with the
    /// purpose it states in `X-Purpose`); every route open to agency systems names one.
    pub service: Option<&'static str>,
}

impl Rule {
    /// The rule, for agency systems only under a grant of `service`.
    const fn granted(self, service: &'static str) -> Rule {
        Rule { service: Some(service), ..self }
    }

    /// Whether the rule lets agency systems in.
    pub fn admits_agencies(&self) -> bool {
        match self.who {
            Who::Roles(rs) | Who::RolesOrCitizen(rs) => {
                let mut i = 0;
                while i < rs.len() {
                    if matches!(rs[i], Role::AgencySystem) {
                        return true;
                    }
                    i += 1;
                }
                false
            }
            _ => false,
        }
    }
}

const fn rule(
    method: &'static str,
    path: &'static str,
    who: Who,
    scopes: &'static [&'static str],
    unit: UnitRule,
    purpose: Option<&'static str>,
) -> Rule {
    Rule { method, path, who, scopes, unit, purpose, service: None }
}

const fn public(method: &'static str, path: &'static str) -> Rule {
    rule(method, path, Who::Public, &[], UnitRule::None, None)
}

use Role::{Auditor, Leader, OnestopOfficer, Operator, RegistryOfficer, Specialist};

/// Roles that read the register within their units (agency systems state a purpose).
pub const REGISTER_READERS: &[Role] =
    &[RegistryOfficer, OnestopOfficer, Role::AgencySystem, Auditor, Specialist, Leader];
/// Roles that use the officer pages of the register.
pub const REGISTER_PAGE_READERS: &[Role] = &[RegistryOfficer, OnestopOfficer, Auditor, Specialist, Leader];
/// Roles that process dossiers.
pub const PROCESSING: &[Role] = &[OnestopOfficer, Specialist, Leader];
/// Roles that administer e-ID accounts (the police who keep the register).
pub const EID_ADMINISTRATORS: &[Role] = &[RegistryOfficer];

const REG: &[Role] = &[RegistryOfficer];
const ONESTOP: &[Role] = &[OnestopOfficer];
const LEADER: &[Role] = &[Leader];
const OPERATOR: &[Role] = &[Operator];
/// Who sees the archive's packages (titles name applicants; no payload is served).
const ARCHIVE_READERS: &[Role] = &[Leader, Auditor];
const OPERATOR_OR_AUDITOR: &[Role] = &[Operator, Auditor];
const AGENCY: &[Role] = &[Role::AgencySystem];
/// Who sees Project 06's card counters of their units.
const CARD_COUNTERS: &[Role] = &[RegistryOfficer, Leader, Auditor];
/// Roles that read the steering figures of their units (every officer; not agency systems).
pub const REPORT_READERS: &[Role] = &[Leader, Auditor, RegistryOfficer, OnestopOfficer, Specialist];
/// The exchange service of the register API's reads by agency systems.
const REGISTER: &str = "register";

use UnitRule as U;
use Who::{CitizenPage, OfficerPage, Protocol, Roles, RolesOrCitizen};

/// Every route of the server.
pub static RULES: &[Rule] = &[
    // ----- register -----
    rule("GET", "/api/v1/people", Roles(REGISTER_READERS), &[], U::List, Some("register-search")).granted(REGISTER),
    rule("POST", "/api/v1/people", Roles(REG), &[], U::Destination, Some("register-change")),
    rule("GET", "/api/v1/people/{pid}", Roles(REGISTER_READERS), &[], U::Person, Some("register-read"))
        .granted(REGISTER),
    rule("PATCH", "/api/v1/people/{pid}", Roles(REG), &[], U::Person, Some("register-change")),
    rule("GET", "/api/v1/people/{pid}/history", Roles(REGISTER_READERS), &[], U::Person, Some("register-read"))
        .granted(REGISTER),
    rule("POST", "/api/v1/people/{pid}/residence", Roles(REG), &[], U::Destination, Some("register-change")),
    rule(
        "GET",
        "/api/v1/people/{pid}/residence-confirmation",
        Roles(REGISTER_READERS),
        &[],
        U::Person,
        Some("residence-confirmation"),
    )
    .granted(REGISTER),
    rule("GET", "/api/v1/households/{id}", Roles(REGISTER_READERS), &[], U::Household, Some("register-read"))
        .granted(REGISTER),
    // ----- chip cards -----
    rule("GET", "/api/v1/people/{pid}/cards", Roles(REGISTER_READERS), &[], U::Person, Some("register-read"))
        .granted(REGISTER),
    rule("POST", "/api/v1/people/{pid}/cards/lost", Roles(REG), &[], U::Person, Some("register-change")),
    rule("POST", "/api/v1/people/{pid}/cards/{id}/state", Roles(REG), &[], U::Person, Some("register-change")),
    rule("GET", "/api/v1/cards/counters", Roles(CARD_COUNTERS), &[], U::List, None),
    // ----- Project 06 steering -----
    public("GET", "/api/v1/indicators"),
    rule("GET", "/api/v1/indicators/{code}", Roles(REPORT_READERS), &[], U::Requested, None),
    rule("GET", "/api/v1/reports/06a", Roles(REPORT_READERS), &[], U::Requested, None),
    public("GET", "/api/v1/index"),
    public("GET", "/api/v1/index/{unit}"),
    // The card's cryptography for any caller of these roles; the register match (booleans)
    // only for a holder within the caller's units, the read logged.
    rule("POST", "/api/v1/cards/verify", Roles(REGISTER_READERS), &[], U::None, Some("card-verification"))
        .granted("verify"),
    // ----- remote onboarding -----
    // The phone has no account yet: a session token (X-Onboarding-Token) bound to an ID number
    // and an SMS-verified phone; the use cases throttle per ID number, phone and address.
    public("POST", "/api/v1/onboarding/sessions"),
    public("GET", "/api/v1/onboarding/sessions/{id}"),
    public("POST", "/api/v1/onboarding/sessions/{id}/phone"),
    public("POST", "/api/v1/onboarding/sessions/{id}/challenge"),
    public("POST", "/api/v1/onboarding/sessions/{id}/card"),
    // Requests of the holder's commune only (outside: 404).
    rule("GET", "/api/v1/onboarding/reviews", Roles(EID_ADMINISTRATORS), &[], U::List, Some("eid-administration")),
    rule("GET", "/api/v1/onboarding/reviews/{id}", Roles(EID_ADMINISTRATORS), &[], U::List, Some("eid-administration")),
    rule(
        "POST",
        "/api/v1/onboarding/reviews/{id}/decision",
        Roles(EID_ADMINISTRATORS),
        &[],
        U::List,
        Some("eid-administration"),
    ),
    public("GET", "/api/v1/units/communes"),
    public("GET", "/api/v1/units/communes/suggest"),
    public("GET", "/api/v1/units/old-communes/{code}"),
    // ----- calendar -----
    public("GET", "/api/v1/calendar/holidays"),
    public("GET", "/api/v1/calendar/working-days"),
    public("GET", "/api/v1/calendar/lunar"),
    // ----- civil status -----
    rule("GET", "/api/v1/certificates", RolesOrCitizen(PROCESSING), &["certificates"], U::List, Some("civil-status")),
    rule(
        "GET",
        "/api/v1/certificates/{id}/pdf",
        RolesOrCitizen(PROCESSING),
        &["certificates"],
        U::Certificate,
        Some("civil-status"),
    ),
    rule("POST", "/api/v1/certificates/{id}/correct", Roles(LEADER), &[], U::Certificate, Some("civil-status")),
    rule("POST", "/api/v1/certificates/{id}/revoke", Roles(LEADER), &[], U::Certificate, Some("civil-status")),
    public("GET", "/verify"),
    // A certificate PDF uploaded for checking: nothing is stored or changed (no session, no CSRF).
    public("POST", "/verify"),
    // ----- dossiers -----
    public("GET", "/api/v1/dossiers/{code}/status"),
    rule("GET", "/api/v1/me/dossiers", Who::Citizen, &["dossiers"], U::None, None),
    public("GET", "/api/v1/procedures"),
    public("GET", "/api/v1/procedures/{code}"),
    rule("POST", "/api/v1/me/documents", Who::Citizen, &["documents"], U::None, None),
    rule("GET", "/api/v1/me/documents", Who::Citizen, &["documents"], U::None, None),
    rule("GET", "/api/v1/me/documents/{id}", Who::Citizen, &["documents"], U::None, None),
    rule("POST", "/api/v1/dossiers", Who::Citizen, &["dossiers"], U::None, None),
    rule("POST", "/api/v1/counter/card-check", Roles(ONESTOP), &[], U::CardHolder, Some("counter-intake")),
    // Intake at any counter, whatever the applicant's residence (Decree 118/2025).
    rule("POST", "/api/v1/counter/dossiers", Roles(ONESTOP), &[], U::CardHolder, Some("counter-intake")),
    rule("GET", "/api/v1/work-queue", Roles(PROCESSING), &[], U::List, Some("dossier-processing")),
    rule("GET", "/api/v1/ratings/officials", Roles(PROCESSING), &[], U::List, None),
    rule(
        "GET",
        "/api/v1/dossiers/{code}",
        RolesOrCitizen(PROCESSING),
        &["dossiers"],
        U::Dossier,
        Some("dossier-processing"),
    ),
    rule("POST", "/api/v1/dossiers/{code}/actions", Roles(PROCESSING), &[], U::Dossier, Some("dossier-processing")),
    rule("POST", "/api/v1/dossiers/{code}/supplement", Who::Citizen, &["dossiers"], U::Dossier, None),
    rule("POST", "/api/v1/dossiers/{code}/withdraw", Who::Citizen, &["dossiers"], U::Dossier, None),
    rule("POST", "/api/v1/dossiers/{code}/apology", Roles(PROCESSING), &[], U::Dossier, Some("dossier-processing")),
    rule("POST", "/api/v1/dossiers/{code}/rating", Who::Citizen, &["dossiers"], U::Dossier, None),
    rule(
        "GET",
        "/api/v1/dossiers/{code}/receipt.pdf",
        RolesOrCitizen(PROCESSING),
        &["dossiers"],
        U::Dossier,
        Some("dossier-processing"),
    ),
    rule(
        "GET",
        "/api/v1/dossiers/{code}/apology.pdf",
        RolesOrCitizen(PROCESSING),
        &["dossiers"],
        U::Dossier,
        Some("dossier-processing"),
    ),
    rule(
        "GET",
        "/api/v1/dossiers/{code}/documents/{id}",
        RolesOrCitizen(PROCESSING),
        &["dossiers"],
        U::Dossier,
        Some("dossier-processing"),
    ),
    // ----- interconnection -----
    rule("GET", "/api/v1/webhooks/dead", Roles(OPERATOR), &[], U::None, None),
    rule("POST", "/api/v1/webhooks/{id}/replay", Roles(OPERATOR), &[], U::None, None),
    rule("GET", "/api/v1/agencies", Roles(OPERATOR), &[], U::None, None),
    // The national portal's synchronisation: backlog, dead letters, replay.
    rule("GET", "/api/v1/portal/status", Roles(OPERATOR), &[], U::None, None),
    rule("GET", "/api/v1/portal/dead", Roles(OPERATOR), &[], U::None, None),
    rule("POST", "/api/v1/portal/dead/{id}/replay", Roles(OPERATOR), &[], U::None, None),
    rule("GET", "/officer/portal", OfficerPage(OPERATOR), &[], U::None, None),
    // The electronic archive: hand-over list, drift, disposal (decided by a leader of the unit).
    rule("GET", "/api/v1/archive/packages", Roles(ARCHIVE_READERS), &[], U::List, None),
    rule("POST", "/api/v1/archive/packages/{code}/disposal", Roles(LEADER), &[], U::Dossier, None),
    rule("GET", "/officer/archive", OfficerPage(ARCHIVE_READERS), &[], U::List, None),
    rule("POST", "/officer/archive/{code}/disposal", OfficerPage(LEADER), &[], U::Dossier, None),
    // Document codes: given in a dossier of the caller's units (outside: 404).
    rule("GET", "/api/v1/document-codes/{code}", Roles(PROCESSING), &[], U::Dossier, Some("dossier-processing")),
    rule("GET", "/officer/document-codes", OfficerPage(PROCESSING), &[], U::Dossier, Some("dossier-processing")),
    rule("POST", "/officer/portal/dead/{id}/replay", OfficerPage(OPERATOR), &[], U::None, None),
    // ----- the governed exchange: agency systems under grants; operators manage the grants -----
    rule("POST", "/api/v1/exchange/verify", Roles(AGENCY), &[], U::Person, Some("exchange")).granted("verify"),
    rule("POST", "/api/v1/exchange/attributes", Roles(AGENCY), &[], U::Person, Some("exchange")).granted("attributes"),
    rule("GET", "/api/v1/exchange/subscriptions", Roles(AGENCY), &[], U::None, None).granted("events"),
    rule("POST", "/api/v1/exchange/subscriptions", Roles(AGENCY), &[], U::None, None).granted("events"),
    rule("GET", "/api/v1/exchange/grants", Roles(OPERATOR_OR_AUDITOR), &[], U::None, None),
    rule("POST", "/api/v1/exchange/grants", Roles(OPERATOR), &[], U::None, None),
    rule("POST", "/api/v1/exchange/grants/{id}/revoke", Roles(OPERATOR), &[], U::None, None),
    rule("GET", "/officer/exchange", OfficerPage(OPERATOR_OR_AUDITOR), &[], U::None, None),
    rule("POST", "/officer/exchange/grants", OfficerPage(OPERATOR), &[], U::None, None),
    rule("POST", "/officer/exchange/grants/{id}/revoke", OfficerPage(OPERATOR), &[], U::None, None),
    // ----- audit: the log's private index searched, unusual reading flagged -----
    rule("GET", "/api/v1/audit/access", Roles(&[Auditor]), &[], U::None, Some("audit")),
    rule("GET", "/officer/audit", OfficerPage(&[Auditor]), &[], U::None, Some("audit")),
    rule("GET", "/officer/audit/alerts", OfficerPage(&[Auditor]), &[], U::None, Some("audit")),
    // ----- operations -----
    public("GET", "/api/openapi.json"),
    public("GET", "/healthz"),
    public("GET", "/readyz"),
    public("GET", "/metrics"),
    // ----- OpenID provider -----
    public("GET", "/.well-known/openid-configuration"),
    public("GET", "/oauth2/jwks"),
    public("GET", "/oauth2/authorize"),
    public("POST", "/oauth2/authorize"),
    public("GET", "/oauth2/continue"),
    rule("POST", "/oauth2/par", Protocol, &[], U::None, None),
    rule("POST", "/oauth2/token", Protocol, &[], U::None, None),
    rule("GET", "/oauth2/userinfo", Protocol, &["openid"], U::None, Some("oidc-userinfo")),
    rule("POST", "/oauth2/userinfo", Protocol, &["openid"], U::None, Some("oidc-userinfo")),
    rule("POST", "/oauth2/revoke", Protocol, &[], U::None, None),
    rule("POST", "/oauth2/introspect", Protocol, &[], U::None, None),
    public("GET", "/oauth2/logout"),
    public("POST", "/oauth2/logout"),
    // ----- pages: sign-in and the citizen's account -----
    public("GET", "/"),
    // ----- the transparency log (C2SP tlog-tiles): hashes public, entries for auditors -----
    public("GET", "/log/checkpoint"),
    public("GET", "/log/key"),
    public("GET", "/log/tile/{level}/{*path}"),
    rule("GET", "/log/tile/entries/{*path}", Roles(&[Auditor]), &[], U::None, Some("audit")),
    // The data tracker: the holder's reads and their receipts.
    rule("GET", "/api/v1/me/access", Who::Citizen, &["access"], U::None, None),
    rule("GET", "/api/v1/me/access/{index}/receipt", Who::Citizen, &["access"], U::None, None),
    rule("GET", "/account/access/{index}/receipt", CitizenPage, &[], U::None, None),
    public("GET", "/static/style.css"),
    public("GET", "/static/civitas.js"),
    public("GET", "/signin"),
    public("POST", "/signin"),
    public("GET", "/signin/otp"),
    public("POST", "/signin/otp"),
    public("GET", "/signin/token"),
    public("POST", "/signin/token"),
    public("POST", "/signout"),
    public("GET", "/consent"),
    public("POST", "/consent"),
    public("GET", "/register"),
    public("POST", "/register"),
    public("GET", "/activate"),
    public("POST", "/activate"),
    public("GET", "/forgot"),
    public("POST", "/forgot"),
    public("GET", "/reset"),
    public("POST", "/reset"),
    rule("GET", "/account", CitizenPage, &[], U::None, None),
    rule("POST", "/account/consents/revoke", CitizenPage, &[], U::None, None),
    rule("POST", "/account/sessions/end", CitizenPage, &[], U::None, None),
    rule("POST", "/account/sessions/end-all", CitizenPage, &[], U::None, None),
    rule("POST", "/account/lock", CitizenPage, &[], U::None, None),
    rule("POST", "/account/child", CitizenPage, &[], U::None, None),
    public("GET", "/dev/outbox"),
    // The remote-onboarding demo (development and --demo only; 404 otherwise).
    public("GET", "/onboarding/demo"),
    public("POST", "/onboarding/demo"),
    public("POST", "/onboarding/demo/status"),
    // The design system's components (development mode only; 404 otherwise).
    public("GET", "/dev/style"),
    // ----- pages: services -----
    public("GET", "/services"),
    public("GET", "/services/{code}"),
    rule("GET", "/services/{code}/apply", CitizenPage, &[], U::None, None),
    rule("POST", "/services/{code}/apply", CitizenPage, &[], U::None, None),
    rule("POST", "/services/{code}/submit", CitizenPage, &[], U::None, None),
    rule("GET", "/my/dossiers", CitizenPage, &[], U::None, None),
    rule("GET", "/my/dossiers/{code}", CitizenPage, &[], U::Dossier, None),
    rule("POST", "/my/dossiers/{code}/supplement", CitizenPage, &[], U::Dossier, None),
    rule("POST", "/my/dossiers/{code}/rate", CitizenPage, &[], U::Dossier, None),
    rule("POST", "/my/dossiers/{code}/withdraw", CitizenPage, &[], U::Dossier, None),
    rule("GET", "/my/dossiers/{code}/receipt.pdf", CitizenPage, &[], U::Dossier, None),
    rule("GET", "/my/documents", CitizenPage, &[], U::None, None),
    rule("POST", "/my/documents", CitizenPage, &[], U::None, None),
    rule("GET", "/my/documents/{id}", CitizenPage, &[], U::None, None),
    public("GET", "/status"),
    // ----- pages: officers -----
    rule("GET", "/officer/search", OfficerPage(REGISTER_PAGE_READERS), &[], U::List, Some("officer-console")),
    rule("GET", "/officer/people/{pid}", OfficerPage(REGISTER_PAGE_READERS), &[], U::Person, Some("officer-console")),
    rule("GET", "/officer/accounts", OfficerPage(EID_ADMINISTRATORS), &[], U::Person, Some("eid-administration")),
    rule(
        "POST",
        "/officer/accounts/action",
        OfficerPage(EID_ADMINISTRATORS),
        &[],
        U::Person,
        Some("eid-administration"),
    ),
    rule("GET", "/officer/queue", OfficerPage(PROCESSING), &[], U::List, Some("dossier-processing")),
    rule("GET", "/officer/dossiers/{code}", OfficerPage(PROCESSING), &[], U::Dossier, Some("dossier-processing")),
    rule("POST", "/officer/dossiers/{code}", OfficerPage(PROCESSING), &[], U::Dossier, Some("dossier-processing")),
    rule(
        "GET",
        "/officer/dossiers/{code}/{slip}",
        OfficerPage(PROCESSING),
        &[],
        U::Dossier,
        Some("dossier-processing"),
    ),
    rule("GET", "/officer/documents/{code}/{id}", OfficerPage(PROCESSING), &[], U::Dossier, Some("dossier-processing")),
    rule("GET", "/officer/counter", OfficerPage(ONESTOP), &[], U::None, Some("counter-intake")),
    rule("POST", "/officer/counter", OfficerPage(ONESTOP), &[], U::CardHolder, Some("counter-intake")),
    rule("GET", "/officer/cards", OfficerPage(CARD_COUNTERS), &[], U::List, Some("register-read")),
    rule("GET", "/officer/reports", OfficerPage(REPORT_READERS), &[], U::Requested, None),
    rule("GET", "/officer/reports/export", OfficerPage(REPORT_READERS), &[], U::Requested, None),
    public("GET", "/index766"),
    // Committees as JSON (the rules of the pages below: a leader sets up, the secretary or a
    // leader records members and tasks, the owner or the secretary reports).
    rule("GET", "/api/v1/committees", Roles(REPORT_READERS), &[], U::Requested, None),
    rule("POST", "/api/v1/committees", Roles(LEADER), &[], U::Requested, None),
    rule("GET", "/api/v1/committees/{id}", Roles(REPORT_READERS), &[], U::Committee, None),
    rule("POST", "/api/v1/committees/{id}/members", Roles(REPORT_READERS), &[], U::Committee, None),
    rule("POST", "/api/v1/committees/{id}/tasks", Roles(REPORT_READERS), &[], U::Committee, None),
    rule("GET", "/api/v1/tasks/{id}", Roles(REPORT_READERS), &[], U::Committee, None),
    rule("POST", "/api/v1/tasks/{id}/reports", Roles(REPORT_READERS), &[], U::Committee, None),
    rule("GET", "/officer/committees", OfficerPage(REPORT_READERS), &[], U::Requested, None),
    rule("POST", "/officer/committees", OfficerPage(LEADER), &[], U::Requested, None),
    rule("GET", "/officer/committees/{id}", OfficerPage(REPORT_READERS), &[], U::Committee, None),
    rule("POST", "/officer/committees/{id}/members", OfficerPage(REPORT_READERS), &[], U::Committee, None),
    rule("POST", "/officer/committees/{id}/tasks", OfficerPage(REPORT_READERS), &[], U::Committee, None),
    rule("GET", "/officer/tasks/{id}", OfficerPage(REPORT_READERS), &[], U::Committee, None),
    rule("POST", "/officer/tasks/{id}", OfficerPage(REPORT_READERS), &[], U::Committee, None),
    rule("GET", "/officer/tasks/{id}/reports/{report}", OfficerPage(REPORT_READERS), &[], U::Committee, None),
    rule("POST", "/officer/cards/{id}/advance", OfficerPage(REG), &[], U::List, Some("register-change")),
    rule("POST", "/officer/cards/{id}/handover", OfficerPage(REG), &[], U::List, Some("register-change")),
    rule("GET", "/officer/onboarding", OfficerPage(EID_ADMINISTRATORS), &[], U::List, Some("eid-administration")),
    rule("GET", "/officer/onboarding/{id}", OfficerPage(EID_ADMINISTRATORS), &[], U::List, Some("eid-administration")),
    rule(
        "POST",
        "/officer/onboarding/{id}/decision",
        OfficerPage(EID_ADMINISTRATORS),
        &[],
        U::List,
        Some("eid-administration"),
    ),
];

/// The rule of `method` on the route `path` (as registered, with `{param}` segments).
pub fn find(method: &Method, path: &str) -> Option<&'static Rule> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<(&'static str, &'static str), &'static Rule>> =
        std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| RULES.iter().map(|r| ((r.method, r.path), r)).collect());
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    index.get(&(method, path)).copied()
}

/// A router whose every route must have an entry in [`RULES`].
pub struct PolicyRouter(axum::Router<AppState>);

impl PolicyRouter {
    pub fn new() -> Self {
        PolicyRouter(axum::Router::new())
    }

    /// Registers a route; panics (at start-up, so every test fails) when the table has no
    /// entry for its path.
    pub fn route(self, path: &str, method_router: axum::routing::MethodRouter<AppState>) -> Self {
        assert!(
            RULES.iter().any(|r| r.path == path),
            "route {path} has no entry in the authorization policy (crates/civitas-web/src/policy.rs)"
        );
        assert!(
            RULES.iter().filter(|r| r.path == path).all(|r| !r.admits_agencies() || r.service.is_some()),
            "route {path} admits agency systems without naming the exchange service they need a grant of"
        );
        PolicyRouter(self.0.route(path, method_router))
    }

    pub fn into_router(self) -> axum::Router<AppState> {
        self.0
    }
}

impl Default for PolicyRouter {
    fn default() -> Self {
        Self::new()
    }
}

fn who_text(who: Who) -> String {
    let roles = |rs: &[Role]| rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
    match who {
        Who::Public => "public".into(),
        Who::Protocol => "OAuth client / token (RFC rules)".into(),
        Who::Roles(rs) => roles(rs),
        Who::Citizen => "citizen (e-ID access token)".into(),
        Who::RolesOrCitizen(rs) => format!("{}; or the citizen concerned", roles(rs)),
        Who::OfficerPage(rs) => format!("officer page: {}", roles(rs)),
        Who::CitizenPage => "citizen page (e-ID session)".into(),
    }
}

fn unit_text(unit: UnitRule) -> &'static str {
    match unit {
        UnitRule::None => "",
        UnitRule::Person => "person",
        UnitRule::Household => "household",
        UnitRule::Dossier => "dossier",
        UnitRule::Certificate => "certificate",
        UnitRule::Destination => "destination",
        UnitRule::CardHolder => "card holder",
        UnitRule::List => "list",
        UnitRule::Requested => "requested unit",
        UnitRule::Committee => "committee",
    }
}

/// The README's access table, generated from [`RULES`] (a test checks the README holds it).
pub fn markdown() -> String {
    let mut out = String::from(
        "| method | path | who | scopes | unit rule | logged purpose | agency grant |\n|---|---|---|---|---|---|---|\n",
    );
    for r in RULES {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} |\n",
            r.method,
            r.path,
            who_text(r.who),
            r.scopes.join(" "),
            unit_text(r.unit),
            r.purpose.unwrap_or(""),
            r.service.unwrap_or(""),
        ));
    }
    out
}
