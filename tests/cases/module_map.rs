//! The source tree against what docs/design.md says about it: every file under src/ has a row
//! in the module table and every row a file, the table of what each module imports is the
//! code's, no two modules import each other, directly or through others, and no file has more
//! than about 600 lines of non-test code. Both read the files as text; nothing is built or run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under src/, as `commands/mod.rs` (relative, `/`-separated), sorted.
fn src_files() -> BTreeSet<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let path = format!("{prefix}{name}");
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{path}/"), out);
            } else if name.ends_with(".rs") {
                out.insert(path);
            }
        }
    }
    let mut files = BTreeSet::new();
    walk(&repo().join("src"), "", &mut files);
    files
}

/// The rows of the docs/design.md table whose header is `header`: first column (without its
/// backticks) -> second column.
fn design_table(header: &str) -> BTreeMap<String, String> {
    let design = fs::read_to_string(repo().join("docs/design.md")).unwrap();
    let mut lines = design.lines().skip_while(|line| *line != header);
    assert!(lines.next().is_some(), "docs/design.md has no table headed {header}");
    let mut rows = BTreeMap::new();
    for line in lines.skip(1).take_while(|line| line.starts_with('|')) {
        let Some((first, rest)) = line.strip_prefix("| `").and_then(|rest| rest.split_once("` | ")) else {
            continue;
        };
        let twice = rows.insert(first.to_string(), rest.trim_end_matches(" |").to_string()).is_some();
        assert!(!twice, "docs/design.md's table headed {header} has two rows for `{first}`: keep one");
    }
    rows
}

/// The first column of the module table under docs/design.md's `## Modules`.
fn table_files() -> BTreeSet<String> {
    design_table("| module | owns |").into_keys().collect()
}

#[test]
fn every_file_under_src_has_a_row_in_the_design_module_table_and_every_row_a_file() {
    let (files, table) = (src_files(), table_files());
    let missing: Vec<_> = files.difference(&table).collect();
    let extra: Vec<_> = table.difference(&files).collect();
    let mut problems = String::new();
    for file in &missing {
        problems +=
            &format!("\n  src/{file} has no row: add one under `## Modules`: | `{file}` | what it owns |");
    }
    for file in &extra {
        problems += &format!("\n  the row `{file}` names no file under src/: rename or remove it");
    }
    assert!(problems.is_empty(), "docs/design.md's module table does not match src/:{problems}");
}

/// The attributes that make an item test-only: `#[cfg(test)]`, and `#[cfg(all(test, ...))]` for
/// tests of one OS.
const TEST_ATTRIBUTES: [&str; 2] = ["#[cfg(test)]", "#[cfg(all(test, "];

/// Lines of a file before its `#[cfg(test)] mod ...` (tests come last in this code base).
fn lines_before_tests(source: &str) -> usize {
    let lines: Vec<&str> = source.lines().collect();
    lines
        .windows(2)
        .position(|w| {
            TEST_ATTRIBUTES.iter().any(|a| w[0].trim().starts_with(a))
                && (w[1].starts_with("mod ") || w[1].starts_with("pub(crate) mod "))
        })
        .unwrap_or(lines.len())
}

#[test]
fn no_file_under_src_has_more_than_600_lines_before_its_tests() {
    let mut long = String::new();
    for file in src_files() {
        let lines = lines_before_tests(&fs::read_to_string(repo().join("src").join(&file)).unwrap());
        if lines > 600 {
            long +=
                &format!("\n  src/{file}: {lines} lines; split it by what each part owns (docs/design.md)");
        }
    }
    assert!(long.is_empty(), "files over about 600 lines of non-test code:{long}");
}

