//! Reading TOML by hand, with positions, collecting every error instead of stopping.
//!
//! serde stops at the first mistake and loses positions inside nested values; ops deserve
//! all their mistakes at once, each with `file:line:col`. Config and rules loading walk the
//! spanned document through [`Table`] and [`Value`], which report wrong types, missing and
//! unknown keys (with a "did you mean") into the [`Reader`]'s diagnostics.

use std::cell::{Cell, RefCell};
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::diagnostic::{Diagnostic, Severity, SourceFile, did_you_mean};

/// Collects the diagnostics of one file while it is being read.
pub struct Reader<'s> {
    source: &'s SourceFile,
    diagnostics: RefCell<Vec<Diagnostic>>,
    /// How many of the diagnostics are errors: [`Reader::has_errors`] is asked once per
    /// account and per rule, and counting the diagnostics each time grew with the square
    /// of the accounts when each had a warning.
    errors: Cell<usize>,
}

impl<'s> Reader<'s> {
    /// A reader over `source`, with no diagnostics yet.
    pub fn new(source: &'s SourceFile) -> Self {
        Self {
            source,
            diagnostics: RefCell::new(Vec::new()),
            errors: Cell::new(0),
        }
    }

    /// Parses the file as a TOML document; a syntax error becomes a diagnostic and `None`.
    pub fn parse(&self) -> Option<Spanned<DeTable<'s>>> {
        match DeTable::parse(self.source.text()) {
            Ok(table) => Some(table),
            Err(err) => {
                let span = err.span().unwrap_or(0..0);
                let message = err.message().trim_end().to_string();
                self.error(
                    span,
                    format!("invalid TOML: {message}"),
                    Some("check quotes, brackets and `key = value` pairs at this place".into()),
                );
                None
            }
        }
    }

    /// The file being read.
    pub fn source(&self) -> &'s SourceFile {
        self.source
    }

    /// Records an error at `span`.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        self.push(Severity::Error, span, message, help);
    }

    /// Records a warning at `span`.
    pub fn warning(&self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        self.push(Severity::Warning, span, message, help);
    }

    fn push(
        &self,
        severity: Severity,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        if severity == Severity::Error {
            self.errors.set(self.errors.get() + 1);
        }
        let d = self.source.diagnostic(severity, span, message, help);
        self.diagnostics.borrow_mut().push(d);
    }

    /// True once an error has been recorded.
    pub fn has_errors(&self) -> bool {
        self.errors.get() > 0
    }

    /// Everything recorded, in the order of the file.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        let mut all = self.diagnostics.into_inner();
        all.sort_by_key(|d| (d.line, d.column));
        all
    }

    /// A view of the document's top-level table.
    pub fn root<'a>(&'a self, doc: &'a Spanned<DeTable<'s>>) -> Table<'a, 's> {
        Table {
            reader: self,
            table: doc.get_ref(),
            span: doc.span(),
        }
    }
}

/// A TOML table being read.
pub struct Table<'a, 's> {
    reader: &'a Reader<'s>,
    table: &'a DeTable<'s>,
    span: Range<usize>,
}

impl<'a, 's> Table<'a, 's> {
    /// Where the table starts.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The reader, to record errors that are not about a type.
    pub fn reader(&self) -> &'a Reader<'s> {
        self.reader
    }

    /// True when the table has no keys.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Reports every key not in `allowed`, suggesting the closest allowed one.
    pub fn check_keys(&self, what: &str, allowed: &[&str]) {
        for key in self.table.keys() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let help = match did_you_mean(name, allowed) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("{what} accepts: {}", allowed.join(", ")),
            };
            self.reader.error(
                key.span(),
                format!("unknown key `{name}` in {what}"),
                Some(help),
            );
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<Value<'a, 's>> {
        self.table.get(key).map(|v| Value {
            reader: self.reader,
            value: v,
        })
    }

    /// The value of `key`; when absent, records an error saying what to write.
    pub fn required(&self, key: &str, what: &str, example: &str) -> Option<Value<'a, 's>> {
        let value = self.get(key);
        if value.is_none() {
            self.reader.error(
                self.span(),
                format!("{what} has no `{key}`"),
                Some(format!("add `{example}`")),
            );
        }
        value
    }

    /// A string value of `key` (absent → `None`; wrong type → error and `None`).
    pub fn str(&self, key: &str) -> Option<Spanned<String>> {
        self.get(key).and_then(|v| v.str())
    }

