//! The house rules the compiler does not check, read from the sources under `src/`: no two
//! top-level modules import each other, directly or around a longer circle, and every module
//! `src/lib.rs` declares is named in its `# Layout` map. A small scanner, not a parser: it blanks
//! comments, string and char literals and `#[cfg(test)]` items, then reads the `crate::` paths
//! left (the crate writes paths across modules as `crate::…`). The binary's own code (`src/cmd`,
//! `src/main.rs`) sits above the library and may use all of it, so it is not scanned.
//!
//! It lives in the integration binary, not in the crate: it reads the crate from outside, as a
//! reviewer would, adds nothing to the library, needs no mail server, and takes well under a
//! second.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[test]
fn no_two_top_level_modules_import_each_other() {
    let src = source_dir();
    let modules = declared_modules(&read(&src.join("lib.rs")));
    let arrows = arrows(&src, &modules);
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in arrows.keys() {
        graph.entry(from).or_default().insert(to);
    }
    let mut report = String::new();
    for circle in circles(&graph) {
        let _ = writeln!(
            report,
            "\nthese modules import each other: {}",
            circle.join(", ")
        );
        for ((from, to), places) in &arrows {
            if circle.contains(&from.as_str()) && circle.contains(&to.as_str()) {
                let _ = writeln!(report, "  {from} → {to}:");
                for place in places {
                    let _ = writeln!(report, "    {place}");
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "module cycles in src/ (give the shared piece one home, on the lower side):{report}"
    );
}

#[test]
fn every_module_of_lib_rs_is_on_the_map() {
    let lib = read(&source_dir().join("lib.rs"));
    let layout = layout_doc(&lib);
    assert!(!layout.is_empty(), "src/lib.rs has no `# Layout` section");
    let missing: Vec<String> = declared_modules(&lib)
        .into_iter()
        .filter(|name| !layout.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "src/lib.rs declares modules its `# Layout` map does not name (in backticks): {}",
        missing.join(", ")
    );
}

/// The scanner finds arrows in code and skips them in comments, strings and test code.
#[test]
fn the_scanner_reads_only_code() {
    let text = r##"
//! crate::a in a doc comment
use crate::b::Thing; // crate::c in a comment
/* crate::d /* nested */ crate::e */
const S: &str = "crate::f"; const R: &str = r#"crate::g "quoted""#;
fn lifetime<'x>(c: char) -> bool { c == '"' || c == '\'' }
use crate::{h::One, i};
#[cfg(test)]
mod tests { use crate::j; fn f() { if true { crate::k(); } } }
#[cfg(test)]
mod fixtures;
fn l() { crate::l::go() }
"##;
    let (code, test_mods) = code_only(text);
    let found: Vec<(String, usize)> = crate_paths(&code);
    assert_eq!(
        found,
        [("b", 3), ("h", 7), ("i", 7), ("l", 12)].map(|(m, l)| (m.to_string(), l))
    );
    assert_eq!(test_mods, ["fixtures"]);
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The modules `src/lib.rs` declares (`mod x;` or `pub mod x;`).
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim().strip_prefix("pub ").unwrap_or(line.trim());
            line.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

/// The `//!` lines of lib.rs from `# Layout` to the next heading.
fn layout_doc(lib: &str) -> String {
    let doc = lib.lines().map_while(|l| l.strip_prefix("//!"));
    let mut in_layout = false;
    let mut layout = String::new();
    for line in doc {
        if line.trim_start().starts_with('#') {
            in_layout = line.trim() == "# Layout";
        } else if in_layout {
            layout.push_str(line);
            layout.push('\n');
        }
    }
    layout
}

/// Every arrow `(from, to)` between two top-level modules, with the `file:line`s that draw it.
fn arrows(src: &Path, modules: &[String]) -> BTreeMap<(String, String), Vec<String>> {
    let mut files = Vec::new();
    for module in modules {
        let file = src.join(format!("{module}.rs"));
        if file.exists() {
            files.push((module.clone(), file));
        }
        rust_files(&src.join(module), &mut |file| {
            files.push((module.clone(), file))
        });
    }
    let mut scanned = Vec::new();
    let mut test_only: Vec<PathBuf> = Vec::new();
    for (module, file) in files {
        let (code, test_mods) = code_only(&read(&file));
        // `#[cfg(test)] mod x;` in a/b.rs or a/b/mod.rs: a/b/x.rs and everything under a/b/x/.
        let dir = match file.file_stem().and_then(|s| s.to_str()) {
            Some("mod") => file.parent().map(Path::to_path_buf),
            _ => Some(file.with_extension("")),
        }
        .expect("a file under src/ has a parent");
        for name in test_mods {
            test_only.push(dir.join(format!("{name}.rs")));
            test_only.push(dir.join(name));
        }
        scanned.push((module, file, code));
    }
    let mut arrows: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (module, file, code) in scanned {
        if test_only.iter().any(|t| file.starts_with(t)) {
            continue;
        }
        for (to, line) in crate_paths(&code) {
            if to != module && modules.contains(&to) {
                let place = format!(
                    "{}:{line}",
                    file.strip_prefix(src.parent().expect("src/ has a parent"))
                        .unwrap_or(&file)
                        .display()
                );
                arrows.entry((module.clone(), to)).or_default().push(place);
            }
        }
    }
    arrows
}

fn rust_files(dir: &Path, found: &mut dyn FnMut(PathBuf)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.expect("dir entry").path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found(path);
        }
    }
}

/// The source with comments, the insides of string and char literals, and `#[cfg(test)]`
/// items blanked (newlines kept, so line numbers stay right); and the names of the modules
/// declared `#[cfg(test)] mod x;`, whose files are test code too.
fn code_only(text: &str) -> (String, Vec<String>) {
    let c: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = c.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in &mut out[from..to] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let mut i = 0;
    while i < c.len() {
        let is_ident = |j: usize| c[j].is_alphanumeric() || c[j] == '_';
        // `r` opens a raw string when no identifier is before it (or only the `b` of br"…").
        let ident_before =
            i > 0 && is_ident(i - 1) && !(c[i - 1] == 'b' && (i < 2 || !is_ident(i - 2)));
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let (mut j, mut depth) = (i + 2, 1);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 1;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == 'r' && !ident_before && matches!(c.get(i + 1), Some('"' | '#')) {
            // r"…", r#"…"#: no escapes, closed by a quote and as many hashes.
            let hashes = c[i + 1..].iter().take_while(|&&h| h == '#').count();
            if c.get(i + 1 + hashes) != Some(&'"') {
                i += 1; // r#ident
                continue;
            }
            let close: Vec<char> = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            let start = i + 2 + hashes;
            let end = (start..c.len())
                .find(|&j| c[j..].starts_with(&close))
                .unwrap_or(c.len());
            blank(&mut out, start, end);
            i = end + close.len();
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j.min(c.len()));
            i = j + 1;
        } else if c[i] == '\'' && (c.get(i + 1) == Some(&'\\') || c.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\'', '\u{1F600}'), not a lifetime ('a).
            let mut j = i + 1;
            while j < c.len() && c[j] != '\'' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j.min(c.len()));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    let mut code: String = out.into_iter().collect();
    let mut test_mods = Vec::new();
    while let Some(at) = code.find("#[cfg(test)]") {
        let end = item_end(&code, at + "#[cfg(test)]".len());
        let item = code[at + "#[cfg(test)]".len()..end].trim();
        let item = item.strip_prefix("pub ").unwrap_or(item);
        if let Some(name) = item.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
            test_mods.push(name.trim().to_string());
        }
        let blanked: String = code[at..end]
            .chars()
            .map(|ch| if ch == '\n' { '\n' } else { ' ' })
            .collect();
        code.replace_range(at..end, &blanked);
    }
    (code, test_mods)
}

/// Where the item starting at `from` ends: after its `;`, or after the `}` that closes its
/// first `{`; at the latest, before the `}` that closes the enclosing block (a
/// `#[cfg(test)]` field ends its struct). Attributes before it are skipped, and no literals
/// are left to fool the counting.
fn item_end(code: &str, from: usize) -> usize {
    let mut depth = 0usize;
    for (i, ch) in code[from..].char_indices() {
        match ch {
            '{' | '[' | '(' => depth += 1,
            '}' if depth == 0 => return from + i,
            '}' if depth == 1 => return from + i + 1,
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => return from + i + 1,
            _ => {}
        }
    }
    code.len()
}

/// The top-level module each `crate::` path names, with its line: `crate::a::B` → `a`,
/// `crate::{a::B, c}` → `a` and `c`.
fn crate_paths(code: &str) -> Vec<(String, usize)> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|ch| ch.is_alphanumeric() || ch == '_' || ch == '$') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let mut depth = 0usize;
                let mut start = 0;
                for (i, ch) in group.char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            found.push((ident(&group[start..i]), line));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            found.push((ident(&group[start..i]), line));
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
            }
            None => found.push((ident(rest), line)),
        }
    }
    found.retain(|(name, _)| !name.is_empty());
    found
}

/// The groups of modules that reach each other along the arrows (strongly connected
/// components of more than one module), each sorted.
fn circles<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    let reach = |from: &'a str| -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(m) = todo.pop() {
            for &next in graph.get(m).into_iter().flatten() {
                if seen.insert(next) {
                    todo.push(next);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<&str>> = graph.keys().map(|&m| (m, reach(m))).collect();
    let mut circles: Vec<Vec<&str>> = Vec::new();
    for (&m, from_m) in &reaches {
        if circles.iter().any(|c| c.contains(&m)) {
            continue;
        }
        let circle: Vec<&str> = from_m
            .iter()
            .copied()
            .filter(|&n| n == m || reaches.get(n).is_some_and(|r| r.contains(m)))
            .chain(std::iter::once(m))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if circle.len() > 1 {
            circles.push(circle);
        }
    }
    circles
}
