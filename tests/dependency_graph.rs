//! Adding `monitor` to a host must not change how the host's own code
//! type-checks. `serde_json` implements `PartialEq<serde_json::Value>` for
//! `u8` and every other number type, so in any crate that links it
//!
//! ```text
//! let mut sum = Vec::new();
//! sum.extend(&head);
//! sum.extend(&tail);
//! assert_eq!(&s[..], &sum[..]); // E0283: `u8: PartialEq<_>` is ambiguous
//! ```
//!
//! stops compiling. The monitor writes and reads its JSON itself
//! (`monitor-core/src/json/`), and this test keeps `serde_json` out of the
//! facade's normal dependency graph, the graph a host links.
//!
//! Why not compile that snippet here: the facade's dev-dependencies enable
//! `tracing-subscriber`'s `json` feature (for the `fmt().json()` layer the
//! tests and benches compare against), and Cargo unifies features, so every
//! test target in this workspace links `serde_json` through
//! `tracing-subscriber` — the same thing that happens in a host that enables
//! that feature itself.

use std::process::Command;

/// The crates of the facade's normal dependency graph, by name.
fn normal_dependencies() -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--package",
            "monitor",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn serde_json_is_not_in_the_graph_a_host_links() {
    let crates = normal_dependencies();
    assert!(
        crates.iter().any(|name| name == "monitor-core"),
        "the graph was not read: {crates:?}"
    );
    assert!(
        !crates.iter().any(|name| name == "serde_json"),
        "serde_json is a normal dependency again; it breaks integer type inference in hosts (see this file). Graph: {crates:?}"
    );
}
