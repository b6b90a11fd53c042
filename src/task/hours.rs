//! Working hours: when a task is due, how long it took, and which working day it is.
//!
//! `work_hours = "Mon-Fri 09:00-18:00"` in the account's timezone. A due time such as
//! `"4h"` or `"2d"` is counted in working time only (a day is one working day's length), so
//! a task delegated on Friday at 17:00 with `"2h"` is due on Monday at 10:00. Each day's
//! window is placed on the local clock, so a daylight-saving change moves nothing a person
//! would see; a window that spans the change itself is as long as it really is. Pure: times
//! are Unix seconds, passed in.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// No task is due more than this many working days away (a typo guard).
const MAX_DUE_DAYS: u32 = 365;

/// The days and hours someone works, on the local clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkHours {
    /// Monday first.
    pub days: [bool; 7],
    /// When work starts each working day.
    pub start: Time,
    /// When it ends (after `start`).
    pub end: Time,
}

impl Default for WorkHours {
    /// Monday to Friday, 09:00 to 18:00.
    fn default() -> Self {
        WorkHours {
            days: [true, true, true, true, true, false, false],
            start: jiff::civil::time(9, 0, 0, 0),
            end: jiff::civil::time(18, 0, 0, 0),
        }
    }
}

const DAY_NAMES: [[&str; 2]; 7] = [
    ["mon", "lun"],
    ["tue", "mar"],
    ["wed", "mer"],
    ["thu", "gio"],
    ["fri", "ven"],
    ["sat", "sab"],
    ["sun", "dom"],
];

fn day_index(name: &str) -> Option<usize> {
    let name = name.trim().to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|names| names.contains(&name.as_str()))
}

