//! Pure, validated value types shared by every civitas context.
//!
//! Nothing here does I/O or reads the clock: callers pass `now` and randomness in.
//! Once a caller holds a [`Pid`], a [`PartialDate`] or a [`CommuneCode`], it is valid.

pub mod card;
pub mod chip;
pub mod date;
pub mod dossier;
pub mod lunar;
pub mod mrz;
pub mod period;
pub mod person;
pub mod pid;
pub mod text;
pub mod units;
pub mod workdays;

pub use date::{PartialDate, PartialDateError};
pub use period::{Period, PeriodError};
pub use person::{Ethnicity, LifeStatus, MaritalStatus, Relation, Sex};
pub use pid::{Pid, PidError};
pub use text::{fold, nfc, tokens};
pub use units::{AdminUnits, CommuneCode, ProvinceCode, Suggestion, UnitCode, UnitError};
