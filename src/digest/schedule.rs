//! When the next digest is due: pure arithmetic on the account's local clock.
//!
//! A digest belongs to a local day and is sent at the account's `at` on that day, in its IANA
//! timezone. Given the last day sent and `now`, [`next_due`] says which day comes next and
//! when; waiting, sending and recording are the daemon's.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// The next digest: the local day it is for, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The local day the digest is for (recorded with it, so a day has one digest).
    pub day: Date,
    /// When to send it; at or before `now` means at once (on time, or catching up).
    pub at: Timestamp,
}

impl Due {
    /// True when it should be sent now.
    pub fn is_due(&self, now: Timestamp) -> bool {
        self.at <= now
    }
}

/// The next digest after the one for `last_sent` (the local day of the last digest recorded,
/// if any), as seen at `now`.
///
/// - A day already recorded is never due again: after `last_sent`, the next day is the one
///   after it.
/// - If today's time has passed and today has no digest, today's is due now: on time, or
///   late because delega was down at that time.
/// - Before today's time, yesterday's digest is due now if it was missed (delega was down
///   then) — one catch-up, never more: earlier missed days are covered by it, since each
///   digest reports everything since the previous one. With no digest ever recorded there is
///   nothing to catch up: the first is today's.
///
/// A day skipped for having nothing to report must be recorded too, or it stays due.
///
/// `at` is read on the local clock of each day: on a spring-forward day a time in the gap
/// (02:30 in Europe/Rome on 2026-03-29) falls just after the jump (03:30), and on a
/// fall-back day a time that occurs twice is taken the first time; each day has exactly one.
/// Fails only for dates at the edge of jiff's range (the years -9999 and 9999).
pub fn next_due(
    at: Time,
    tz: &TimeZone,
    last_sent: Option<Date>,
    now: Timestamp,
) -> Result<Due, jiff::Error> {
    let today = tz.to_datetime(now).date();
    let due = |day: Date| -> Result<Due, jiff::Error> {
        Ok(Due {
            day,
            at: send_time(day, at, tz)?,
        })
    };
    match last_sent {
        Some(last) if last >= today => return due(last.tomorrow()?),
        _ => {}
    }
    let todays = due(today)?;
    if todays.is_due(now) {
        return Ok(todays);
    }
    let yesterday = today.yesterday()?;
    match last_sent {
        Some(last) if last < yesterday => due(yesterday),
        _ => Ok(todays),
    }
}

/// The instant `at` on the local clock of `day`, disambiguated the way people expect: a
/// time skipped by a spring-forward is moved forward by the gap, a time repeated by a
/// fall-back is its first occurrence (RFC 5545's rule, jiff's "compatible").
fn send_time(day: Date, at: Time, tz: &TimeZone) -> Result<Timestamp, jiff::Error> {
    Ok(tz
        .to_ambiguous_zoned_datetime(day.to_datetime(at))
        .compatible()?
        .timestamp())
}

#[cfg(test)]
mod tests {
    use jiff::civil::{date, time};

    use super::*;

    fn rome() -> TimeZone {
        TimeZone::get("Europe/Rome").expect("the bundled tzdb has Europe/Rome")
    }

    fn utc(s: &str) -> Timestamp {
        s.parse().expect("a valid RFC 3339 timestamp")
    }

    /// Runs a daemon that sleeps until each digest is due, sends it and records its day, from
    /// `start` to `end`; returns (day, instant sent).
    fn run(at: Time, start: &str, end: &str) -> Vec<(Date, Timestamp)> {
        let (tz, end) = (rome(), utc(end));
        let (mut now, mut last, mut sent) = (utc(start), None, Vec::new());
        loop {
            let due = next_due(at, &tz, last, now).expect("in range");
            if due.at > end {
                return sent;
            }
            now = now.max(due.at);
            sent.push((due.day, now));
            last = Some(due.day);
        }
    }

    #[test]
    fn the_digest_keeps_its_local_time_across_both_2026_dst_changes() {
        let sent = run(
            time(18, 0, 0, 0),
            "2026-03-27T12:00:00Z",
            "2026-03-30T23:00:00Z",
        );
        let expected = [
            (date(2026, 3, 27), "2026-03-27T17:00:00Z"),
            (date(2026, 3, 28), "2026-03-28T17:00:00Z"),
            (date(2026, 3, 29), "2026-03-29T16:00:00Z"),
            (date(2026, 3, 30), "2026-03-30T16:00:00Z"),
        ];
        assert_eq!(sent, expected.map(|(d, t)| (d, utc(t))));

        let sent = run(
            time(18, 0, 0, 0),
            "2026-10-24T12:00:00Z",
            "2026-10-26T23:00:00Z",
        );
        let expected = [
            (date(2026, 10, 24), "2026-10-24T16:00:00Z"),
            (date(2026, 10, 25), "2026-10-25T17:00:00Z"),
            (date(2026, 10, 26), "2026-10-26T17:00:00Z"),
        ];
        assert_eq!(sent, expected.map(|(d, t)| (d, utc(t))));
    }

