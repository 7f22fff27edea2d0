//! Embeds the dashboard (`web/dist`, built by `npm run build` in `make setup`) in the binary:
//! writes `$OUT_DIR/dashboard_assets.rs`, a table of each file's path and bytes. Without a
//! build the table is empty and `/admin` says how to build it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() -> std::io::Result<()> {
    // Read when the script runs, not when it is compiled: one target directory serves every
    // clone, and a script compiled in another clone would otherwise look in that clone's web/.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(std::io::Error::other)?;
    let dist = Path::new(&manifest).join("web").join("dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut found = Vec::new();
    files(&dist, &mut found);
    found.sort();
    let mut table = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for path in &found {
        let Ok(rel) = path.strip_prefix(&dist) else {
            continue;
        };
        let name = rel.to_string_lossy().replace('\\', "/");
        let _ = writeln!(
            table,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    table.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").map_err(std::io::Error::other)?;
    std::fs::write(PathBuf::from(out_dir).join("dashboard_assets.rs"), table)
}
