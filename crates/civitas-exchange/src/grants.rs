//! The governed exchange ("dùng chung"): which agency's system may use which service of the
//! register, for which purpose and legal basis, which fields, in which administrative units,
//! until when — and the use cases agency systems call under a grant (verify attributes without
//! disclosure, read the granted attributes, subscribe to life events). Every grant change is an
//! entry of the transparency log, committed with the change.

use serde::Serialize;
use serde_json::{Map, Value};

use civitas_core::UnitCode;
use civitas_registry::Person;
use civitas_store::unit::{Value as Bind, Write};
use civitas_store::{Db, StoreError, dispatch};

/// The services a grant can open.
pub const SERVICES: [&str; 4] = ["register", "verify", "attributes", "events"];

/// What a `register` grant can allow: the kinds of reads of the register API (`*`: all).
pub const REGISTER_READS: [&str; 7] =
    ["record", "history", "household", "residence-confirmation", "search-result", "eid-account", "cards"];

/// The attributes of a person that `verify`, `attributes` and `events` grants name.
pub const ATTRIBUTES: [&str; 14] = [
    "full_name",
    "birth_date",
    "sex",
    "nationality",
    "ethnicity",
    "religion",
    "hometown",
    "marital_status",
    "status",
    "residence_commune",
    "residence_address",
    "current_commune",
    "household_id",
    "spouse_pid",
];

/// The life events an `events` grant can subscribe to, with the register's event kind.
pub const LIFE_EVENTS: [(&str, &str); 4] = [
    ("birth", "civil.birth_registered"),
    ("death", "civil.death_registered"),
    ("marriage", "civil.marriage_registered"),
    ("residence", "person.residence_changed"),
];

/// A grant as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Grant {
    pub id: String,
    pub agency_id: String,
    pub system_id: String,
    pub service: String,
    pub purpose: String,
    pub legal_basis: String,
    /// Comma-separated.
    pub fields: String,
    /// Comma-separated life events (`events` grants only).
    pub events: String,
    /// Comma-separated unit codes (provinces cover their communes).
    pub units: String,
    /// The last day the grant is in force (`YYYY-MM-DD`, Vietnam's calendar day).
    pub valid_until: String,
    pub created_at: String,
    pub created_by: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

impl Grant {
    pub fn field_list(&self) -> Vec<&str> {
        list(&self.fields).collect()
    }
    pub fn event_list(&self) -> Vec<&str> {
        list(&self.events).collect()
    }
    pub fn unit_codes(&self) -> Vec<UnitCode> {
        list(&self.units).filter_map(|u| UnitCode::parse(u).ok()).collect()
    }
    /// Whether the grant lets its system have `field`.
    pub fn allows_field(&self, field: &str) -> bool {
        list(&self.fields).any(|f| f == field || f == "*")
    }
    /// Whether the grant is in force on `today` (`YYYY-MM-DD`).
    pub fn in_force(&self, today: &str) -> bool {
        self.revoked_at.is_none() && self.valid_until.as_str() >= today
    }
    /// Whether one of `communes` lies in the grant's units.
    pub fn covers_any<'a>(&self, communes: impl IntoIterator<Item = &'a str>) -> bool {
        let units = self.unit_codes();
        communes.into_iter().any(|c| units.iter().any(|u| u.covers(c)))
    }
}