    #[test]
    fn a_time_skipped_by_spring_forward_fires_once_just_after_the_jump() {
        // 2026-03-29 in Rome: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
        let sent = run(
            time(2, 30, 0, 0),
            "2026-03-28T00:00:00Z",
            "2026-03-30T12:00:00Z",
        );
        let expected = [
            (date(2026, 3, 28), "2026-03-28T01:30:00Z"),
            (date(2026, 3, 29), "2026-03-29T01:30:00Z"), // 03:30 CEST
            (date(2026, 3, 30), "2026-03-30T00:30:00Z"),
        ];
        assert_eq!(sent, expected.map(|(d, t)| (d, utc(t))));
    }

    #[test]
    fn a_time_repeated_by_fall_back_fires_once_the_first_time() {
        // 2026-10-25 in Rome: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
        let sent = run(
            time(2, 30, 0, 0),
            "2026-10-24T00:00:00Z",
            "2026-10-26T12:00:00Z",
        );
        let expected = [
            (date(2026, 10, 24), "2026-10-24T00:30:00Z"),
            (date(2026, 10, 25), "2026-10-25T00:30:00Z"), // 02:30 CEST, not 02:30 CET
            (date(2026, 10, 26), "2026-10-26T01:30:00Z"),
        ];
        assert_eq!(sent, expected.map(|(d, t)| (d, utc(t))));
    }

    #[test]
    fn after_downtime_over_the_time_the_missed_digest_is_due_at_once() {
        let (tz, at) = (rome(), time(18, 0, 0, 0));
        // Down from before the 23rd's 18:00 until the 24th at 09:00 (10:00 in Rome).
        let back = utc("2026-11-24T09:00:00Z");
        let due = next_due(at, &tz, Some(date(2026, 11, 22)), back).expect("in range");
        assert_eq!(due.day, date(2026, 11, 23));
        assert!(due.is_due(back));
        // Once it is recorded, the next is today's, at its time.
        let due = next_due(at, &tz, Some(date(2026, 11, 23)), back).expect("in range");
        assert_eq!(
            (due.day, due.at),
            (date(2026, 11, 24), utc("2026-11-24T17:00:00Z"))
        );
    }

    #[test]
    fn a_long_downtime_gives_one_catch_up_digest_not_one_per_day() {
        // Down for a week, back on the 24th in the morning: only the 23rd's, then today's.
        let sent = run(
            time(18, 0, 0, 0),
            "2026-11-24T09:00:00Z",
            "2026-11-24T23:00:00Z",
        );
        assert_eq!(
            sent,
            [(date(2026, 11, 24), utc("2026-11-24T17:00:00Z"))],
            "with no digest ever sent there is nothing to catch up"
        );

        let (tz, at) = (rome(), time(18, 0, 0, 0));
        let back = utc("2026-11-24T09:00:00Z");
        let first = next_due(at, &tz, Some(date(2026, 11, 17)), back).expect("in range");
        assert_eq!(first.day, date(2026, 11, 23));
        assert!(first.is_due(back));
        let second = next_due(at, &tz, Some(first.day), back).expect("in range");
        assert_eq!(second.day, date(2026, 11, 24));
        assert!(!second.is_due(back));

        // Back after today's time: today's digest alone covers the whole downtime.
        let evening = utc("2026-11-24T20:00:00Z");
        let due = next_due(at, &tz, Some(date(2026, 11, 17)), evening).expect("in range");
        assert_eq!(due.day, date(2026, 11, 24));
        assert!(due.is_due(evening));
        let next = next_due(at, &tz, Some(due.day), evening).expect("in range");
        assert_eq!(next.day, date(2026, 11, 25));
    }

    #[test]
    fn a_day_already_sent_is_never_due_again() {
        let (tz, at) = (rome(), time(18, 0, 0, 0));
        for now in [
            "2026-11-24T06:00:00Z",
            "2026-11-24T17:00:00Z",
            "2026-11-24T22:59:59Z",
        ] {
            let now = utc(now);
            let due = next_due(at, &tz, Some(date(2026, 11, 24)), now).expect("in range");
            assert_eq!(due.day, date(2026, 11, 25), "{now}");
            assert!(!due.is_due(now), "{now}");
        }
        // A recorded day ahead of the clock (the clock was set back): the day after it.
        let now = utc("2026-11-24T20:00:00Z");
        let due = next_due(at, &tz, Some(date(2026, 11, 26)), now).expect("in range");
        assert_eq!(due.day, date(2026, 11, 27));
        // Run for a month: one digest per day, no day twice.
        let sent = run(at, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
        assert_eq!(sent.len(), 30);
        assert!(
            sent.windows(2)
                .all(|w| w[1].0 == w[0].0.tomorrow().expect("in range"))
        );
    }

    #[test]
    fn the_first_digest_waits_for_its_time() {
        let (tz, at) = (rome(), time(18, 0, 0, 0));
        let morning = utc("2026-11-24T08:00:00Z");
        let due = next_due(at, &tz, None, morning).expect("in range");
        assert_eq!(
            (due.day, due.at),
            (date(2026, 11, 24), utc("2026-11-24T17:00:00Z"))
        );
        // The local day decides, not UTC's: 00:30 in Rome is still the 24th in UTC.
        let after_midnight = utc("2026-11-24T23:30:00Z");
        let due = next_due(at, &tz, Some(date(2026, 11, 24)), after_midnight).expect("in range");
        assert_eq!(
            (due.day, due.at),
            (date(2026, 11, 25), utc("2026-11-25T17:00:00Z"))
        );
    }
}
