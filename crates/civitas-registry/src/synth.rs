//! A realistic synthetic population for demos, tests and benchmarks: family-name frequencies,
//! the age pyramid, sex ratio, households of about 3.5 people with a head and relations, real
//! 2025 communes, valid PIDs consistent with sex and birth year, parents and spouses linked.
//!
//! Deterministic: the same seed, province, size and reference date give the same people.

use std::collections::HashSet;

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use civitas_core::{
    AdminUnits, CommuneCode, Ethnicity, LifeStatus, MaritalStatus, PartialDate, Pid, ProvinceCode, Relation, Sex,
};

use crate::model::{HouseholdId, Person, Residence};

const FAMILY_NAMES: &str = include_str!("../data/family-names.csv");
const MIDDLE_NAMES: &str = include_str!("../data/middle-names.csv");
const GIVEN_NAMES: &str = include_str!("../data/given-names.csv");
const AGE_STRUCTURE: &str = include_str!("../data/age-structure.csv");
const RELIGIONS: &str = include_str!("../data/religion.csv");

const STREETS: [&str; 16] = [
    "Trần Hưng Đạo",
    "Lê Lợi",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Lê Duẩn",
    "Phan Đình Phùng",
    "Nguyễn Du",
    "Hoàng Diệu",
    "Trường Chinh",
    "Giải Phóng",
    "Nguyễn Văn Cừ",
    "Kim Mã",
    "Láng Hạ",
    "Tôn Đức Thắng",
];

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("province {0} has no communes in the 2025 catalogue")]
    NoCommunes(String),
}

struct Weighted<T> {
    items: Vec<(T, f64)>,
    total: f64,
}

impl<T: Clone> Weighted<T> {
    fn new(items: Vec<(T, f64)>) -> Self {
        let total = items.iter().map(|(_, w)| w).sum();
        Weighted { items, total }
    }
    fn pick(&self, rng: &mut impl Rng) -> T {
        let mut x = rng.random::<f64>() * self.total;
        for (item, w) in &self.items {
            if x < *w {
                return item.clone();
            }
            x -= w;
        }
        self.items[self.items.len() - 1].0.clone()
    }
}

fn csv_rows(s: &str) -> impl Iterator<Item = Vec<&str>> {
    s.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split(',').map(str::trim).collect())
}

/// Generates people of one province.
pub struct Generator {
    rng: ChaCha8Rng,
    province: ProvinceCode,
    as_of: time::Date,
    communes: Vec<CommuneCode>,
    family: Weighted<String>,
    middle_m: Vec<String>,
    middle_f: Vec<String>,
    given_m: Vec<String>,
    given_f: Vec<String>,
    ages: Weighted<(i32, i32)>,
    religions: Weighted<String>,
    old_provinces: Vec<String>,
    used: HashSet<Pid>,
    households: u64,
    kinh_share: f64,
}