/// Why a grant cannot be made, changed or used.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// A field of the request is not acceptable: (field, explanation).
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    #[error("no agency {0} is registered (civitas agency add)")]
    UnknownAgency(String),
    #[error("no OpenID client {0} with role agency-system exists (civitas client add --role agency-system)")]
    UnknownSystem(String),
    #[error("system {system} belongs to agency {agency}")]
    OtherAgency { system: String, agency: String },
    #[error("no grant {0}")]
    NotFound(String),
    #[error("grant {0} is already revoked")]
    AlreadyRevoked(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A grant to make.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewGrant {
    pub agency_id: String,
    pub system_id: String,
    pub service: String,
    pub purpose: String,
    pub legal_basis: String,
    #[serde(default)]
    pub fields: Vec<String>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub units: Vec<String>,
    /// `YYYY-MM-DD`.
    pub valid_until: String,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, GrantError> {
    let cleaned = civitas_core::text::clean_free_text(value)
        .ok_or_else(|| GrantError::Invalid(field, "contains control or formatting characters".into()))?;
    if cleaned.is_empty() {
        return Err(GrantError::Invalid(field, "is required".into()));
    }
    if cleaned.chars().count() > max {
        return Err(GrantError::Invalid(field, format!("is longer than {max} characters")));
    }
    Ok(cleaned)
}

/// Checks a grant's content; returns it cleaned (NFC text, canonical unit codes).
pub fn validate(new: &NewGrant, today: time::Date) -> Result<NewGrant, GrantError> {
    let service = new.service.trim().to_owned();
    if !SERVICES.contains(&service.as_str()) {
        return Err(GrantError::Invalid("service", format!("{service:?} is not one of {}", SERVICES.join(", "))));
    }
    let mut fields: Vec<String> = new.fields.iter().map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect();
    fields.sort();
    fields.dedup();
    if fields.is_empty() {
        return Err(GrantError::Invalid("fields", "name at least one field".into()));
    }
    for f in &fields {
        let known = if service == "register" {
            f == "*" || REGISTER_READS.contains(&f.as_str())
        } else {
            ATTRIBUTES.contains(&f.as_str())
        };
        if !known {
            let allowed = if service == "register" { REGISTER_READS.join(", ") + ", *" } else { ATTRIBUTES.join(", ") };
            return Err(GrantError::Invalid("fields", format!("{f:?} is not a field of {service}; fields: {allowed}")));
        }
    }
    let mut events: Vec<String> = new.events.iter().map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect();
    events.sort();
    events.dedup();
    if service == "events" {
        if events.is_empty() {
            return Err(GrantError::Invalid("events", "an events grant names at least one life event".into()));
        }
        if let Some(e) = events.iter().find(|e| !LIFE_EVENTS.iter().any(|(n, _)| n == e)) {
            let names: Vec<&str> = LIFE_EVENTS.iter().map(|(n, _)| *n).collect();
            return Err(GrantError::Invalid(
                "events",
                format!("{e:?} is not a life event; events: {}", names.join(", ")),
            ));
        }
    } else if !events.is_empty() {
        return Err(GrantError::Invalid("events", "only an events grant names life events".into()));
    }
    let mut units = Vec::new();
    for u in &new.units {
        let code = UnitCode::parse(u.trim()).map_err(|e| GrantError::Invalid("units", format!("{u:?}: {e}")))?;
        units.push(code.as_str().to_owned());
    }
    units.sort();
    units.dedup();
    if units.is_empty() {
        return Err(GrantError::Invalid("units", "name at least one administrative unit".into()));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let until = time::Date::parse(new.valid_until.trim(), format)
        .map_err(|_| GrantError::Invalid("valid_until", format!("{:?} is not a date YYYY-MM-DD", new.valid_until)))?;
    if until < today {
        return Err(GrantError::Invalid("valid_until", format!("{until} is in the past")));
    }
    Ok(NewGrant {
        agency_id: text("agency_id", &new.agency_id, 64)?,
        system_id: text("system_id", &new.system_id, 128)?,
        service,
        purpose: text("purpose", &new.purpose, 200)?,
        legal_basis: text("legal_basis", &new.legal_basis, 300)?,
        fields,
        events,
        units,
        valid_until: until.to_string(),
    })
}

const GRANT_COLUMNS: &str = "id, agency_id, system_id, service, purpose, legal_basis, fields, events, units, valid_until, \
     created_at, created_by, revoked_at, revoked_by, revoke_reason";

fn change_entry(action: &str, grant: &Grant, by: &str, at: &str, reason: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "kind": "grant",
        "action": action,
        "at": at,
        "by": by,
        "reason": reason,
        "grant": grant,
    }))
    .unwrap_or_default()
}