    /// A boolean value of `key`.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(|v| v.bool())
    }

    /// A non-negative integer value of `key`.
    pub fn uint(&self, key: &str) -> Option<Spanned<u64>> {
        self.get(key).and_then(|v| v.uint())
    }

    /// A number (integer or float) value of `key`.
    pub fn number(&self, key: &str) -> Option<Spanned<f64>> {
        self.get(key).and_then(|v| v.number())
    }

    /// A table value of `key`.
    pub fn table(&self, key: &str) -> Option<Table<'a, 's>> {
        self.get(key).and_then(|v| v.table())
    }

    /// An array value of `key`.
    pub fn array(&self, key: &str) -> Option<Vec<Value<'a, 's>>> {
        self.get(key).and_then(|v| v.array())
    }
}

/// A TOML value being read, with its span.
#[derive(Clone, Copy)]
pub struct Value<'a, 's> {
    reader: &'a Reader<'s>,
    value: &'a Spanned<DeValue<'s>>,
}

impl<'a, 's> Value<'a, 's> {
    /// Where the value is.
    pub fn span(&self) -> Range<usize> {
        self.value.span()
    }

    /// The reader, to record errors about this value.
    pub fn reader(&self) -> &'a Reader<'s> {
        self.reader
    }

    /// The TOML type's name, for messages ("string", "table"...).
    pub fn kind(&self) -> &'static str {
        self.value.get_ref().type_str()
    }

    /// True for a string.
    pub fn is_str(&self) -> bool {
        self.value.get_ref().is_str()
    }

    /// True for an array.
    pub fn is_array(&self) -> bool {
        self.value.get_ref().is_array()
    }

    /// True for a table.
    pub fn is_table(&self) -> bool {
        self.value.get_ref().is_table()
    }

    /// The value as the message names it: its type, and what was written for a scalar.
    fn found(&self) -> String {
        let v = self.value.get_ref();
        let written = if let Some(i) = v.as_integer() {
            Some(i.as_str().to_string())
        } else if let Some(f) = v.as_float() {
            Some(f.as_str().to_string())
        } else {
            v.as_str().map(|s| format!("\"{s}\""))
        };
        match written {
            Some(w) => format!("{} `{w}`", self.kind()),
            None => self.kind().to_string(),
        }
    }

    fn wrong_type(&self, expected: &str, help: &str) {
        self.reader.error(
            self.span(),
            format!("expected {expected}, found {}", self.found()),
            Some(help.to_string()),
        );
    }

    /// The fix for a value that should be a number.
    fn number_help(&self, whole: bool) -> &'static str {
        let v = self.value.get_ref();
        if v.is_str() {
            "write the number without quotes, e.g. `30`"
        } else if whole && v.as_float().is_some() {
            "use a whole number (no decimals), e.g. `2` or `3`"
        } else if whole && v.as_integer().is_some() {
            "use 0 or a positive number"
        } else {
            "write a number, e.g. `30` or `2.5`"
        }
    }

    /// The string, or an error.
    pub fn str(&self) -> Option<Spanned<String>> {
        match self.value.get_ref().as_str() {
            Some(s) => Some(Spanned::new(self.span(), s.to_string())),
            None => {
                self.wrong_type("a string", "put the value in double quotes, e.g. \"text\"");
                None
            }
        }
    }

    /// The boolean, or an error.
    pub fn bool(&self) -> Option<bool> {
        let b = self.value.get_ref().as_bool();
        if b.is_none() {
            self.wrong_type(
                "`true` or `false`",
                "write `true` or `false`, without quotes",
            );
        }
        b
    }

    /// The non-negative integer, or an error.
    pub fn uint(&self) -> Option<Spanned<u64>> {
        let parsed = self
            .value
            .get_ref()
            .as_integer()
            .and_then(|i| u64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok());
        match parsed {
            Some(n) => Some(Spanned::new(self.span(), n)),
            None => {
                self.wrong_type("a whole number, 0 or more", self.number_help(true));
                None
            }
        }
    }

    /// The number (integer or float), or an error.
    pub fn number(&self) -> Option<Spanned<f64>> {
        let v = self.value.get_ref();
        let parsed = if let Some(f) = v.as_float() {
            f.as_str().replace('_', "").parse::<f64>().ok()
        } else {
            v.as_integer()
                .and_then(|i| i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok())
                .map(|i| i as f64)
        };
        match parsed {
            Some(n) => Some(Spanned::new(self.span(), n)),
            None => {
                self.wrong_type("a number", self.number_help(false));
                None
            }
        }
    }

    /// The table, or an error.
    pub fn table(&self) -> Option<Table<'a, 's>> {
        match self.value.get_ref().as_table() {
            Some(table) => Some(Table {
                reader: self.reader,
                table,
                span: self.span(),
            }),
            None => {
                self.wrong_type("a table", "write `{ key = value, ... }` or a [section]");
                None
            }
        }
    }

    /// The array's items, or an error.
    pub fn array(&self) -> Option<Vec<Value<'a, 's>>> {
        match self.value.get_ref().as_array() {
            Some(items) => Some(
                items
                    .iter()
                    .map(|value| Value {
                        reader: self.reader,
                        value,
                    })
                    .collect(),
            ),
            None => {
                self.wrong_type("an array", "write a list in brackets: `[ ..., ... ]`");
                None
            }
        }
    }

    /// A string, or an array of strings, as a list (errors for other items).
    pub fn str_or_list(&self) -> Option<Vec<Spanned<String>>> {
        if self.is_array() {
            let items: Vec<_> = self.array()?.iter().filter_map(|v| v.str()).collect();
            if items.is_empty() {
                self.reader
                    .error(self.span(), "empty list", Some("give at least one".into()));
                return None;
            }
            Some(items)
        } else if self.is_str() {
            self.str().map(|s| vec![s])
        } else {
            self.wrong_type(
                "a string or a list of strings",
                "write `\"text\"` or `[\"one\", \"two\"]`",
            );
            None
        }
    }
}

