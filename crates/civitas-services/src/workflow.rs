//! The life of a one-stop dossier as data: its states, the actions that move it (each allowed
//! only in some states), and its clock — the appointment date is the receipt day plus the
//! statutory working days plus the working days the clock was stopped while the applicant was
//! asked for more documents; a finished dossier is early, on time or late against it.

use serde::{Deserialize, Serialize};
use time::Date;

use civitas_core::workdays::WorkCalendar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Received,
    InProcessing,
    /// The clock is stopped until the applicant supplies what was asked, or the request lapses.
    SupplementRequested,
    Approved,
    Refused,
    ResultIssued,
    Returned,
    RejectedAtReceipt,
    Withdrawn,
    /// The applicant did not supply the documents in time.
    Lapsed,
}

impl State {
    /// No action moves a dossier out of these.
    pub fn is_final(self) -> bool {
        matches!(self, State::Returned | State::RejectedAtReceipt | State::Withdrawn | State::Lapsed | State::Refused)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    StartProcessing,
    /// Hands the dossier to the next processing step (recorded like form 05).
    Forward,
    RequestSupplement,
    Supplement,
    LapseSupplement,
    Approve,
    Refuse,
    IssueResult,
    Return,
    RejectAtReceipt,
    Withdraw,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action:?} is not possible while the dossier is {state:?}")]
pub struct TransitionError {
    pub state: State,
    pub action: Action,
}

/// The state after `action`, or why it is not allowed now.
pub fn next(state: State, action: Action) -> Result<State, TransitionError> {
    use Action as A;
    use State as S;
    let to = match (state, action) {
        (S::Received, A::StartProcessing) => S::InProcessing,
        (S::InProcessing, A::Forward) => S::InProcessing,
        (S::Received, A::RejectAtReceipt) => S::RejectedAtReceipt,
        (S::Received | S::InProcessing, A::RequestSupplement) => S::SupplementRequested,
        (S::SupplementRequested, A::Supplement) => S::InProcessing,
        (S::SupplementRequested, A::LapseSupplement) => S::Lapsed,
        (S::InProcessing, A::Approve) => S::Approved,
        (S::InProcessing, A::Refuse) => S::Refused,
        (S::Approved, A::IssueResult) => S::ResultIssued,
        (S::ResultIssued, A::Return) => S::Returned,
        (S::Received | S::InProcessing | S::SupplementRequested, A::Withdraw) => S::Withdrawn,
        _ => return Err(TransitionError { state, action }),
    };
    Ok(to)
}

/// When the clock stopped and (once supplied) started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Date,
    pub until: Option<Date>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeliness {
    Early,
    OnTime,
    Late,
}

/// The appointment date: receipt day + statutory working days + the working days of every
/// finished pause (an open pause has no end yet: the date is recomputed when it ends).
pub fn appointment(calendar: &WorkCalendar, received_on: Date, statutory_days: u32, pauses: &[Pause]) -> Date {
    let paused: i64 =
        pauses.iter().filter_map(|p| p.until.map(|until| calendar.working_days_between(p.from, until).max(0))).sum();
    calendar.add_working_days(received_on, statutory_days.saturating_add(paused as u32))
}

/// Early, on time or late: finishing on the appointment day is on time.
pub fn timeliness(appointment: Date, finished_on: Date) -> Timeliness {
    match finished_on.cmp(&appointment) {
        std::cmp::Ordering::Less => Timeliness::Early,
        std::cmp::Ordering::Equal => Timeliness::OnTime,
        std::cmp::Ordering::Greater => Timeliness::Late,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn the_usual_path_and_wrong_moves() {
        let mut s = State::Received;
        for a in [
            Action::StartProcessing,
            Action::RequestSupplement,
            Action::Supplement,
            Action::Approve,
            Action::IssueResult,
            Action::Return,
        ] {
            s = next(s, a).unwrap();
        }
        assert_eq!(s, State::Returned);
        assert!(s.is_final());
        assert_eq!(
            next(State::Received, Action::Approve),
            Err(TransitionError { state: State::Received, action: Action::Approve })
        );
        assert!(next(State::ResultIssued, Action::Withdraw).is_err(), "too late to withdraw");
        assert_eq!(next(State::SupplementRequested, Action::LapseSupplement), Ok(State::Lapsed));
    }

    #[test]
    fn the_clock_stops_while_waiting_for_the_applicant() {
        let c = WorkCalendar::default();
        // Permanent residence, 7 working days from Monday 2 Nov 2026: Wednesday 11 Nov.
        let received = date!(2026 - 11 - 02);
        assert_eq!(appointment(&c, received, 7, &[]), date!(2026 - 11 - 11));
        // Asked on Wed 4 Nov, supplied on Mon 9 Nov: 3 working days paused → Mon 16 Nov.
        let pause = Pause { from: date!(2026 - 11 - 04), until: Some(date!(2026 - 11 - 09)) };
        assert_eq!(appointment(&c, received, 7, &[pause]), date!(2026 - 11 - 16));
        assert_eq!(timeliness(date!(2026 - 11 - 16), date!(2026 - 11 - 13)), Timeliness::Early);
        assert_eq!(timeliness(date!(2026 - 11 - 16), date!(2026 - 11 - 17)), Timeliness::Late);
    }

    proptest! {
        #[test]
        fn a_pause_moves_the_date_by_its_working_days(start in 0i64..700, days in 1u32..30, p0 in 0i64..20, len in 0i64..20) {
            let c = WorkCalendar::shipped();
            let received = date!(2026 - 01 - 01) + time::Duration::days(start);
            let base = appointment(&c, received, days, &[]);
            let from = received + time::Duration::days(p0);
            let pause = Pause { from, until: Some(from + time::Duration::days(len)) };
            let moved = appointment(&c, received, days, &[pause]);
            prop_assert_eq!(c.working_days_between(base, moved), c.working_days_between(from, from + time::Duration::days(len)));
            prop_assert!(moved >= base);
            // An open pause does not move it yet.
            prop_assert_eq!(appointment(&c, received, days, &[Pause { from, until: None }]), base);
        }
    }
}
