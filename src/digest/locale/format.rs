//! Dates, numbers, durations and money in each locale's usual form (it: `24/11/2026 18:00`,
//! `1.234,50 €`; en: `24 Nov 2026 18:00`, `€1,234.50`).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Words;
use crate::config::Language;

impl Words {
    /// `24/11/2026 18:00` or `24 Nov 2026 18:00`.
    pub(in crate::digest) fn datetime(self, unix: i64, tz: &TimeZone) -> String {
        self.strftime(unix, tz, self.pick("%d/%m/%Y %H:%M", "%-d %b %Y %H:%M"))
    }

    /// `24/11 18:00` or `24 Nov 18:00`: inside a period of a day or so, the year is noise.
    pub(in crate::digest) fn short_datetime(self, unix: i64, tz: &TimeZone) -> String {
        self.strftime(unix, tz, self.pick("%d/%m %H:%M", "%-d %b %H:%M"))
    }

    /// As [`Words::short_datetime`], with the year when it is not the year of `now`.
    pub(in crate::digest) fn datetime_near(self, unix: i64, now: i64, tz: &TimeZone) -> String {
        let year = |t: i64| Timestamp::from_second(t).map(|t| tz.to_datetime(t).year());
        match (year(unix), year(now)) {
            (Ok(a), Ok(b)) if a == b => self.short_datetime(unix, tz),
            _ => self.datetime(unix, tz),
        }
    }

    /// `24/11/2026` or `24 Nov 2026`.
    pub(in crate::digest) fn date(self, unix: i64, tz: &TimeZone) -> String {
        self.strftime(unix, tz, self.pick("%d/%m/%Y", "%-d %b %Y"))
    }

    fn strftime(self, unix: i64, tz: &TimeZone, format: &str) -> String {
        match Timestamp::from_second(unix) {
            Ok(t) => t.to_zoned_datetime(tz.clone()).strftime(format).to_string(),
            // Out of jiff's range: not a real time; show the number rather than lie.
            Err(_) => unix.to_string(),
        }
    }

    /// `1.234` or `1,234`.
    pub(in crate::digest) fn integer(self, n: u64) -> String {
        group(&n.to_string(), self.pick(".", ","))
    }

    /// `2 h`, `1 h 30 min`, `45 min`.
    pub(in crate::digest) fn duration(self, minutes: u64) -> String {
        let (h, m) = (minutes / 60, minutes % 60);
        match (h, m) {
            (0, m) => format!("{m} min"),
            (h, 0) => format!("{} h", self.integer(h)),
            (h, m) => format!("{} h {m} min", self.integer(h)),
        }
    }

    /// `1.234,50 €` or `€1,234.50`; an ISO code without a common symbol stays a code
    /// (`1.234,50 CHF`, `CHF 1,234.50`).
    pub(in crate::digest) fn money(self, amount: f64, currency: &str) -> String {
        // Whole cents: `as` saturates, and the config refuses negative values.
        let cents = (amount * 100.0).round().max(0.0) as u64;
        let (units, cents) = (cents / 100, cents % 100);
        let (thousands, decimal) = (self.pick(".", ","), self.pick(",", "."));
        let number = format!(
            "{}{decimal}{cents:02}",
            group(&units.to_string(), thousands)
        );
        let symbol = symbol(currency);
        match self.0 {
            Language::It => format!("{number} {symbol}"),
            Language::En if symbol.chars().count() == 1 => format!("{symbol}{number}"),
            Language::En => format!("{symbol} {number}"),
        }
    }
}

/// The usual symbol of an ISO 4217 code, or the text as configured.
fn symbol(currency: &str) -> &str {
    match currency.trim() {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        other => other,
    }
}

/// Digits with `sep` between groups of three.
fn group(digits: &str, sep: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IT: Words = Words(Language::It);
    const EN: Words = Words(Language::En);

    #[test]
    fn dates_follow_each_locale_in_the_account_timezone() {
        let tz = TimeZone::get("Europe/Rome").expect("the bundled tzdb has Europe/Rome");
        let t = 1_795_539_600; // 2026-11-24T17:00:00Z, 18:00 in Rome
        assert_eq!(IT.datetime(t, &tz), "24/11/2026 18:00");
        assert_eq!(EN.datetime(t, &tz), "24 Nov 2026 18:00");
        assert_eq!(IT.short_datetime(t, &tz), "24/11 18:00");
        assert_eq!(EN.short_datetime(t, &tz), "24 Nov 18:00");
        assert_eq!(IT.date(t - 23 * 86_400, &tz), "01/11/2026");
        assert_eq!(EN.date(t - 23 * 86_400, &tz), "1 Nov 2026");
    }

    #[test]
    fn numbers_and_money_follow_each_locale() {
        assert_eq!(IT.integer(1_234_567), "1.234.567");
        assert_eq!(EN.integer(1_234), "1,234");
        assert_eq!(EN.integer(999), "999");
        assert_eq!(IT.money(1234.5, "EUR"), "1.234,50 €");
        assert_eq!(EN.money(1234.5, "EUR"), "€1,234.50");
        assert_eq!(IT.money(200.0, "€"), "200,00 €");
        assert_eq!(EN.money(0.005, "USD"), "$0.01");
        assert_eq!(IT.money(80.0, "CHF"), "80,00 CHF");
        assert_eq!(EN.money(1_000_000.0, "CHF"), "CHF 1,000,000.00");
    }

    #[test]
    fn durations_read_as_hours_and_minutes() {
        assert_eq!(EN.duration(0), "0 min");
        assert_eq!(EN.duration(45), "45 min");
        assert_eq!(IT.duration(120), "2 h");
        assert_eq!(IT.duration(90), "1 h 30 min");
        assert_eq!(IT.duration(60 * 1500), "1.500 h");
    }
}