/// A string that must be one of a few words.
pub fn choice<T: Copy>(
    t: &Table<'_, '_>,
    value: &Spanned<String>,
    options: &[(&str, T)],
) -> Option<T> {
    let found = options.iter().find(|(name, _)| name == value.get_ref());
    if found.is_none() {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let help = match did_you_mean(value.get_ref(), &names) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("use one of: {}", names.join(", ")),
        };
        t.reader().error(
            value.span(),
            format!("unknown value `{}`", value.get_ref()),
            Some(help),
        );
    }
    found.map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, f: impl FnOnce(Table<'_, '_>)) -> Vec<String> {
        let src = SourceFile::new("t.toml", text.to_string());
        let reader = Reader::new(&src);
        if let Some(doc) = reader.parse() {
            f(reader.root(&doc));
        }
        reader
            .into_diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn syntax_errors_have_positions() {
        let diags = read("a = 1\nb = \"unclosed\n", |_| {});
        assert_eq!(diags.len(), 1);
        assert!(diags[0].starts_with("t.toml:2:"), "{diags:?}");
        assert!(diags[0].contains("invalid TOML"), "{diags:?}");
    }

    #[test]
    fn unknown_keys_are_all_reported_with_suggestions() {
        let diags = read("nam = 1\ncolour = 2\nname = 3\n", |t| {
            t.check_keys("the thing", &["name", "size"])
        });
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert!(diags[0].starts_with("t.toml:1:1: error: unknown key `nam`"));
        assert!(diags[0].contains("did you mean `name`?"));
        assert!(diags[1].starts_with("t.toml:2:1: error: unknown key `colour`"));
        assert!(diags[1].contains("accepts: name, size"));
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let diags = read("x = 1\ny = \"s\"\n", |t| {
            assert!(t.str("x").is_none());
            assert!(t.uint("y").is_none());
        });
        assert_eq!(
            diags,
            [
                "t.toml:1:5: error: expected a string, found integer `1`\n  help: put the value \
                 in double quotes, e.g. \"text\"",
                "t.toml:2:5: error: expected a whole number, 0 or more, found string `\"s\"`\n  \
                 help: write the number without quotes, e.g. `30`"
            ]
        );
    }

    #[test]
    fn numbers_accept_integers_and_floats() {
        let mut read_all = false;
        let diags = read("a = 100\nb = 2.5\nc = 0x10\n", |t| {
            assert_eq!(t.number("a").map(|n| *n.get_ref()), Some(100.0));
            assert_eq!(t.number("b").map(|n| *n.get_ref()), Some(2.5));
            assert_eq!(t.uint("c").map(|n| *n.get_ref()), Some(16));
            read_all = true;
        });
        // `read` skips the checks when the text does not parse: it must parse, cleanly.
        assert!(read_all, "the document did not parse: {diags:?}");
        assert!(diags.is_empty(), "{diags:?}");
    }
}