/// Rust source with comments, strings and char literals blanked (newlines kept, so line
/// numbers stay), then every `#[cfg(test)]` item blanked too: test code may import anything.
fn code_of(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && is_ident(chars[i - 1]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.extend([' ', ' ']);
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.extend([' ', ' ']);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (!prev_ident || (i >= 1 && chars[i - 1] == 'b' && (i < 2 || !is_ident(chars[i - 2]))))
            && matches!(next, Some('"') | Some('#'))
            && {
                let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                chars.get(i + 1 + hashes) == Some(&'"')
            }
        {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let start = i + 2 + hashes;
            let end = (start..chars.len())
                .find(|&j| chars[j..].starts_with(&close))
                .map_or(chars.len(), |j| j + close.len());
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                for k in 0..step {
                    if let Some(&c) = chars.get(i + k) {
                        out.push(blank(c));
                    }
                }
                i += step;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            let end = (i + 2..chars.len()).find(|&j| chars[j] == '\'').map_or(chars.len(), |j| j + 1);
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.extend([' ', ' ', ' ']);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    // `#[cfg(test)]` (or `#[cfg(all(test, ...))]`) and the item after it: up to its `;`, or its
    // `{ ... }` block.
    let attributes: Vec<Vec<char>> = TEST_ATTRIBUTES.iter().map(|a| a.chars().collect()).collect();
    let mut i = 0;
    while i < out.len() {
        if !attributes.iter().any(|attribute| out[i..].starts_with(attribute)) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < out.len() && out[j] != ';' && out[j] != '{' {
            j += 1;
        }
        if j < out.len() && out[j] == '{' {
            let mut depth = 0;
            while j < out.len() {
                match out[j] {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                j += 1;
            }
        }
        let end = (j + 1).min(out.len());
        for c in &mut out[i..end] {
            *c = blank(*c);
        }
        i = end;
    }
    out.into_iter().collect()
}

/// The paths in a `use` tree: `crate::a::{b, c::{d, e}}` gives `crate::a::b`, `crate::a::c::d`...
fn use_paths(tree: &str) -> Vec<Vec<String>> {
    fn parse(s: &[char], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut word = String::new();
        let finish = |word: &mut String, out: &mut Vec<Vec<String>>| {
            let word = std::mem::take(word);
            let word = word.split(" as ").next().unwrap_or("").trim().to_string();
            if !word.is_empty() {
                let mut path = prefix.to_vec();
                path.extend(word.split("::").filter(|s| !s.is_empty()).map(str::to_string));
                out.push(path);
            }
        };
        while *i < s.len() {
            let c = s[*i];
            *i += 1;
            match c {
                '{' => {
                    let mut inner = prefix.to_vec();
                    inner.extend(
                        word.split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
                    );
                    word.clear();
                    parse(s, i, &inner, out);
                }
                '}' => {
                    finish(&mut word, out);
                    return;
                }
                ',' => finish(&mut word, out),
                c if c.is_whitespace() => {
                    if !word.is_empty() && !word.ends_with(' ') {
                        word.push(' ');
                    }
                }
                c => {
                    if word.ends_with(' ') && (c == ':' || word.trim_end().ends_with(':')) {
                        word.pop();
                    }
                    word.push(c);
                }
            }
        }
        finish(&mut word, out);
    }
    let chars: Vec<char> = tree.chars().collect();
    let mut out = Vec::new();
    parse(&chars, &mut 0, &[], &mut out);
    out
}

/// The module path of a file under src/: `config/mod.rs` is `config`, `lib.rs` the root.
fn module_of(file: &str) -> Vec<String> {
    let stem = file.trim_end_matches(".rs");
    let mut path: Vec<String> = stem.split('/').map(str::to_string).collect();
    if path.last().is_some_and(|last| last == "mod") || stem == "lib" {
        path.pop();
    }
    path
}

/// One import: which file, at which line, through which path.
#[derive(Clone, Debug)]
struct Import {
    from: String,
    to: String,
    line: usize,
    path: String,
}

impl std::fmt::Display for Import {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "src/{} line {} ({}) -> src/{}", self.from, self.line, self.path, self.to)
    }
}

/// Every `crate::`, `super::` and `self::` path in the crate's files outside tests, resolved to
/// the file that defines the longest module prefix of it. main.rs is another crate.
fn imports() -> Vec<Import> {
    let files: BTreeSet<String> = src_files().into_iter().filter(|f| f != "main.rs").collect();
    let by_module: BTreeMap<Vec<String>, String> = files.iter().map(|f| (module_of(f), f.clone())).collect();
    let resolve = |path: &[String]| (0..=path.len()).rev().find_map(|n| by_module.get(&path[..n]).cloned());
    let mut found = Vec::new();
    for file in &files {
        let code = code_of(&fs::read_to_string(repo().join("src").join(file)).unwrap());
        let me = module_of(file);
        let line_at = |offset: usize| code[..offset].matches('\n').count() + 1;
        let mut paths: Vec<(usize, Vec<String>)> = Vec::new();
        let bytes = code.as_bytes();
        let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        for (at, _) in code.match_indices("use ") {
            if at > 0 && (ident(bytes[at - 1]) || bytes[at - 1] == b':') {
                continue;
            }
            let end = code[at..].find(';').map_or(code.len(), |e| at + e);
            for path in use_paths(&code[at + 4..end]) {
                paths.push((line_at(at), path));
            }
        }
        for start in ["crate::", "super::", "self::"] {
            for (at, _) in code.match_indices(start) {
                if at > 0 && (ident(bytes[at - 1]) || bytes[at - 1] == b':') {
                    continue;
                }
                let len =
                    code[at..].find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(0);
                let path =
                    code[at..at + len].split("::").filter(|s| !s.is_empty()).map(str::to_string).collect();
                paths.push((line_at(at), path));
            }
        }
        for (line, path) in paths {
            let full: Vec<String> = match path.first().map(String::as_str) {
                Some("crate") => path[1..].to_vec(),
                Some("super") => {
                    let ups = path.iter().take_while(|s| *s == "super").count();
                    let mut full = me[..me.len().saturating_sub(ups)].to_vec();
                    full.extend(path[ups..].iter().cloned());
                    full
                }
                Some("self") => me.iter().chain(&path[1..]).cloned().collect(),
                // A child module by its bare name, an extern crate or std: not another file's.
                _ => continue,
            };
            if let Some(to) = resolve(&full).filter(|to| to != file) {
                found.push(Import { from: file.clone(), to, line, path: path.join("::") });
            }
        }
    }
    found
}

/// The cycles of a graph given as `node -> (neighbour -> an import that makes the edge)`:
/// each strongly connected component of more than one node, as its edges.
fn cycles(graph: &BTreeMap<String, BTreeMap<String, Import>>) -> Vec<Vec<Import>> {
    let reach = |start: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(node) = todo.pop() {
            for next in graph.get(&node).into_iter().flat_map(|n| n.keys()) {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|n| (n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for node in graph.keys() {
        if done.contains(node) || !reachable[node].contains(node) {
            continue;
        }
        let component: BTreeSet<&String> = graph
            .keys()
            .filter(|other| reachable[node].contains(*other) && reachable[*other].contains(node))
            .collect();
        let edges = component
            .iter()
            .flat_map(|from| {
                graph[*from].iter().filter(|(to, _)| component.contains(to)).map(|(_, i)| i.clone())
            })
            .collect();
        done.extend(component.into_iter().cloned());
        found.push(edges);
    }
    found
}

fn described(cycles: &[Vec<Import>], what: &str) -> String {
    let mut text = String::new();
    for cycle in cycles {
        text += &format!("\n  {what} that import each other:");
        for import in cycle {
            text += &format!("\n    {import}");
        }
    }
    text
}

/// Modules are the top-level names (`config` is config/mod.rs and the files under config/), and
/// inside a directory its files: neither may import in a circle. A directory's mod.rs and the
/// files under it are one module, so their imports of each other are not counted.
/// The top-level module a file belongs to: `config` for config/app.rs, `lib` for lib.rs.
fn top(file: &str) -> String {
    module_of(file).first().cloned().unwrap_or_else(|| "lib".to_string())
}

/// Top-level module -> the modules it imports (with one import that does), every module present.
fn module_graph(imports: &[Import]) -> BTreeMap<String, BTreeMap<String, Import>> {
    let mut modules: BTreeMap<String, BTreeMap<String, Import>> =
        src_files().iter().filter(|f| *f != "main.rs").map(|f| (top(f), BTreeMap::new())).collect();
    for import in imports {
        let (from, to) = (top(&import.from), top(&import.to));
        if from != to {
            modules.entry(from).or_default().entry(to).or_insert_with(|| import.clone());
        }
    }
    modules
}

#[test]
fn no_import_cycle_among_the_modules_and_files_under_src() {
    let imports = imports();
    assert!(imports.len() > 100, "the import reader found only {} imports: it is broken", imports.len());
    let modules = module_graph(&imports);
    let mut files: BTreeMap<String, BTreeMap<String, Import>> = BTreeMap::new();
    for import in &imports {
        let (a, b) = (module_of(&import.from), module_of(&import.to));
        let nested = a.starts_with(&b) || b.starts_with(&a);
        if !nested {
            files
                .entry(import.from.clone())
                .or_default()
                .entry(import.to.clone())
                .or_insert_with(|| import.clone());
        }
    }
    let problems = described(&cycles(&modules), "modules") + &described(&cycles(&files), "files");
    assert!(problems.is_empty(), "import cycles under src/ (docs/design.md promises none):{problems}");
}

#[test]
fn the_import_reader_sees_through_comments_strings_and_tests() {
    let code = code_of(
        "use crate::a::{b, c::{d as e}};\n// use crate::comment;\nlet s = \"crate::string\"; let r = r#\"crate::raw\"#;\nlet c = '\"'; crate::inline::f();\n#[cfg(test)]\nmod tests { use crate::test_only; }\n",
    );
    assert!(!code.contains("comment") && !code.contains("string") && !code.contains("raw"), "{code}");
    assert!(!code.contains("test_only") && code.contains("crate::inline::f"), "{code}");
    assert_eq!(code.lines().count(), 6);
    assert_eq!(
        use_paths("crate::a::{b, c::{d as e}}"),
        [vec!["crate", "a", "b"], vec!["crate", "a", "c", "d"]]
            .map(|p| p.into_iter().map(str::to_string).collect::<Vec<_>>())
    );
}

/// The table under "What each module imports" in docs/design.md against the code.
#[test]
fn the_design_table_of_what_each_module_imports_matches_the_code() {
    let written = design_table("| module | imports |");
    let mut problems = String::new();
    for (module, uses) in module_graph(&imports()) {
        let names: Vec<String> = uses.keys().map(|m| format!("`{m}`")).collect();
        let row = if names.is_empty() { "nothing: a leaf".to_string() } else { names.join(", ") };
        match written.get(&module) {
            Some(text) if *text == row => {}
            Some(text) => {
                problems +=
                    &format!("\n  `{module}` is written as importing {text}; write: | `{module}` | {row} |")
            }
            None => problems += &format!("\n  `{module}` has no row; add: | `{module}` | {row} |"),
        }
    }
    for module in written.keys() {
        if !src_files().iter().any(|f| f != "main.rs" && top(f) == *module) {
            problems += &format!("\n  the row `{module}` names no module under src/: remove it");
        }
    }
    assert!(
        problems.is_empty(),
        "docs/design.md's table of what each module imports is out of date:{problems}"
    );
}
