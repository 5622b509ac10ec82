//! Every ready-to-use rule file in `rulesets/` runs on its sample log in `examples/`
//! (same name, `.log`) and gives the output recorded beside it (`.expected`) and the
//! output real SEC gives (SEC is required when CI=true).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(prog: &Path, rules: &Path, log: &Path) -> String {
    let out = Command::new(prog)
        .arg(format!("--conf={}", rules.display()))
        .arg(format!("--input={}", log.display()))
        .args(["--notail", "--intevents"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn real_sec() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("sec"))
            .find(|c| c.is_file())
    });
    if found.is_none() && std::env::var("CI").as_deref() == Ok("true") {
        panic!("real SEC is required in CI (apt-get install sec)");
    }
    found
}

#[test]
fn rulesets_match_expected_and_sec() {
    let rsec = PathBuf::from(env!("CARGO_BIN_EXE_rsec"));
    let sec = real_sec();
    let mut count = 0;
    let mut entries: Vec<_> = std::fs::read_dir(root().join("rulesets"))
        .expect("rulesets/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sec"))
        .collect();
    entries.sort();
    for rules in entries {
        let stem = rules
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let log = root().join("examples").join(format!("{stem}.log"));
        let expected = rules.with_extension("expected");
        assert!(
            log.is_file(),
            "{} has no sample log {}",
            rules.display(),
            log.display()
        );
        let got = run(&rsec, &rules, &log);
        let want = std::fs::read_to_string(&expected)
            .unwrap_or_else(|e| panic!("{}: {e}", expected.display()));
        assert_eq!(
            got,
            want,
            "{stem}: rsec output differs from {}",
            expected.display()
        );
        match &sec {
            Some(sec) => assert_eq!(run(sec, &rules, &log), got, "{stem}: SEC and rsec differ"),
            None => {
                eprintln!("real SEC not installed: {stem} compared with the recorded output only")
            }
        }
        count += 1;
    }
    assert!(count > 0, "no rule files in rulesets/");
}
