//! The shape of `src/`, checked: no import circles between its files, and no file too long to
//! read in one sitting. See `docs/ARCHITECTURE.md` for the layers these checks keep.
//!
//! An import is a `use` of a `crate::`, `super::` or `self::` path (re-exports, `pub use`, are
//! not: they only pass a name on), an inline `crate::…` or `super::…` path, or a parent's use of a child
//! module by its bare name (`sqlite::SqliteStore`). Each path counts as an import of the
//! deepest module file it names. Test modules at the end of a file are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most lines of code (tests left out) a file under `src/` may have.
const MAX_LINES: usize = 500;

type Module = Vec<String>;

/// Every `.rs` file under `src/`, by its module path (`["store", "sql"]`; the crate root `[]`).
fn modules() -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .filter(|path| path.file_name().is_some_and(|n| n != "main.rs"))
        .map(|path| {
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let mut module: Module = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|last| last == "mod" || last == "lib") {
                module.pop();
            }
            (module, path)
        })
        .collect()
}

/// The code of a file without its test module.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The paths a `use` tree names: `a::{b, c::{d}}` gives `a::b` and `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find("::{") else { return vec![tree.to_owned()] };
    let (prefix, inner) = (&tree[..open], &tree[open + 3..tree.len() - 1]);
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .filter(|part| !part.trim().is_empty())
        .flat_map(|part| expand(part))
        .map(|path| if path == "self" { prefix.to_owned() } else { format!("{prefix}::{path}") })
        .collect()
}

/// The module a path names, relative to `from`: the deepest module file along it.
fn resolve(path: &str, from: &Module, modules: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let path = path.split(" as ").next().unwrap().trim();
    let segments: Vec<&str> = path.split("::").collect();
    let mut base: Module = match segments[0] {
        "crate" => Vec::new(),
        "super" | "self" => from.clone(),
        _ => return None,
    };
    let mut rest = &segments[1..];
    if segments[0] != "crate" {
        let mut all = &segments[..];
        while let Some(first) = all.first() {
            match *first {
                "super" => {
                    base.pop();
                }
                "self" => {}
                _ => break,
            }
            all = &all[1..];
        }
        rest = all;
    }
    let mut path: Module = base;
    path.extend(rest.iter().map(|s| (*s).to_owned()));
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|candidate| modules.contains_key(candidate))
}

/// Each module file's imports of other module files.
fn imports(modules: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut graph = BTreeMap::new();
    for (module, path) in modules {
        let code = code(path);
        let mut found = BTreeSet::new();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("use ") {
            let before = &rest[..at];
            let line_start = before.rfind('\n').map_or(0, |n| n + 1);
            let prefix = before[line_start..].trim();
            let end = rest[at..].find(';').map_or(rest.len(), |n| at + n);
            let is_statement = prefix.is_empty() || prefix.starts_with("pub");
            if is_statement && !prefix.starts_with("pub") {
                for path in expand(&rest[at + 4..end]) {
                    found.extend(resolve(&path, module, modules));
                }
            }
            rest = &rest[end.min(rest.len())..];
            if rest.is_empty() {
                break;
            }
            rest = &rest[1.min(rest.len())..];
        }
        // Inline paths import too: `crate::a::b`, and `super::a` (a child's `super::` is its
        // parent, so a parent and its child importing each other inline is a circle).
        for prefix in ["crate::", "super::"] {
            for (at, _) in code.match_indices(prefix) {
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue; // the tail of a longer path (`super::super::`), read from its start
                }
                let path: String =
                    code[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
                found.extend(resolve(path.trim_end_matches(':'), module, modules));
            }
        }
        let body: String = code
            .lines()
            .filter(|line| {
                let line = line.trim_start();
                !(line.starts_with("mod ") || line.starts_with("pub mod ") || line.starts_with("pub(crate) mod "))
            })
            .collect::<Vec<_>>()
            .join("\n");
        for line in code.lines() {
            let declared = line.trim_start().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
            if let Some(name) = declared.strip_prefix("mod ").and_then(|rest| rest.strip_suffix(';')) {
                let mut child = module.clone();
                child.push(name.to_owned());
                let used = body.match_indices(&format!("{name}::")).any(|(at, _)| {
                    let before = body[..at].chars().next_back();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                });
                if modules.contains_key(&child) && used {
                    found.insert(child);
                }
            }
        }
        found.remove(module);
        graph.insert(module.clone(), found);
    }
    graph
}

