//! A task's reference: `T-7K3Q`, short enough to type, unique per account.
//!
//! It is made from the account's task number (1, 2, 3…), scrambled so that neighbours do
//! not look alike, in Crockford's base32 (no I, L, O, U: nothing to misread). The first
//! 1,048,576 tasks of an account get four characters; later ones five or more, so no two
//! tasks of an account ever share one. Reading is forgiving: lower case, `O` for `0`,
//! `I`/`L` for `1`.

/// Crockford's base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Four characters hold 20 bits.
const SHORT_BITS: u32 = 20;
const SHORT_MASK: u64 = (1 << SHORT_BITS) - 1;
/// An odd multiplier and a mask: a bijection on 20 bits.
const MULTIPLIER: u64 = 0x9_E3B5;
const MIX: u64 = 0x5_A3C9;

/// A task's reference, as the assistant sees it (`T-7K3Q`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference(String);

impl Reference {
    /// The reference of an account's task number `n` (1-based).
    pub fn of(n: u64) -> Reference {
        let code = if n <= SHORT_MASK {
            let scrambled = (n.wrapping_mul(MULTIPLIER) & SHORT_MASK) ^ MIX;
            encode(scrambled, 4)
        } else {
            // Past a million tasks: the number itself, never four characters long.
            encode(n, 5)
        };
        Reference(format!("T-{code}"))
    }

    /// Reads a reference as someone may have typed it (`t-7k3q`, `T-7K3O`); `None` when it
    /// is not one.
    pub fn parse(s: &str) -> Option<Reference> {
        let s = s.trim();
        let rest = s.strip_prefix("T-").or_else(|| s.strip_prefix("t-"))?;
        if !(4..=13).contains(&rest.len()) {
            return None;
        }
        let mut code = String::with_capacity(rest.len());
        for c in rest.chars() {
            code.push(normalise(c)?);
        }
        Some(Reference(format!("T-{code}")))
    }

    /// Every reference written in `text` (a subject), in order. Here only as delega writes
    /// it, in capitals (a `T-shirt` is not a task), though `O`, `I` and `L` are forgiven.
    pub fn find_all(text: &str) -> Vec<Reference> {
        let mut found = Vec::new();
        let bytes = text.as_bytes();
        for (i, _) in text.match_indices(['T', 't']) {
            let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            let capital = bytes[i] == b'T';
            if !starts_word || !capital || bytes.get(i + 1) != Some(&b'-') {
                continue;
            }
            let rest = &text[i + 2..];
            let end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            if rest[..end].bytes().any(|b| b.is_ascii_lowercase()) {
                continue;
            }
            if let Some(r) = Reference::parse(&text[i..i + 2 + end]) {
                found.push(r);
            }
        }
        found
    }

    /// As written: `T-7K3Q`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn encode(mut n: u64, min_len: usize) -> String {
    let mut out = Vec::new();
    while n > 0 || out.len() < min_len {
        out.push(ALPHABET[(n % 32) as usize]);
        n /= 32;
    }
    out.reverse();
    String::from_utf8(out).expect("the alphabet is ASCII")
}

/// The alphabet's character a typed one stands for.
fn normalise(c: char) -> Option<char> {
    let c = c.to_ascii_uppercase();
    match c {
        'O' => Some('0'),
        'I' | 'L' => Some('1'),
        c if ALPHABET.contains(&(c as u8)) && c.is_ascii() => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn references_are_short_and_unique_per_account() {
        let mut seen = HashSet::new();
        for n in 1..=20_000 {
            let r = Reference::of(n);
            assert_eq!(r.as_str().len(), 6, "{r}");
            assert!(seen.insert(r), "task {n} repeats a reference");
        }
        assert_ne!(
            Reference::of(1).as_str()[2..4],
            Reference::of(2).as_str()[2..4]
        );
        // The last short one and the first long one differ in length: never equal.
        assert_eq!(Reference::of(SHORT_MASK).as_str().len(), 6);
        assert_eq!(Reference::of(SHORT_MASK + 1).as_str().len(), 7);
    }

    #[test]
    fn a_reference_typed_loosely_reads_back() {
        let r = Reference::of(42);
        assert_eq!(Reference::parse(r.as_str()), Some(r.clone()));
        assert_eq!(
            Reference::parse(&r.as_str().to_lowercase()),
            Some(r.clone())
        );
        assert_eq!(Reference::parse("t-o1iL"), Some(Reference("T-0111".into())));
        assert_eq!(Reference::parse("T-12"), None);
        assert_eq!(Reference::parse("T-12U4"), None, "U is not in the alphabet");
        assert_eq!(Reference::parse("X-1234"), None);
    }

    #[test]
    fn references_are_found_in_a_subject_as_whole_words() {
        let r = Reference::of(7);
        let subject = format!("Re: [delega] [{r}] Fattura 114");
        assert_eq!(Reference::find_all(&subject), std::slice::from_ref(&r));
        assert_eq!(Reference::find_all(&format!("FATTO {r}")), [r]);
        assert!(Reference::find_all("ART-1234 and T-shirt, t-1234").is_empty());
        assert!(Reference::find_all("").is_empty());
    }
}
