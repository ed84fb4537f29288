//! Passive and Active Authentication over simulated cards: each attack of CHIP.md refused with
//! its code.

use std::collections::BTreeMap;

use civitas_core::chip::{Dg13, Value13, parse_certificate};
use civitas_core::mrz::Td1;
use time::macros::datetime;

use super::sim::{self, Authority};
use super::trust::{self, Anchor, TrustStore, anchor_kind, fingerprint};
use super::*;

const NOW: OffsetDateTime = datetime!(2026-12-01 08:00 UTC);

fn person() -> (Td1, Dg13) {
    let td1: Td1 = "IDVNM0901234562001090123456<<3\n9001011M3001019VNM<<<<<<<<<<<4\nNGUYEN<<VAN<AN<<<<<<<<<<<<<<<<"
        .parse()
        .unwrap();
    let mut items = BTreeMap::new();
    items.insert(1, Value13::Text("001090123456".into()));
    items.insert(2, Value13::Text("Nguyễn Văn An".into()));
    items.insert(3, Value13::Text("01/01/1990".into()));
    items.insert(4, Value13::Text("Nam".into()));
    items.insert(11, Value13::Text("15/03/2022".into()));
    items.insert(12, Value13::Text("01/01/2030".into()));
    (td1, Dg13 { version: 1, items })
}

struct World {
    csca: Authority,
    ds: Authority,
    store: TrustStore,
}

fn anchor(a: &Authority) -> Anchor {
    Anchor {
        id: fingerprint(&a.cert),
        cert: parse_certificate(&a.cert).unwrap(),
        kind: "csca".into(),
        source: "test".into(),
    }
}

fn world() -> World {
    let csca = sim::csca("VN", "vn", datetime!(2020-01-01 0:00 UTC));
    let ds = sim::signer(&csca, "ds1", 7, (datetime!(2021-01-01 0:00 UTC), datetime!(2036-01-01 0:00 UTC)), &[]);
    let store = TrustStore { anchors: vec![anchor(&csca)], ..TrustStore::default() };
    World { csca, ds, store }
}

fn check(card: &sim::Card, store: &TrustStore) -> Result<Passed, PaFailure> {
    passive_check(&Chip { sod: &card.sod, dgs: &card.dgs }, store, &Allow::default(), NOW)
}

fn signed_at() -> OffsetDateTime {
    datetime!(2022-03-15 09:00 UTC)
}

#[test]
fn a_simulated_card_passes_every_step_and_names_its_csca() {
    let w = world();
    let (td1, dg13) = person();
    let card = sim::card(&td1, &dg13, &w.ds, signed_at(), "an");
    let passed = check(&card, &w.store).unwrap();
    assert_eq!(
        passed.checks,
        [
            "sod_structure",
            "ds_found",
            "ds_trusted",
            "ds_time_and_revocation",
            "signed_attributes",
            "sod_signature",
            "data_groups",
            "consistent"
        ]
    );
    assert_eq!(passed.csca.0, fingerprint(&w.csca.cert));
    assert_eq!(passed.algorithms, ["ecdsa-p256-sha256", "ecdsa-p256-sha256"]);
    assert_eq!(passed.crl, CrlStatus::None);
    assert_eq!(passed.dg13.full_name(), Some("Nguyễn Văn An"));
}