impl Generator {
    pub fn new(province: ProvinceCode, seed: u64, as_of: time::Date) -> Result<Self, SynthError> {
        let units = AdminUnits::get();
        let communes: Vec<CommuneCode> =
            units.communes_of(province.as_str()).filter_map(|c| CommuneCode::parse(&c.code).ok()).collect();
        if communes.is_empty() {
            return Err(SynthError::NoCommunes(province.as_str().to_owned()));
        }
        let southern = province.as_str() >= "46";
        let family = Weighted::new(
            csv_rows(FAMILY_NAMES)
                .filter(|r| r.len() >= 2)
                .map(|r| {
                    let share: f64 = r[1].parse().unwrap_or(0.1);
                    let factor = match (r[0], southern) {
                        ("Huỳnh" | "Võ", false) | ("Hoàng" | "Vũ", true) => 0.2,
                        _ => 1.0,
                    };
                    (civitas_core::nfc(r[0]), share * factor)
                })
                .collect(),
        );
        let by_sex = |csv: &str, sex: &str| -> Vec<String> {
            csv_rows(csv).filter(|r| r.len() == 2 && r[1] == sex).map(|r| civitas_core::nfc(r[0])).collect()
        };
        let ages = Weighted::new(
            csv_rows(AGE_STRUCTURE)
                .filter(|r| r.len() == 3)
                .filter_map(|r| Some(((r[0].parse().ok()?, r[1].parse().ok()?), r[2].parse().ok()?)))
                .collect(),
        );
        let religions = Weighted::new(
            csv_rows(RELIGIONS)
                .filter(|r| r.len() == 2)
                .map(|r| (civitas_core::nfc(r[0]), r[1].parse().unwrap_or(0.1)))
                .collect(),
        );
        let mut old_provinces: Vec<String> =
            (1..=99).map(|n| format!("{n:02}")).filter(|c| units.old_province_name(c).is_some()).collect();
        old_provinces.sort();
        Ok(Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            kinh_share: if province.as_str() == "01" { 0.98 } else { 0.86 },
            province,
            as_of,
            communes,
            family,
            middle_m: by_sex(MIDDLE_NAMES, "M"),
            middle_f: by_sex(MIDDLE_NAMES, "F"),
            given_m: by_sex(GIVEN_NAMES, "M"),
            given_f: by_sex(GIVEN_NAMES, "F"),
            ages,
            religions,
            old_provinces,
            used: HashSet::new(),
            households: 0,
        })
    }

    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        &items[self.rng.random_range(0..items.len())]
    }

    fn random_age(&mut self, min: i32, max: i32) -> i32 {
        for _ in 0..20 {
            let (from, to) = self.ages.pick(&mut self.rng);
            let age = self.rng.random_range(from..=to);
            if (min..=max).contains(&age) {
                return age;
            }
        }
        self.rng.random_range(min..=max.max(min))
    }

    fn birth_date(&mut self, age: i32) -> PartialDate {
        let year = (self.as_of.year() - age - 1).max(1900);
        // A random day in the year in which someone of `age` on `as_of` was born.
        let start = time::Date::from_calendar_date(year, time::Month::January, 1).unwrap_or(self.as_of);
        let offset = self.rng.random_range(0..365);
        let mut date = start + time::Duration::days(offset);
        // keep the completed age exact
        let birthday_this_year = date.replace_year(self.as_of.year()).unwrap_or(date);
        if birthday_this_year > self.as_of {
            date = date.replace_year(year + 1).unwrap_or(date);
            if date > self.as_of {
                date = self.as_of;
            }
        } else {
            date = date.replace_year(year + 1).unwrap_or(date);
        }
        let full = PartialDate::full(date);
        if age >= 70 && self.rng.random_bool(0.04) {
            return PartialDate::year_only(full.year()).unwrap_or(full);
        }
        if age >= 60 && self.rng.random_bool(0.03) {
            return PartialDate::new(full.year(), full.month(), None).unwrap_or(full);
        }
        full
    }

    fn new_pid(&mut self, sex: Sex, birth_year: u16) -> Pid {
        let prefix = if self.rng.random_bool(0.85) {
            self.province.clone()
        } else {
            let i = self.rng.random_range(0..self.old_provinces.len());
            ProvinceCode::parse(&self.old_provinces[i]).unwrap_or_else(|_| self.province.clone())
        };
        loop {
            let serial = self.rng.random_range(0..1_000_000);
            if let Ok(pid) = Pid::compose(&prefix, sex, birth_year.clamp(1900, 2399), serial)
                && self.used.insert(pid)
            {
                return pid;
            }
        }
    }

    fn person(
        &mut self,
        sex: Sex,
        age: i32,
        family: &str,
        residence: &Residence,
        household: &HouseholdId,
        relation: Relation,
    ) -> Person {
        let birth_date = self.birth_date(age);
        let pid = self.new_pid(sex, birth_date.year());
        let (middles, givens) = match sex {
            Sex::Male => (self.middle_m.clone(), self.given_m.clone()),
            Sex::Female => (self.middle_f.clone(), self.given_f.clone()),
        };
        // The most common middle names (Văn, Thị) are less common among the young.
        let middle =
            if age > 35 && self.rng.random_bool(0.5) { middles[0].clone() } else { self.pick(&middles).to_owned() };
        let given = self.pick(&givens).to_owned();
        let ethnicity = if self.rng.random_bool(self.kinh_share) {
            Ethnicity::KINH
        } else {
            Ethnicity::from_number(self.rng.random_range(2..=10)).unwrap_or(Ethnicity::KINH)
        };
        let religion = self.religions.pick(&mut self.rng);
        let units = AdminUnits::get();
        let reg_province = units.old_province_name(pid.registration_province()).map(str::to_owned);
        let home_i = self.rng.random_range(0..self.old_provinces.len());
        let hometown = units.old_province_name(&self.old_provinces[home_i]).map(str::to_owned);
        Person {
            pid,
            full_name: format!("{family} {middle} {given}"),
            other_names: vec![],
            birth_date,
            sex,
            birth_registration_place: reg_province,
            hometown,
            ethnicity,
            religion,
            nationality: "VN".into(),
            marital_status: MaritalStatus::Single,
            status: LifeStatus::Living,
            father_pid: None,
            mother_pid: None,
            spouse_pid: None,
            permanent_residence: Some(residence.clone()),
            temporary_residence: None,
            current_residence: None,
            household_id: Some(household.clone()),
            relation_to_head: Some(relation),
            version: None,
            updated_at: None,
        }
    }

    /// The next household: 1 to 7 people, the head first.
    pub fn household(&mut self) -> Vec<Person> {
        self.households += 1;
        let household = HouseholdId::generated(self.province.as_str(), self.households);
        let commune = self.communes[self.rng.random_range(0..self.communes.len())].clone();
        let street = STREETS[self.rng.random_range(0..STREETS.len())];
        let residence =
            Residence { commune, address: format!("Số {} đường {street}", self.rng.random_range(1..400)) };
        let size = Weighted::new(vec![(1, 12.0), (2, 20.0), (3, 24.0), (4, 24.0), (5, 12.0), (6, 6.0), (7, 2.0)])
            .pick(&mut self.rng);
        let head_sex = if self.rng.random_bool(0.72) { Sex::Male } else { Sex::Female };
        let head_age = self.random_age(22, 90);
        let family = self.family.pick(&mut self.rng);
        let mut people = vec![self.person(head_sex, head_age, &family, &residence, &household, Relation::Head)];
        let mut father = None;
        let mut mother = None;
        if size >= 2 && head_age >= 22 && self.rng.random_bool(0.85) {
            let spouse_sex = if head_sex == Sex::Male { Sex::Female } else { Sex::Male };
            let spouse_age =
                (head_age + self.rng.random_range(-6..=4) * if head_sex == Sex::Male { 1 } else { -1 }).clamp(20, 95);
            let spouse_family = self.family.pick(&mut self.rng);
            let mut spouse =
                self.person(spouse_sex, spouse_age, &spouse_family, &residence, &household, Relation::Spouse);
            spouse.marital_status = MaritalStatus::Married;
            spouse.spouse_pid = Some(people[0].pid);
            people[0].marital_status = MaritalStatus::Married;
            people[0].spouse_pid = Some(spouse.pid);
            (father, mother) = if head_sex == Sex::Male {
                (Some(people[0].pid), Some(spouse.pid))
            } else {
                (Some(spouse.pid), Some(people[0].pid))
            };
            people.push(spouse);
        } else if head_age > 60 && self.rng.random_bool(0.5) {
            people[0].marital_status = MaritalStatus::Widowed;
        } else if head_sex == Sex::Male {
            father = Some(people[0].pid);
        } else {
            mother = Some(people[0].pid);
        }
        let child_family = if head_sex == Sex::Male || father.is_none() {
            family.clone()
        } else {
            people.get(1).and_then(|s| s.full_name.split(' ').next()).unwrap_or(&family).to_owned()
        };
        let youngest_parent =
            people.iter().map(|p| self.as_of.year() - i32::from(p.birth_date.year())).min().unwrap_or(head_age);
        while people.len() < size {
            if people.len() >= 4 && head_age < 60 && self.rng.random_bool(0.4) {
                // an elderly parent of the head
                let sex = if self.rng.random_bool(0.6) { Sex::Female } else { Sex::Male };
                let age = (head_age + self.rng.random_range(22..=35)).min(100);
                let parent_family = if sex == Sex::Male { family.clone() } else { self.family.pick(&mut self.rng) };
                let mut parent = self.person(sex, age, &parent_family, &residence, &household, Relation::Parent);
                parent.marital_status = MaritalStatus::Widowed;
                match sex {
                    Sex::Male => people[0].father_pid = Some(parent.pid),
                    Sex::Female => people[0].mother_pid = Some(parent.pid),
                }
                people.push(parent);
                continue;
            }
            let max_child_age = (youngest_parent - 20).max(0);
            let age = if max_child_age == 0 { 0 } else { self.random_age(0, max_child_age) };
            // 111 boys per 100 girls at birth
            let sex = if self.rng.random_bool(0.526) { Sex::Male } else { Sex::Female };
            let mut child = self.person(sex, age, &child_family, &residence, &household, Relation::Child);
            child.father_pid = father;
            child.mother_pid = mother;
            people.push(child);
        }
        people
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(seed: u64, n: usize) -> Vec<Person> {
        let mut g =
            Generator::new(ProvinceCode::parse("01").unwrap(), seed, time::macros::date!(2026 - 07 - 01)).unwrap();
        let mut out = Vec::new();
        while out.len() < n {
            out.extend(g.household());
        }
        out
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a = serde_json::to_string(&generate(7, 500)).unwrap();
        let b = serde_json::to_string(&generate(7, 500)).unwrap();
        let c = serde_json::to_string(&generate(8, 500)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn every_generated_person_is_valid_and_consistent() {
        let people = generate(1, 5000);
        let today = time::macros::date!(2026 - 07 - 01);
        let mut pids = HashSet::new();
        let mut nguyen = 0;
        let mut males = 0;
        for p in &people {
            assert!(pids.insert(p.pid), "duplicate pid");
            let valid = p.clone().normalize_and_validate(today);
            assert!(valid.is_ok(), "{p:?}: {valid:?}");
            assert_eq!(p.permanent_residence.as_ref().map(|r| r.commune.province()), Some("01"));
            nguyen += usize::from(p.full_name.starts_with("Nguyễn"));
            males += usize::from(p.sex == Sex::Male);
        }
        let share = nguyen as f64 / people.len() as f64;
        assert!((0.30..0.46).contains(&share), "Nguyễn share {share}");
        let male_share = males as f64 / people.len() as f64;
        assert!((0.45..0.56).contains(&male_share), "male share {male_share}");
        let households: HashSet<_> = people.iter().filter_map(|p| p.household_id.clone()).collect();
        let avg = people.len() as f64 / households.len() as f64;
        assert!((3.0..4.0).contains(&avg), "household size {avg}");
    }
}