/// Makes a grant (validated), registering the system under its agency; the grant and its log
/// entry commit together.
pub async fn create(db: &Db, new: &NewGrant, by: &str, now: time::OffsetDateTime) -> Result<Grant, GrantError> {
    let today = (now + time::Duration::hours(7)).date();
    let new = validate(new, today)?;
    let agencies = civitas_services::followups::agencies(db).await?;
    if !agencies.iter().any(|a| a.id == new.agency_id) {
        return Err(GrantError::UnknownAgency(new.agency_id));
    }
    let role: Option<Option<String>> =
        dispatch!(db, pool => sqlx::query_scalar("SELECT role FROM oidc_clients WHERE id = $1")
        .bind(&new.system_id).fetch_optional(pool).await)
        .map_err(StoreError::from)?;
    if role.flatten().as_deref() != Some("agency-system") {
        return Err(GrantError::UnknownSystem(new.system_id));
    }
    let owner: Option<String> =
        dispatch!(db, pool => sqlx::query_scalar("SELECT agency_id FROM agency_systems WHERE client_id = $1")
        .bind(&new.system_id).fetch_optional(pool).await)
        .map_err(StoreError::from)?;
    if let Some(owner) = owner
        && owner != new.agency_id
    {
        return Err(GrantError::OtherAgency { system: new.system_id, agency: owner });
    }
    let at = civitas_store::timestamp(now);
    let grant = Grant {
        id: format!("G-{}", civitas_services::documents::new_id()),
        agency_id: new.agency_id,
        system_id: new.system_id,
        service: new.service,
        purpose: new.purpose,
        legal_basis: new.legal_basis,
        fields: new.fields.join(","),
        events: new.events.join(","),
        units: new.units.join(","),
        valid_until: new.valid_until,
        created_at: at.clone(),
        created_by: by.to_owned(),
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
    };
    let writes = vec![
        Write::new(
            "INSERT INTO agency_systems (client_id, agency_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (client_id) DO NOTHING",
            vec![grant.system_id.clone().into(), grant.agency_id.clone().into(), at.clone().into()],
        ),
        Write::new(
            "INSERT INTO exchange_grants (id, agency_id, system_id, service, purpose, legal_basis, fields, events, units, valid_until, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            vec![
                grant.id.clone().into(),
                grant.agency_id.clone().into(),
                grant.system_id.clone().into(),
                grant.service.clone().into(),
                grant.purpose.clone().into(),
                grant.legal_basis.clone().into(),
                grant.fields.clone().into(),
                grant.events.clone().into(),
                grant.units.clone().into(),
                grant.valid_until.clone().into(),
                at.clone().into(),
                by.into(),
            ],
        ),
    ];
    let entry = change_entry("created", &grant, by, &at, None);
    civitas_store::unit::commit_logged(db, &writes, &[entry])
        .await?
        .map_err(|what| GrantError::Store(StoreError::Corrupt(what.into())))?;
    Ok(grant)
}

/// Revokes a grant (it stays, marked); the revocation and its log entry commit together.
pub async fn revoke(db: &Db, id: &str, by: &str, reason: &str, now: time::OffsetDateTime) -> Result<Grant, GrantError> {
    let reason = text("reason", reason, 300)?;
    let mut grant = get(db, id).await?.ok_or_else(|| GrantError::NotFound(id.to_owned()))?;
    if grant.revoked_at.is_some() {
        return Err(GrantError::AlreadyRevoked(id.to_owned()));
    }
    let at = civitas_store::timestamp(now);
    grant.revoked_at = Some(at.clone());
    grant.revoked_by = Some(by.to_owned());
    grant.revoke_reason = Some(reason.clone());
    let writes = vec![
        Write::new(
            "UPDATE exchange_grants SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE id = $4 AND revoked_at IS NULL",
            vec![at.clone().into(), by.into(), reason.clone().into(), id.into()],
        )
        .expecting(1, "the grant was revoked meanwhile"),
        Write::new(
            "UPDATE exchange_subscriptions SET ended_at = $1 WHERE grant_id = $2 AND ended_at IS NULL",
            vec![at.clone().into(), id.into()],
        ),
    ];
    let entry = change_entry("revoked", &grant, by, &at, Some(&reason));
    match civitas_store::unit::commit_logged(db, &writes, &[entry]).await? {
        Ok(()) => Ok(grant),
        Err(_) => Err(GrantError::AlreadyRevoked(id.to_owned())),
    }
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Grant>, StoreError> {
    let sql = format!("SELECT {GRANT_COLUMNS} FROM exchange_grants WHERE id = $1");
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Grant>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)?)
}

