//! The card simulator's people: synthetic chips of people of the register as their card
//! records say (`civitas card-sim`, the tests, the demo), from a seed's authorities.

use civitas_identity::chip::sim;

/// The simulator's authorities for a seed: the CSCA, its Document Signer, an expired DS, the
/// master-list signer, and a foreign CSCA with its DS. Fixed dates keep them deterministic.
pub struct Authorities {
    pub csca: sim::Authority,
    pub ds: sim::Authority,
    pub expired_ds: sim::Authority,
    pub mls: sim::Authority,
    pub foreign_ds: sim::Authority,
}

pub fn authorities(seed: &str) -> Authorities {
    use time::macros::datetime;
    let from = datetime!(2020-01-01 0:00 UTC);
    let valid = (datetime!(2020-06-01 0:00 UTC), datetime!(2045-01-01 0:00 UTC));
    let csca = sim::csca("VN", seed, from);
    let ds = sim::signer(&csca, seed, 1001, valid, &[]);
    let expired_ds = sim::signer(&csca, &format!("{seed}-expired"), 1002, (from, datetime!(2020-06-01 0:00 UTC)), &[]);
    let mls = sim::signer(&csca, &format!("{seed}-mls"), 1003, valid, &["2.23.136.1.1.3"]);
    let foreign = sim::csca("VN", &format!("{seed}-foreign"), from);
    let foreign_ds = sim::signer(&foreign, &format!("{seed}-foreign"), 2001, valid, &[]);
    Authorities { csca, ds, expired_ds, mls, foreign_ds }
}

/// The simulated card of a person: issued on their newest card's issue date (else today),
/// signed by the seed's DS, or the variant an attacker would bring.
pub async fn card_of(
    db: &civitas_store::Db,
    person: &civitas_registry::model::Person,
    seed: &str,
    variant: &str,
    now: time::OffsetDateTime,
) -> Result<sim::Card, SimError> {
    let a = authorities(seed);
    let cards = civitas_services::cards::of_person(db, person.pid.as_str()).await?;
    let today = (now + time::Duration::hours(7)).date();
    let issued = cards
        .first()
        .and_then(|c| c.issued_on.as_deref())
        .and_then(|d| time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or(today);
    let expiry = person.birth_date.to_date().and_then(|b| civitas_core::card::card_expiry(b, issued));
    let (td1, dg13) = sim::files_for(person, issued, expiry);
    let signed_at = issued.with_hms(9, 0, 0).map(|t| t.assume_utc()).unwrap_or(now);
    let card_seed = format!("{seed} {}", person.pid.as_str());
    let ds = match variant {
        "genuine" | "tampered-dg13" | "no-dg15" => &a.ds,
        "foreign-csca" => &a.foreign_ds,
        "expired-ds" => &a.expired_ds,
        other => return Err(SimError::Variant(other.to_owned())),
    };
    let mut card = sim::card(&td1, &dg13, ds, signed_at, &card_seed);
    match variant {
        "tampered-dg13" => {
            let mut changed = dg13.clone();
            changed.items.insert(3, civitas_core::chip::Value13::Text("01/01/1970".into()));
            card.dgs.insert(13, changed.to_der());
        }
        "no-dg15" => {
            card.dgs.remove(&15);
        }
        _ => {}
    }
    Ok(card)
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("variant {0:?}: genuine, tampered-dg13, foreign-csca, expired-ds or no-dg15 (a clone: `answer --clone`)")]
    Variant(String),
    #[error(transparent)]
    Store(#[from] civitas_store::StoreError),
}

/// The chip's answer of a person's simulated card to an AA challenge (`clone`: a clone's, made
/// without the card's key).
pub fn answer(seed: &str, pid: &str, clone: bool, challenge: &[u8]) -> Vec<u8> {
    let key = if clone { sim::key(&format!("clone {seed} {pid}")) } else { sim::key(&format!("aa {seed} {pid}")) };
    sim::answer(&key, challenge)
}