#[test]
fn each_attack_is_refused_with_its_code() {
    let w = world();
    let (td1, dg13) = person();
    let card = sim::card(&td1, &dg13, &w.ds, signed_at(), "an");
    // A tampered DG13 (the name changed after signing).
    let mut tampered = sim::card(&td1, &dg13, &w.ds, signed_at(), "an");
    let mut other = dg13.clone();
    other.items.insert(2, Value13::Text("Nguyễn Văn Ân".into()));
    tampered.dgs.insert(13, other.to_der());
    assert_eq!(check(&tampered, &w.store).unwrap_err(), PaFailure::DgHashMismatch(13));
    // Data groups mixed from two cards: a DG1 of another person.
    let mut mixed = sim::card(&td1, &dg13, &w.ds, signed_at(), "an");
    let mut td1b = td1.clone();
    td1b.surname = "TRAN".into();
    mixed.dgs.insert(1, civitas_core::chip::dg1_der(&td1b));
    assert_eq!(check(&mixed, &w.store).unwrap_err(), PaFailure::DgHashMismatch(1));
    // A foreign CSCA (and a fake CSCA shipped inside the SOD changes nothing).
    let foreign = sim::csca("VN", "fake", datetime!(2020-01-01 0:00 UTC));
    let fds = sim::signer(&foreign, "fds", 9, (datetime!(2021-01-01 0:00 UTC), datetime!(2036-01-01 0:00 UTC)), &[]);
    let forged = sim::card(&td1, &dg13, &fds, signed_at(), "an");
    assert_eq!(check(&forged, &w.store).unwrap_err().code(), "ds_untrusted");
    // An expired DS: its validity ended before the card was signed.
    let old = sim::signer(&w.csca, "old", 8, (datetime!(2020-01-01 0:00 UTC), datetime!(2021-06-01 0:00 UTC)), &[]);
    let late = sim::card(&td1, &dg13, &old, signed_at(), "an");
    assert_eq!(check(&late, &w.store).unwrap_err().code(), "ds_expired");
    // A revoked DS: the CSCA's CRL lists it.
    let mut revoked = TrustStore { anchors: w.store.anchors.clone(), ..TrustStore::default() };
    let crl = civitas_core::chip::parse_crl(&sim::crl(&w.csca, &[7], NOW)).unwrap();
    revoked.crls.push((fingerprint(&w.csca.cert), crl));
    assert_eq!(check(&card, &revoked).unwrap_err(), PaFailure::DsRevoked);
    let mut current = TrustStore { anchors: w.store.anchors.clone(), ..TrustStore::default() };
    current
        .crls
        .push((fingerprint(&w.csca.cert), civitas_core::chip::parse_crl(&sim::crl(&w.csca, &[99], NOW)).unwrap()));
    assert_eq!(check(&card, &current).unwrap().crl, CrlStatus::Current);
    // Withheld DG15 (the SOD lists it): refused.
    let mut withheld = sim::card(&td1, &dg13, &w.ds, signed_at(), "an");
    withheld.dgs.remove(&15);
    assert_eq!(check(&withheld, &w.store).unwrap_err(), PaFailure::DgMissing(15));
    // A group the SOD does not list.
    let mut extra = sim::card(&td1, &dg13, &w.ds, signed_at(), "an");
    extra.dgs.insert(3, vec![0x63, 0x00]);
    assert_eq!(check(&extra, &w.store).unwrap_err(), PaFailure::DgNotInSod(3));
    // Consistently signed but inconsistent data: DG1 and DG13 name different people.
    let mut dg13b = dg13.clone();
    dg13b.items.insert(2, Value13::Text("Trần Thị Bình".into()));
    let liar = sim::card(&td1, &dg13b, &w.ds, signed_at(), "an");
    assert_eq!(check(&liar, &w.store).unwrap_err().code(), "inconsistent");
    // An expired card.
    let mut dg13c = dg13.clone();
    dg13c.items.insert(12, Value13::Text("01/01/2025".into()));
    let expired = sim::card(&td1, &dg13c, &w.ds, signed_at(), "an");
    assert_eq!(check(&expired, &w.store).unwrap_err().code(), "document_expired");
    // No trust store at all: nothing is trusted.
    assert_eq!(check(&card, &TrustStore::default()).unwrap_err().code(), "ds_untrusted");
    // SHA-256 not allowed: the policy refuses it.
    let strict = Allow { hashes: vec!["sha512".into()], ..Allow::default() };
    let refused = passive_check(&Chip { sod: &card.sod, dgs: &card.dgs }, &w.store, &strict, NOW).unwrap_err();
    assert_eq!(refused.code(), "ds_untrusted", "the DS's own certificate signature uses a refused hash");
}

