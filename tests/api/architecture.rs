//! The layer rule of ARCHITECTURE section 2, in code: a module imports only from the layers
//! below it. Reads every file under `src/` and names the file and line of each import that
//! points up or sideways.

use std::path::{Path, PathBuf};

/// Layers, bottom first. A module may use its own layer's module and any lower layer.
const LAYERS: &[&[&str]] = &[
    &["chatkit", "config"],
    &["observe"],
    &["store", "agent"],
    &["runs", "auth"],
    &["service"],
    &["routes"],
    &["startup"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a file under `src/` belongs to (`None` for `lib.rs` and `main.rs`,
/// which sit above every layer).
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_owned())
}

/// The crate modules a line of code names through `crate::`, comments left out.
fn crate_modules(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or_default();
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first name of each top-level entry.
            let end = group.find('}').unwrap_or(group.len());
            for entry in group[..end].split(',') {
                found.push(leading_ident(entry.trim()));
            }
        } else {
            found.push(leading_ident(rest));
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

fn leading_ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every violation in `source`, a file of `module`, as "path:line: ..." messages.
fn violations(path: &str, module: &str, source: &str) -> Vec<String> {
    let Some(own) = rank(module) else {
        return vec![format!(
            "{path}: module '{module}' is in no layer; add it to LAYERS and ARCHITECTURE.md"
        )];
    };
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        for used in crate_modules(line) {
            if used == module {
                continue;
            }
            match rank(&used) {
                Some(r) if r < own => {}
                Some(_) => found.push(format!(
                    "{path}:{}: '{module}' must not import '{used}', which is not below it \
                     (layers bottom to top: {})",
                    number + 1,
                    LAYERS
                        .iter()
                        .map(|layer| layer.join(", "))
                        .collect::<Vec<_>>()
                        .join(" < ")
                )),
                None => found.push(format!(
                    "{path}:{}: '{used}' is in no layer; add it to LAYERS and ARCHITECTURE.md",
                    number + 1
                )),
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn layers_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found only {} files in src/", files.len());
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let Some(module) = module_of(relative) else {
            continue;
        };
        let source = std::fs::read_to_string(&file).expect("read source");
        found.extend(violations(
            &format!("src/{}", relative.display()),
            &module,
            &source,
        ));
    }
    assert!(
        found.is_empty(),
        "imports against the layer rule:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checker_catches_upward_and_sideways_imports() {
    let source = "use crate::chatkit::types::Thread;\n\
                  // crate::routes in a comment is fine\n\
                  use crate::{config::Settings, routes::AppState};\n\
                  let x = crate::agent::Agent::default();\n";
    let found = violations("src/store/example.rs", "store", source);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("src/store/example.rs:3: 'store' must not import 'routes'"));
    assert!(found[1].starts_with("src/store/example.rs:4: 'store' must not import 'agent'"));
    assert!(violations("src/routes/x.rs", "routes", source).is_empty());
    assert_eq!(violations("src/newthing.rs", "newthing", "").len(), 1);
}