/// A circle through `start`, if there is one.
fn circle(graph: &BTreeMap<Module, BTreeSet<Module>>, start: &Module) -> Option<Vec<Module>> {
    let mut stack = vec![(start.clone(), vec![start.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == start {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_file_under_src_imports_itself_through_others() {
    let modules = modules();
    let graph = imports(&modules);
    assert!(graph.len() > 50, "the walk found only {} modules", graph.len());
    assert!(
        graph
            .get(&vec!["store".to_owned(), "sql".to_owned()])
            .is_some_and(|i| i.contains(&vec!["sessions".to_owned()])),
        "the import graph misses store/sql → sessions: {:?}",
        graph.get(&vec!["store".to_owned(), "sql".to_owned()])
    );
    let circles: Vec<String> = graph
        .keys()
        .filter_map(|module| circle(&graph, module))
        .map(|path| {
            path.iter()
                .map(|m| if m.is_empty() { "lib".to_owned() } else { m.join("/") })
                .collect::<Vec<_>>()
                .join(" → ")
        })
        .collect();
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}

#[test]
fn no_file_under_src_is_longer_than_a_sitting() {
    let long: Vec<String> = modules()
        .values()
        .map(|path| (code(path).lines().count(), path))
        .filter(|(lines, _)| *lines > MAX_LINES)
        .map(|(lines, path)| format!("{} has {lines} lines", path.display()))
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines of code:\n{}", long.join("\n"));
}

#[test]
fn use_trees_are_expanded() {
    assert_eq!(
        expand("crate::a::{b, c::{d, e}, self}"),
        ["crate::a::b", "crate::a::c::d", "crate::a::c::e", "crate::a"]
    );
}

/// The route file (`http/routes/<name>`, a folder's files counting as one) a module belongs to.
fn route_file(module: &Module) -> Option<&str> {
    match module.as_slice() {
        [http, routes, name, ..] if http == "http" && routes == "routes" => Some(name),
        _ => None,
    }
}

#[test]
fn route_files_share_helpers_through_http_never_through_each_other() {
    let graph = imports(&modules());
    let crossings: Vec<String> = graph
        .iter()
        .filter_map(|(from, to)| Some((from, route_file(from)?, to)))
        .flat_map(|(from, own, to)| {
            to.iter()
                .filter(move |m| route_file(m).is_some_and(|other| other != own))
                .map(move |m| format!("{} → {}", from.join("/"), m.join("/")))
        })
        .collect();
    assert!(
        graph.keys().any(|m| route_file(m) == Some("forward") && m.len() == 4),
        "the walk misses the files of http/routes/forward"
    );
    assert!(crossings.is_empty(), "route files importing each other:\n{}", crossings.join("\n"));
}

/// The imports of the files of room `from` (`["http"]`) that land in a room `to` accepts,
/// each as `from → to`.
fn imports_between(from: &str, to: impl Fn(&Module) -> bool) -> Vec<String> {
    let graph = imports(&modules());
    graph
        .iter()
        .filter(|(module, _)| module.first().is_some_and(|room| room == from))
        .flat_map(|(module, targets)| {
            targets
                .iter()
                .filter(|target| to(target))
                .map(move |target| format!("{} → {}", module.join("/"), target.join("/")))
        })
        .collect()
}

#[test]
fn the_model_is_the_ground_floor_and_imports_nothing_above_it() {
    let graph = imports(&modules());
    assert!(graph.keys().any(|m| m == &["model".to_owned(), "account".to_owned()]), "the walk misses model/account");
    let upward = imports_between("model", |target| target.first().is_none_or(|room| room != "model"));
    assert!(upward.is_empty(), "the model importing rooms above it:\n{}", upward.join("\n"));
}

#[test]
fn http_and_the_command_line_never_import_the_store() {
    let is_store = |target: &Module| target.first().is_some_and(|room| room == "store");
    let crossings: Vec<String> = ["http", "cli"].into_iter().flat_map(|room| imports_between(room, is_store)).collect();
    assert!(
        crossings.is_empty(),
        "the store imported where the model or the app room should be:\n{}",
        crossings.join("\n")
    );
}

#[test]
fn the_contract_sits_below_http_and_the_command_line_and_its_account_beside_the_model() {
    let above = |target: &Module| target.first().is_some_and(|room| room == "http" || room == "cli" || room == "app");
    let upward = imports_between("contract", above);
    assert!(upward.is_empty(), "the contract importing the rooms that use it:\n{}", upward.join("\n"));
    let account = ["contract".to_owned(), "account".to_owned()];
    let graph = imports(&modules());
    let lifted: Vec<String> = graph
        .get(account.as_slice())
        .expect("the walk misses contract/account")
        .iter()
        .filter(|target| target.first().is_none_or(|room| room != "model"))
        .map(|target| target.join("/"))
        .collect();
    assert!(lifted.is_empty(), "the account's shape, which the webhook worker uses, imports {lifted:?}");
}

#[test]
fn stores_never_import_the_contract_and_the_contract_never_imports_the_rules() {
    let room = |name: &'static str| move |target: &Module| target.first().is_some_and(|room| room == name);
    let mut crossings = imports_between("store", room("contract"));
    crossings.extend(imports_between("contract", room("accounts")));
    for below in ["sessions", "limits", "audit"] {
        crossings.extend(imports_between(below, room("store")));
    }
    assert!(crossings.is_empty(), "a room importing one it must not:\n{}", crossings.join("\n"));
}

/// Every file under `src/` with its code (tests left out), by its path under `src/`.
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    modules()
        .into_values()
        .map(|path| (path.strip_prefix(&src).unwrap().to_string_lossy().into_owned(), code(&path)))
        .collect()
}

/// Only the authenticator tells credentials apart by their prefix: the prefixes are named where
/// they are defined (`model/api_key.rs`, the authenticator), where a credential is minted, and
/// nowhere else.
#[test]
fn only_the_authenticator_reads_a_credential_s_prefix() {
    const MINTERS: [&str; 2] = ["accounts/api_keys.rs", "accounts/scim_tokens.rs"];
    let mut readers = Vec::new();
    for (file, code) in sources() {
        if file == "accounts/authenticator.rs" || file == "model/api_key.rs" {
            continue;
        }
        for (number, line) in code.lines().enumerate() {
            let named = line.contains("KEY_PREFIX") || line.contains("SCIM_PREFIX");
            let spelt = line.contains("\"gh_\"") || line.contains("\"scim_\"");
            let mints = MINTERS.contains(&file.as_str())
                && (line.contains("format!(") || line.trim_start().starts_with("use "));
            if (named || spelt) && !mints {
                readers.push(format!("src/{file}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(readers.is_empty(), "a credential's prefix read outside the authenticator:\n{}", readers.join("\n"));
}

/// Roles are compared in the access room (`accounts/access/`) and the model's pure rules
/// (`model/`), never where a request happens nor in a store: a store reads the facts (the
/// members, their roles, the custom roles) in the change's turn and asks the model's rule
/// (`model::org::member_change`, `offer_stands`, `release`, `directory_spares`,
/// `model::account::is_active_admin`), so a rule is written once for every backend.
#[test]
fn roles_are_compared_in_the_access_room_alone() {
    let constant = r"(Role::[A-Z]\w*|\bOWNER\b|\bADMIN\b|\bMEMBER\b)";
    let comparison = regex_lite::Regex::new(&format!(
        r"(==|!=)\s*&?{constant}|{constant}\s*(==|!=)|matches!\([^)]*Role::|\.role\s*==\s*\*?role\b"
    ))
    .unwrap();
    let mut inline = Vec::new();
    for (file, code) in sources() {
        if file.starts_with("accounts/access/") || file.starts_with("model/") {
            continue;
        }
        for (number, line) in code.lines().enumerate().filter(|(_, line)| comparison.is_match(line)) {
            inline.push(format!("src/{file}:{}: {}", number + 1, line.trim()));
        }
    }
    assert!(inline.is_empty(), "roles compared outside the access room:\n{}", inline.join("\n"));
}

/// A change and what it tells are one step: `Core::commit` runs the store's write and, once
/// it made the change, settles its effects; no use case settles by hand.
#[test]
fn changes_are_settled_by_the_one_commit_step() {
    let mut by_hand = Vec::new();
    for (file, code) in sources().into_iter().filter(|(file, _)| file.starts_with("accounts/")) {
        for (number, line) in code.lines().enumerate() {
            let settles = line.contains(".settle(") && !line.trim_start().starts_with("//");
            if settles && !(file == "accounts/commit.rs" && line.trim() == "self.settle(effects).await;") {
                by_hand.push(format!("src/{file}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(by_hand.is_empty(), "effects settled outside Core::commit:\n{}", by_hand.join("\n"));
}

/// No capability of the account rules holds the whole store: each holds the bundle of ports its
/// use cases call (`store/ports.rs`), and the whole store is only handed in, in `Parts`, to be
/// narrowed. A use case that reaches for a port outside its bundle does not compile; this rule
/// keeps the whole store from coming back as a field.
#[test]
fn no_capability_holds_the_whole_store() {
    let whole = regex_lite::Regex::new(r"dyn\s+(crate::store::)?Store\b").unwrap();
    let mut found = Vec::new();
    for (file, code) in sources().into_iter().filter(|(file, _)| file.starts_with("accounts/")) {
        for (number, line) in code.lines().enumerate() {
            let handed_in = file == "accounts/mod.rs" && line.trim() == "pub store: Arc<dyn Store>,";
            if whole.is_match(line) && !handed_in {
                found.push(format!("src/{file}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "a capability holding more than its ports:\n{}", found.join("\n"));
}