/// Every grant (of one agency), newest first.
pub async fn all(db: &Db, agency: Option<&str>) -> Result<Vec<Grant>, StoreError> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM exchange_grants WHERE ($1 = '' OR agency_id = $1) ORDER BY created_at DESC, id"
    );
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Grant>(sqlx::AssertSqlSafe(sql)).bind(agency.unwrap_or_default()).fetch_all(pool).await)?,
    )
}

/// The grant in force on `today` that lets `system` use `service` for `purpose` (exactly as
/// the grant states it).
pub async fn in_force(
    db: &Db,
    system: &str,
    service: &str,
    purpose: &str,
    today: &str,
) -> Result<Option<Grant>, StoreError> {
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM exchange_grants WHERE system_id = $1 AND service = $2 AND purpose = $3 \
         AND revoked_at IS NULL AND valid_until >= $4 ORDER BY valid_until DESC, id LIMIT 1"
    );
    Ok(
        dispatch!(db, pool => sqlx::query_as::<_, Grant>(sqlx::AssertSqlSafe(sql)).bind(system).bind(service).bind(purpose).bind(today)
        .fetch_optional(pool).await)?,
    )
}

/// The grants in force on `today` of `system` for `service`, whatever their purpose (to tell a
/// refused caller which purposes it holds).
pub async fn purposes_in_force(db: &Db, system: &str, service: &str, today: &str) -> Result<Vec<String>, StoreError> {
    let sql = "SELECT DISTINCT purpose FROM exchange_grants WHERE system_id = $1 AND service = $2 \
               AND revoked_at IS NULL AND valid_until >= $3 ORDER BY purpose";
    Ok(
        dispatch!(db, pool => sqlx::query_scalar::<_, String>(sql).bind(system).bind(service).bind(today).fetch_all(pool).await)?,
    )
}

/// The systems of every agency: (client id, agency id).
pub async fn systems(db: &Db) -> Result<Vec<(String, String)>, StoreError> {
    let sql = "SELECT client_id, agency_id FROM agency_systems ORDER BY agency_id, client_id";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, (String, String)>(sql).fetch_all(pool).await)?)
}

// ----- the use cases of agency systems -----

/// A person's attribute by its exchange name (None: the register holds no value).
pub fn attribute(person: &Person, name: &str) -> Option<Value> {
    let v = serde_json::to_value(person).ok()?;
    let pick = |path: &[&str]| {
        let mut cur = &v;
        for p in path {
            cur = cur.get(p)?;
        }
        (!cur.is_null()).then(|| cur.clone())
    };
    match name {
        "residence_commune" => pick(&["permanent_residence", "commune"]),
        "residence_address" => pick(&["permanent_residence", "address"]),
        "current_commune" => pick(&["current_residence", "commune"]),
        other if ATTRIBUTES.contains(&other) => pick(&[other]),
        _ => None,
    }
}

/// The attributes `fields` of `person` (those the register holds).
pub fn attributes(person: &Person, fields: &[&str]) -> Map<String, Value> {
    fields.iter().filter_map(|f| attribute(person, f).map(|v| ((*f).to_owned(), v))).collect()
}