#[test]
fn active_authentication_proves_the_chip_and_refuses_replays_and_clones() {
    let w = world();
    let (td1, dg13) = person();
    let card = sim::card(&td1, &dg13, &w.ds, signed_at(), "an");
    let challenge = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let response = sim::answer(&card.aa_key, &challenge);
    let allow = Allow::default();
    let dg15 = &card.dgs[&15];
    let dg14 = card.dgs.get(&14).map(Vec::as_slice);
    assert_eq!(aa::active_check(dg15, dg14, &challenge, &response, &allow).unwrap(), "ecdsa-p256-sha256");
    // The same answer to another challenge (a replay) fails.
    let fresh = [9u8; 8];
    assert_eq!(aa::active_check(dg15, dg14, &fresh, &response, &allow), Err(aa::AaFailure::Invalid));
    // A clone: the files copied, another key answers.
    let clone = sim::key("clone");
    let cloned = sim::answer(&clone, &challenge);
    assert_eq!(aa::active_check(dg15, dg14, &challenge, &cloned, &allow).unwrap_err().code(), "aa_invalid");
    assert_eq!(aa::dg14_aa_hash(&sim::dg14()), Some(Hash::Sha256));
}

#[test]
fn master_lists_are_taken_only_when_signed_by_a_chained_signer() {
    let w = world();
    let other = sim::csca("LA", "la", datetime!(2020-01-01 0:00 UTC));
    let valid = (datetime!(2021-01-01 0:00 UTC), datetime!(2036-01-01 0:00 UTC));
    let mls = sim::signer(&w.csca, "mls", 11, valid, &["2.23.136.1.1.3"]);
    let list = sim::master_list(&[&w.csca.cert, &other.cert], &mls);
    let (add, skipped) = trust::verify_master_list(&list, &w.store, &Allow::default()).unwrap();
    assert_eq!(add.len(), 2);
    assert!(skipped.is_empty());
    // A signer without the master-list usage.
    let plain = sim::signer(&w.csca, "plain", 12, valid, &[]);
    let e =
        trust::verify_master_list(&sim::master_list(&[&other.cert], &plain), &w.store, &Allow::default()).unwrap_err();
    assert!(e.to_string().contains("2.23.136.1.1.3"), "{e}");
    // A signer of an untrusted CSCA (a fake CSCA slipped in through an unverified list).
    let rogue = sim::csca("VN", "rogue", datetime!(2020-01-01 0:00 UTC));
    let rmls = sim::signer(&rogue, "rmls", 13, valid, &["2.23.136.1.1.3"]);
    let e =
        trust::verify_master_list(&sim::master_list(&[&rogue.cert], &rmls), &w.store, &Allow::default()).unwrap_err();
    assert_eq!(e.code(), "master-list-refused");
    // One byte of a listed certificate changed: the list's signature fails.
    let mut bent = list.clone();
    let at = bent.windows(8).position(|x| x == &other.cert[40..48]).unwrap();
    bent[at] ^= 1;
    assert!(trust::verify_master_list(&bent, &w.store, &Allow::default()).is_err());
    // A DS is not a CSCA.
    let ds = parse_certificate(&w.ds.cert).unwrap();
    assert_eq!(anchor_kind(&ds, &w.store, &Allow::default()).unwrap_err().code(), "not-a-csca");
    assert_eq!(
        anchor_kind(&parse_certificate(&other.cert).unwrap(), &TrustStore::default(), &Allow::default()).unwrap(),
        "csca"
    );
}

#[test]
fn a_long_name_cut_to_the_mrz_still_agrees() {
    let w = world();
    let (mut td1, mut dg13) = person();
    let long = "Nguyễn Hoàng Thị Phương Thảo Uyên Minh Khuê";
    let folded = civitas_core::fold(long).to_uppercase();
    let (family, given) = folded.split_once(' ').unwrap();
    td1.surname = family.into();
    td1.given_names = given.into();
    dg13.items.insert(2, Value13::Text(long.into()));
    assert!(folded.len() > 30, "the MRZ cuts it");
    let card = sim::card(&td1, &dg13, &w.ds, signed_at(), "long");
    check(&card, &w.store).unwrap();
    dg13.items.insert(2, Value13::Text("Nguyễn Hoàng Thị Phương Thanh Uyên Minh Khuê".into()));
    let other = sim::card(&td1, &dg13, &w.ds, signed_at(), "long");
    assert_eq!(check(&other, &w.store).unwrap_err().code(), "inconsistent");
}