impl WorkHours {
    /// Reads `"Mon-Fri 09:00-18:00"` (days as ranges or lists: `"Mon,Wed,Fri"`,
    /// `"Lun-Ven"`; a 24-hour clock). The error says what is wrong, for a help line.
    pub fn parse(s: &str) -> Result<WorkHours, String> {
        let (days_part, hours_part) = s
            .trim()
            .split_once(char::is_whitespace)
            .ok_or("expected days, then hours, e.g. \"Mon-Fri 09:00-18:00\"")?;
        let mut days = [false; 7];
        for item in days_part.split(',') {
            let (from, to) = item.split_once('-').unwrap_or((item, item));
            let (Some(from), Some(to)) = (day_index(from), day_index(to)) else {
                return Err(format!(
                    "`{item}` is not a day or a range of days: write Mon, Tue, Wed, Thu, Fri, Sat, Sun"
                ));
            };
            let mut d = from;
            loop {
                days[d] = true;
                if d == to {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        let (start, end) = hours_part
            .trim()
            .split_once('-')
            .ok_or("expected hours as \"09:00-18:00\"")?;
        let time = |t: &str| {
            Time::strptime("%H:%M", t.trim()).map_err(|_| {
                format!(
                    "`{}` is not a time of day (24-hour clock, \"09:00\")",
                    t.trim()
                )
            })
        };
        let (start, end) = (time(start)?, time(end)?);
        if end <= start {
            return Err(format!(
                "work ends ({end}) before it starts ({start}): write the earlier time first",
                end = end.strftime("%H:%M"),
                start = start.strftime("%H:%M")
            ));
        }
        Ok(WorkHours { days, start, end })
    }

    /// The length of one working day, in seconds.
    pub fn day_secs(&self) -> i64 {
        self.start
            .until(self.end)
            .ok()
            .and_then(|span| span.total(jiff::Unit::Second).ok())
            .map_or(0, |s| s as i64)
    }

    /// The working window of a date in Unix seconds, if it is a working day.
    fn window(&self, date: Date, tz: &TimeZone) -> Option<(i64, i64)> {
        let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).ok()?;
        if !self.days[weekday] {
            return None;
        }
        let at = |t: Time| date.to_datetime(t).to_zoned_datetime(tz.clone()).ok();
        let (start, end) = (at(self.start)?, at(self.end)?);
        Some((start.timestamp().as_second(), end.timestamp().as_second()))
    }

    /// The local date of a moment.
    fn date_of(at: i64, tz: &TimeZone) -> Option<Date> {
        Some(
            Timestamp::from_second(at)
                .ok()?
                .to_zoned_datetime(tz.clone())
                .date(),
        )
    }

    /// The moment `secs` of working time after `start`.
    pub fn add(&self, start: i64, secs: i64, tz: &TimeZone) -> i64 {
        let Some(mut date) = Self::date_of(start, tz) else {
            return start.saturating_add(secs);
        };
        let mut left = secs.max(0);
        let mut cursor = start;
        // At least one working day a week: the bound is never reached with a due time
        // within `MAX_DUE_DAYS`.
        for _ in 0..(MAX_DUE_DAYS as usize + 2) * 7 {
            if let Some((open, close)) = self.window(date, tz) {
                let from = cursor.max(open);
                if from < close {
                    if left <= close - from {
                        return from + left;
                    }
                    left -= close - from;
                }
                cursor = cursor.max(close);
            }
            match date.checked_add(1.day()) {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        cursor.saturating_add(left)
    }

    /// Working time, in seconds, between two moments.
    pub fn worked(&self, from: i64, to: i64, tz: &TimeZone) -> i64 {
        let (Some(mut date), Some(last)) = (Self::date_of(from, tz), Self::date_of(to, tz)) else {
            return 0;
        };
        let mut total = 0;
        while date <= last {
            if let Some((open, close)) = self.window(date, tz) {
                total += (close.min(to) - open.max(from)).max(0);
            }
            match date.checked_add(1.day()) {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        total
    }

    /// The working day `at` falls in, when it falls inside working hours (reminders go
    /// out then, at most one a day).
    pub fn working_day(&self, at: i64, tz: &TimeZone) -> Option<Date> {
        let date = Self::date_of(at, tz)?;
        let (open, close) = self.window(date, tz)?;
        (open..close).contains(&at).then_some(date)
    }
}

/// How soon a rule's tasks are due, in working time: `"4h"`, `"30m"`, `"2d"`, `"1d4h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Whole working days.
    pub days: u32,
    /// Working minutes on top.
    pub minutes: u32,
}

impl Due {
    /// Reads `"4h"`, `"2d"`, `"90m"`, `"1d4h"`; the error is for a help line.
    pub fn parse(s: &str) -> Result<Due, String> {
        let s = s.trim();
        if s.contains(char::is_whitespace) {
            return Err(
                "write each number and its unit together, without spaces (\"2d\", \"1d4h\")".into(),
            );
        }
        let mut due = Due {
            days: 0,
            minutes: 0,
        };
        let mut number = String::new();
        let mut any = false;
        for c in s.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let n: u32 = number
                .parse()
                .map_err(|_| format!("`{s}`: a number must come before `{c}`"))?;
            number.clear();
            any = true;
            match c {
                'd' => due.days = due.days.saturating_add(n),
                'h' => due.minutes = due.minutes.saturating_add(n.saturating_mul(60)),
                'm' => due.minutes = due.minutes.saturating_add(n),
                _ => return Err(format!("`{c}` is not a unit: use d (working days), h or m")),
            }
        }
        if !number.is_empty() || !any {
            return Err(format!("`{s}` has no unit: write e.g. \"4h\" or \"2d\""));
        }
        if due.days == 0 && due.minutes == 0 {
            return Err("a task cannot be due at once: write at least \"1m\"".into());
        }
        if due.days.saturating_add(due.minutes / 60 / 24) > MAX_DUE_DAYS {
            return Err(format!("more than {MAX_DUE_DAYS} working days"));
        }
        Ok(due)
    }

    /// When a task delegated at `start` is due.
    pub fn at(self, start: i64, hours: &WorkHours, tz: &TimeZone) -> i64 {
        let secs = i64::from(self.days) * hours.day_secs() + i64::from(self.minutes) * 60;
        hours.add(start, secs, tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rome() -> TimeZone {
        TimeZone::get("Europe/Rome").expect("tzdb")
    }

    /// Unix seconds of a local time in Rome.
    fn at(s: &str) -> i64 {
        let dt: jiff::civil::DateTime = s.parse().expect("datetime");
        dt.to_zoned_datetime(rome())
            .expect("zoned")
            .timestamp()
            .as_second()
    }

    fn local(t: i64) -> String {
        Timestamp::from_second(t)
            .expect("ts")
            .to_zoned_datetime(rome())
            .strftime("%a %Y-%m-%d %H:%M")
            .to_string()
    }

    fn due(s: &str, start: &str) -> String {
        let hours = WorkHours::default();
        local(Due::parse(s).expect("due").at(at(start), &hours, &rome()))
    }

    #[test]
    fn a_due_time_counts_working_hours_only() {
        assert_eq!(due("4h", "2026-11-24T10:00"), "Tue 2026-11-24 14:00");
        assert_eq!(due("4h", "2026-11-24T16:00"), "Wed 2026-11-25 11:00");
        assert_eq!(due("2d", "2026-11-24T10:00"), "Thu 2026-11-26 10:00");
        assert_eq!(due("1d4h", "2026-11-24T10:00"), "Wed 2026-11-25 14:00");
        // Before hours: counted from the opening.
        assert_eq!(due("30m", "2026-11-24T07:00"), "Tue 2026-11-24 09:30");
    }

    #[test]
    fn a_weekend_is_not_working_time() {
        assert_eq!(due("2h", "2026-11-27T17:00"), "Mon 2026-11-30 10:00");
        assert_eq!(due("1d", "2026-11-28T11:00"), "Mon 2026-11-30 18:00");
        assert_eq!(due("2d", "2026-11-27T17:00"), "Tue 2026-12-01 17:00");
        let hours = WorkHours::default();
        let worked = hours.worked(at("2026-11-27T17:00"), at("2026-11-30T10:00"), &rome());
        assert_eq!(worked, 2 * 3600);
    }

    #[test]
    fn daylight_saving_changes_move_no_working_hour() {
        // Rome: clocks forward on Sunday 29 March 2026, back on Sunday 25 October 2026.
        assert_eq!(due("1d", "2026-03-27T15:00"), "Mon 2026-03-30 15:00");
        assert_eq!(due("1d", "2026-10-23T15:00"), "Mon 2026-10-26 15:00");
        let hours = WorkHours::default();
        for (from, to) in [
            ("2026-03-27T15:00", "2026-03-30T15:00"),
            ("2026-10-23T15:00", "2026-10-26T15:00"),
        ] {
            assert_eq!(hours.worked(at(from), at(to), &rome()), 9 * 3600, "{from}");
        }
    }

    #[test]
    fn a_window_across_the_change_is_as_long_as_it_really_is() {
        // Working on Sundays 01:00-04:00: on 29 March 2026 02:00 does not exist, so that
        // window is two real hours; on 25 October 02:00-03:00 happens twice: four.
        let hours = WorkHours::parse("Sun 01:00-04:00").expect("hours");
        let spring = hours.worked(at("2026-03-29T00:00"), at("2026-03-29T05:00"), &rome());
        assert_eq!(spring, 2 * 3600);
        let autumn = hours.worked(at("2026-10-25T00:00"), at("2026-10-25T05:00"), &rome());
        assert_eq!(autumn, 4 * 3600);
    }

    #[test]
    fn work_hours_are_read_with_clear_errors() {
        let h = WorkHours::parse("Lun-Ven 08:30-17:30").expect("italian");
        assert_eq!(h.days, [true, true, true, true, true, false, false]);
        assert_eq!(h.day_secs(), 9 * 3600);
        let h = WorkHours::parse("Sat-Mon 10:00-12:00").expect("wraps");
        assert_eq!(h.days, [true, false, false, false, false, true, true]);
        let h = WorkHours::parse("Mon,Wed,Fri 09:00-13:00").expect("list");
        assert_eq!(h.days, [true, false, true, false, true, false, false]);
        assert!(WorkHours::parse("Mon-Fri").is_err());
        assert!(
            WorkHours::parse("Mon-Fry 09:00-18:00")
                .unwrap_err()
                .contains("Fry")
        );
        assert!(
            WorkHours::parse("Mon-Fri 18:00-09:00")
                .unwrap_err()
                .contains("before")
        );
        assert!(WorkHours::parse("Mon-Fri 9-18").is_err());
    }

    #[test]
    fn due_times_are_read_with_clear_errors() {
        assert_eq!(
            Due::parse("4h"),
            Ok(Due {
                days: 0,
                minutes: 240
            })
        );
        assert_eq!(
            Due::parse("2d"),
            Ok(Due {
                days: 2,
                minutes: 0
            })
        );
        assert_eq!(
            Due::parse("1d30m"),
            Ok(Due {
                days: 1,
                minutes: 30
            })
        );
        assert!(Due::parse("4").unwrap_err().contains("no unit"));
        assert!(Due::parse("4w").unwrap_err().contains("not a unit"));
        assert!(Due::parse("0h").is_err());
        assert!(Due::parse("h").is_err());
        assert!(Due::parse("2 days").unwrap_err().contains("without spaces"));
        assert!(Due::parse("400d").is_err());
    }

    #[test]
    fn a_working_day_is_known_only_inside_working_hours() {
        let hours = WorkHours::default();
        assert!(hours.working_day(at("2026-11-24T10:00"), &rome()).is_some());
        assert!(hours.working_day(at("2026-11-24T19:00"), &rome()).is_none());
        assert!(hours.working_day(at("2026-11-28T10:00"), &rome()).is_none());
    }
}