fn comparable(name: &str, v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let s = civitas_core::nfc(s.trim());
    if name == "full_name" || name == "residence_address" || name == "hometown" {
        s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// Whether the register holds `claimed` for each attribute: `true` (match) or `false` (no
/// match, or the register holds no value). Names are compared after NFC, case and spacing;
/// diacritics count (Vietnamese names differ by them).
pub fn verify(person: &Person, claimed: &Map<String, Value>) -> Vec<(String, bool)> {
    claimed
        .iter()
        .map(|(name, value)| {
            let held = attribute(person, name);
            let same = held.is_some_and(|h| comparable(name, &h) == comparable(name, value));
            (name.clone(), same)
        })
        .collect()
}

// ----- life-event subscriptions -----

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Subscription {
    pub id: String,
    pub system_id: String,
    pub grant_id: String,
    /// Comma-separated life events.
    pub events: String,
    pub created_at: String,
    pub ended_at: Option<String>,
}

/// Subscribes `grant`'s system to `events` (a subset of the grant's).
pub async fn subscribe(
    db: &Db,
    grant: &Grant,
    events: &[String],
    now: time::OffsetDateTime,
) -> Result<Subscription, GrantError> {
    let mut events: Vec<String> = events.iter().map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect();
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(GrantError::Invalid("events", "name at least one life event".into()));
    }
    let granted = grant.event_list();
    if let Some(e) = events.iter().find(|e| !granted.contains(&e.as_str())) {
        return Err(GrantError::Invalid("events", format!("{e:?} is not in the grant (granted: {})", grant.events)));
    }
    let sub = Subscription {
        id: format!("S-{}", civitas_services::documents::new_id()),
        system_id: grant.system_id.clone(),
        grant_id: grant.id.clone(),
        events: events.join(","),
        created_at: civitas_store::timestamp(now),
        ended_at: None,
    };
    let w = Write::new(
        "INSERT INTO exchange_subscriptions (id, system_id, grant_id, events, created_at) VALUES ($1, $2, $3, $4, $5)",
        vec![
            sub.id.clone().into(),
            sub.system_id.clone().into(),
            sub.grant_id.clone().into(),
            sub.events.clone().into(),
            sub.created_at.clone().into(),
        ],
    );
    civitas_store::unit::commit(db, &[w]).await?.map_err(|what| GrantError::Store(StoreError::Corrupt(what.into())))?;
    Ok(sub)
}

/// The subscriptions of `system` (all of them, when empty), newest first.
pub async fn subscriptions(db: &Db, system: &str) -> Result<Vec<Subscription>, StoreError> {
    let sql = "SELECT id, system_id, grant_id, events, created_at, ended_at FROM exchange_subscriptions \
               WHERE ($1 = '' OR system_id = $1) ORDER BY created_at DESC, id";
    Ok(dispatch!(db, pool => sqlx::query_as::<_, Subscription>(sql).bind(system).fetch_all(pool).await)?)
}

const CURSOR: &str = "exchange.life-events";

/// One round of the life-event fan-out (a job with a lease): the register's events after the
/// durable cursor, up to where no earlier event can still commit, each delivered to the live
/// subscriptions it falls under (the event's kind subscribed, the person in the grant's units,
/// the event after the subscription) as a signed webhook with the granted fields only, with the
/// hand-over's access record; the deliveries, the records and the cursor's move commit together
/// (the cursor moves only from where this round read it: a second server's round commits
/// nothing).
pub async fn fan_out(
    db: &Db,
    register: &civitas_registry::store::Register,
    settled: &civitas_store::events::Settled,
    now: time::OffsetDateTime,
) -> Result<usize, StoreError> {
    let cursor: Option<i64> = dispatch!(db, pool => sqlx::query_scalar("SELECT position FROM event_cursors WHERE consumer = $1")
        .bind(CURSOR).fetch_optional(pool).await)?;
    let Some(cursor) = cursor else {
        // First round: subscriptions get what happens from now on.
        let last = civitas_store::events::last_id(db).await?;
        let w = Write::new(
            "INSERT INTO event_cursors (consumer, position) VALUES ($1, $2) ON CONFLICT (consumer) DO NOTHING",
            vec![CURSOR.into(), last.into()],
        );
        civitas_store::unit::commit(db, &[w]).await?.ok();
        return Ok(0);
    };
    let upto = settled.upto(db, cursor).await?;
    if upto <= cursor {
        return Ok(0);
    }
    let events: Vec<_> =
        civitas_store::events::read_after(db, cursor, 500).await?.into_iter().filter(|e| e.id <= upto).collect();
    let Some(last) = events.last().map(|e| e.id) else { return Ok(0) };
    let today = (now + time::Duration::hours(7)).date().to_string();
    let subs: Vec<Subscription> = subscriptions(db, "").await?.into_iter().filter(|s| s.ended_at.is_none()).collect();
    let mut grants: std::collections::HashMap<String, Grant> = std::collections::HashMap::new();
    for s in &subs {
        if let Some(g) = get(db, &s.grant_id).await?
            && g.in_force(&today)
        {
            grants.insert(g.id.clone(), g);
        }
    }
    let at = civitas_store::timestamp(now);
    let mut writes = Vec::new();
    let mut delivered = 0usize;
    for e in &events {
        let Some((name, _)) = LIFE_EVENTS.iter().find(|(_, kind)| *kind == e.kind) else { continue };
        let interested: Vec<(&Subscription, &Grant)> = subs
            .iter()
            .filter(|s| list(&s.events).any(|x| x == *name) && s.created_at <= e.occurred_at)
            .filter_map(|s| grants.get(&s.grant_id).map(|g| (s, g)))
            .collect();
        if interested.is_empty() {
            continue;
        }
        let Ok(pid) = civitas_core::Pid::parse(&e.subject) else { continue };
        let person = match register.get(&pid).await {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(err) => return Err(StoreError::Corrupt(err.to_string())),
        };
        let mut communes = person.communes();
        let payload_commune = serde_json::from_str::<Value>(&e.payload)
            .ok()
            .and_then(|p| p.get("commune").and_then(Value::as_str).map(str::to_owned));
        if let Some(c) = &payload_commune {
            communes.push(c.as_str());
        }
        for (sub, grant) in interested {
            if !grant.covers_any(communes.iter().copied()) {
                continue;
            }
            let fields = grant.field_list();
            let data = attributes(&person, &fields);
            let delivery = civitas_services::documents::new_id();
            let payload = serde_json::json!({
                "id": delivery,
                "kind": format!("life-event.{name}"),
                "event": e.id,
                "occurred_at": e.occurred_at,
                "subject": person.pid.as_str(),
                "subscription": sub.id,
                "grant": grant.id,
                "data": data,
            });
            writes.push(Write::new(
                "INSERT INTO webhook_deliveries (id, agency_id, kind, subject_pid, dossier_code, payload, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
                vec![
                    delivery.clone().into(),
                    grant.agency_id.clone().into(),
                    format!("life-event.{name}").into(),
                    person.pid.as_str().into(),
                    format!("EV-{}", e.id).into(),
                    payload.to_string().into(),
                    now.unix_timestamp().into(),
                    at.clone().into(),
                ],
            ));
            writes.push(Write::new(
                "INSERT INTO access_log (at, actor, role, unit, purpose, subject_pid, fields, request_id, how, legal_basis, case_id) \
                 VALUES ($1, $2, 'agency-system', $3, $4, $5, $6, $7, 'life-event', $8, $9)",
                vec![
                    at.clone().into(),
                    grant.system_id.clone().into(),
                    grant.units.clone().into(),
                    grant.purpose.clone().into(),
                    person.pid.as_str().into(),
                    data.keys().cloned().collect::<Vec<_>>().join(",").into(),
                    Bind::Text(Some(delivery)),
                    grant.legal_basis.clone().into(),
                    format!("event {}", e.id).into(),
                ],
            ));
            delivered += 1;
        }
    }
    writes.push(
        Write::new(
            "UPDATE event_cursors SET position = $1 WHERE consumer = $2 AND position = $3",
            vec![last.into(), CURSOR.into(), cursor.into()],
        )
        .expecting(1, "another server moved the life-event cursor"),
    );
    match civitas_store::unit::commit(db, &writes).await? {
        Ok(()) => Ok(delivered),
        Err(_) => Ok(0),
    }
}
