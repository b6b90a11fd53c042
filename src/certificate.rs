//! What a server's X.509 certificate says, read from its DER bytes: subject, issuer,
//! validity, the names it is valid for, and whether it is marked as a CA.
//!
//! Only these few fields are read, by a small DER walker (no parsing crate for so little):
//! they serve the checks on a certificate trusted as itself (`ca_file` holding the server's
//! own certificate) and what `delega doctor` shows. Signatures are left to rustls.

use std::fmt::Write as _;

/// The fields of a certificate delega shows or checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The subject, as `CN=…, O=…`.
    pub subject: String,
    /// The issuer, the same way.
    pub issuer: String,
    /// Not valid before this Unix time.
    pub not_before: i64,
    /// Not valid after this Unix time.
    pub not_after: i64,
    /// The DNS names and IP addresses of its subjectAltName.
    pub names: Vec<String>,
    /// basicConstraints says CA:TRUE.
    pub is_ca: bool,
}

/// One DER element: its tag and contents.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads the next element of `input`, returning it and the rest.
fn next(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((
        Tlv {
            tag,
            body: &rest[..len],
        },
        &rest[len..],
    ))
}

/// The elements inside a constructed element, in order.
fn children(body: &[u8]) -> Vec<Tlv<'_>> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some((tlv, after)) = next(rest) {
        out.push(tlv);
        rest = after;
    }
    out
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

impl Certificate {
    /// Reads a DER certificate; `None` when it is not one.
    pub fn parse(der: &[u8]) -> Option<Certificate> {
        let (cert, _) = next(der)?;
        let tbs = *children(cert.body).first()?;
        let mut fields = children(tbs.body).into_iter().peekable();
        // [0] EXPLICIT version, optional.
        if fields.peek().is_some_and(|f| f.tag == 0xa0) {
            fields.next();
        }
        let _serial = fields.next()?;
        let _signature = fields.next()?;
        let issuer = name(fields.next()?);
        let validity = children(fields.next()?.body);
        let not_before = time(*validity.first()?)?;
        let not_after = time(*validity.get(1)?)?;
        let subject = name(fields.next()?);
        let mut cert = Certificate {
            subject,
            issuer,
            not_before,
            not_after,
            names: Vec::new(),
            is_ca: false,
        };
        // subjectPublicKeyInfo, then optional [1] [2] unique ids and [3] extensions.
        for field in fields.filter(|f| f.tag == 0xa3) {
            for ext in children(field.body)
                .first()
                .map(|seq| children(seq.body))
                .unwrap_or_default()
            {
                cert.read_extension(ext);
            }
        }
        Some(cert)
    }

    fn read_extension(&mut self, ext: Tlv<'_>) {
        let parts = children(ext.body);
        let (Some(oid), Some(value)) = (parts.first(), parts.last()) else {
            return;
        };
        let inner = next(value.body).map(|(t, _)| t);
        match (oid.body, inner) {
            (OID_SAN, Some(seq)) => {
                for general in children(seq.body) {
                    match general.tag {
                        0x82 => self
                            .names
                            .push(String::from_utf8_lossy(general.body).into_owned()),
                        0x87 => self.names.push(ip(general.body)),
                        _ => {}
                    }
                }
            }
            (OID_BASIC_CONSTRAINTS, Some(seq)) => {
                self.is_ca = children(seq.body)
                    .first()
                    .is_some_and(|b| b.tag == 0x01 && b.body.first().is_some_and(|&v| v != 0));
            }
            _ => {}
        }
    }

    /// The names a person knows it by: the subjectAltName entries, else the subject's CN.
    pub fn known_names(&self) -> Vec<String> {
        if !self.names.is_empty() {
            return self.names.clone();
        }
        self.subject
            .split(", ")
            .filter_map(|p| p.strip_prefix("CN="))
            .map(str::to_string)
            .collect()
    }
}

/// A Name as `CN=…, O=…` (only the attributes people recognise).
fn name(tlv: Tlv<'_>) -> String {
    let mut out = String::new();
    for rdn in children(tlv.body) {
        for attr in children(rdn.body) {
            let parts = children(attr.body);
            let (Some(oid), Some(value)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let key = match oid.body {
                OID_CN => "CN",
                OID_O => "O",
                _ => continue,
            };
            if !out.is_empty() {
                out.push_str(", ");
            }
            let _ = write!(out, "{key}={}", String::from_utf8_lossy(value.body));
        }
    }
    out
}

/// A UTCTime or GeneralizedTime (`…Z`) as Unix time.
fn time(tlv: Tlv<'_>) -> Option<i64> {
    let text = std::str::from_utf8(tlv.body).ok()?;
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match tlv.tag {
        0x17 => {
            let yy: i16 = digits.get(..2)?.parse().ok()?;
            // RFC 5280 4.1.2.5.1: 50-99 are 19xx.
            (
                if yy >= 50 { 1900 + yy } else { 2000 + yy },
                digits.get(2..)?,
            )
        }
        0x18 => (digits.get(..4)?.parse().ok()?, digits.get(4..)?),
        _ => return None,
    };
    let field = |at: usize| -> Option<i8> { rest.get(at..at + 2)?.parse().ok() };
    let civil =
        jiff::civil::date(year, field(0)?, field(2)?).at(field(4)?, field(6)?, field(8)?, 0);
    let epoch = jiff::civil::DateTime::constant(1970, 1, 1, 0, 0, 0, 0);
    Some(civil.duration_since(epoch).as_secs())
}

fn ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;

    use super::Certificate;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name);
        CertificateDer::from_pem_file(&path)
            .expect("a PEM certificate")
            .to_vec()
    }

    #[test]
    fn a_ca_certificate_is_read() {
        let ca = Certificate::parse(&fixture("ca.pem")).expect("parses");
        assert!(ca.is_ca);
        assert!(ca.subject.starts_with("CN="), "{}", ca.subject);
        assert_eq!(ca.subject, ca.issuer, "self-signed");
        assert!(ca.not_before < ca.not_after);
        assert!(ca.not_before > 1_500_000_000, "{}", ca.not_before);
    }

    #[test]
    fn a_self_signed_server_certificate_is_read_with_its_names() {
        let cert = Certificate::parse(&fixture("selfsigned.pem")).expect("parses");
        assert!(cert.is_ca, "openssl req -x509 marks it CA:TRUE");
        assert_eq!(cert.subject, "CN=mail.example.org, O=Example Hosting");
        assert_eq!(
            cert.known_names(),
            ["mail.example.org", "*.example.org", "192.0.2.7"]
        );
        assert!(cert.not_after - cert.not_before > 36_000 * 86_400);
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(Certificate::parse(b""), None);
        assert_eq!(Certificate::parse(&[0x30, 0x82, 0xff]), None);
        assert_eq!(Certificate::parse(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }
}
