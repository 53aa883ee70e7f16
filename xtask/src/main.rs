//! `cargo xtask <command>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//!   demo [-- APP ARGS]  install what is missing, build the UI and the app, start the app
//!   test                install what is missing, run every test, print one summary line
//!   bundle              release build with .deb and .rpm packages
//!   bench               benchmarks (filled in by the performance issue)

mod deb_check;
mod deps;
mod run;
mod secrets_check;
mod summary;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use run::{cargo, run_step, Step};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(),
        Some("bundle") => bundle(),
        Some("bench") => bench(),
        Some("deb-check") => {
            let mut totals = summary::Totals::default();
            check_deb(&mut totals);
            println!("{}", totals.line());
            if totals.failed == 0 && totals.passed > 0 {
                Ok(())
            } else {
                Err("the .deb check failed".into())
            }
        }
        _ => {
            eprintln!(
                "usage: cargo xtask (demo [-- APP ARGS] | test | bundle | bench | deb-check)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// Where cargo puts build output, honouring CARGO_TARGET_DIR like cargo does.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn prepare_ui() -> Result<(), String> {
    deps::ensure_node_modules(&root().join("ui"))?;
    run_step(
        Step::new("build the UI", "npm")
            .args(["run", "build"])
            .dir(root().join("ui")),
    )
}

fn demo(app_args: &[String]) -> Result<(), String> {
    deps::ensure_system_packages(&[deps::BUILD, deps::RUN])?;
    prepare_ui()?;
    run_step(cargo(["build", "--bin", "call-companion"]))?;
    let app_args = app_args
        .strip_prefix(&["--".to_string()])
        .unwrap_or(app_args);
    // The demo is mock mode: a simulated portal inside the app, signed in, with the Mock panel.
    let mut args = vec!["--mock".to_string()];
    args.extend(app_args.iter().filter(|a| *a != "--mock").cloned());
    let binary = target_dir().join("debug").join("call-companion");
    println!("xtask: starting {} {}", binary.display(), args.join(" "));
    run_step(Step::new("run the app", binary).args(args))
}

/// The notes chaos test's seed in `cargo xtask test` (any number but zero; this one is arbitrary).
const CHAOS_SEED: &str = "20261201";

fn test() -> Result<(), String> {
    deps::ensure_system_packages(&[deps::BUILD, deps::RUN, deps::TEST])?;
    deps::ensure_tauri_driver()?;
    let mut totals = summary::Totals::default();

    let ui = root().join("ui");
    deps::ensure_node_modules(&ui)?;
    run_step(
        Step::new("type-check the UI", "npm")
            .args(["run", "check"])
            .dir(&ui),
    )?;
    let vitest = run::capture(
        Step::new("UI unit tests (Vitest)", "npm")
            .args(["test"])
            .dir(&ui)
            .env("NO_COLOR", "1"),
    )?;
    totals.add(summary::parse_vitest(&vitest.stdout));
    // The app embeds ui/dist at compile time, so the UI is built before cargo.
    run_step(
        Step::new("build the UI", "npm")
            .args(["run", "build"])
            .dir(&ui),
    )?;

    // Every secret the portal simulator issues, and each test home's pairing token and vault
    // entries, are listed in the ledger, to be looked for in what the test homes kept.
    let artifacts = target_dir().join("e2e-artifacts");
    // `logs` is what older harnesses kept; removed so stale files never count as checked.
    let _ = std::fs::remove_dir_all(artifacts.join("logs"));
    let kept_homes = artifacts.join("homes");
    let _ = std::fs::remove_dir_all(&kept_homes);
    let ledger_dir = tempdir("ledger")?;
    let ledger = ledger_dir.join("issued-secrets");

    // The notes chaos test kills its worker at moments drawn from a seed: fixed here, so a run
    // on CI can be repeated exactly; random when the test is run by hand; CHAOS_SEED overrides.
    let chaos_seed = std::env::var("CHAOS_SEED").unwrap_or_else(|_| CHAOS_SEED.into());
    println!("xtask: notes chaos seed {chaos_seed} (CHAOS_SEED=... picks another)");

    // A fresh keyring in a private D-Bus session: tests use the real Secret Service.
    let keyring_home = tempdir("keyring")?;
    let cargo_tests = run::capture(
        Step::new(
            "cargo tests (all crates, IPC, end-to-end under Xvfb)",
            "dbus-run-session",
        )
        .args([
            "--",
            "sh",
            "-c",
            deps::UNLOCK_KEYRING_AND_EXEC,
            "sh",
            "cargo",
            "test",
            "--workspace",
            "--no-fail-fast",
        ])
        .env("XDG_DATA_HOME", &keyring_home)
        .env("PORTAL_SIM_TOKEN_LEDGER", &ledger)
        .env("CHAOS_SEED", &chaos_seed),
    );
    let _ = std::fs::remove_dir_all(&keyring_home);
    let cargo_tests = cargo_tests?;
    totals.add(summary::parse_cargo(&cargo_tests.stdout));

    let report = secrets_check::scan(
        &ledger,
        &[kept_homes],
        &[
            ("the cargo tests' output", &cargo_tests.stdout),
            ("the cargo tests' error output", &cargo_tests.stderr),
        ],
    );
    let _ = std::fs::remove_dir_all(&ledger_dir);
    println!(
        "\n==> no secret anywhere: {} secrets issued during the tests, looked for in {} kept files (logs, settings files, databases, diagnostics archives' entries) and the tests' output and error output",
        report.secrets, report.files
    );
    if report.secrets == 0 || report.files == 0 {
        println!("    FAILED: nothing to check (the ledger or the kept test homes are missing)");
        totals.failed += 1;
    } else if report.findings.is_empty() {
        println!("    ok");
        totals.passed += 1;
    } else {
        for finding in &report.findings {
            println!("    FAILED: {finding}");
        }
        totals.failed += 1;
    }

    // Licences and banned crates (the advisory database cannot be fetched here).
    gate(&mut totals, "cargo deny check licenses bans", || {
        deps::ensure_cargo_deny()?;
        run_step(cargo(["deny", "check", "licenses", "bans"]).dir(root()))
    });
    // The tree stays rustfmt-clean: a diff fails the run and names the files.
    gate(&mut totals, "cargo fmt --check", || {
        run_step(cargo(["fmt", "--all", "--", "--check"]).dir(root()))
    });
    // And clippy-clean, tests and tools included.
    const CLIPPY: [&str; 6] = [
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ];
    gate(&mut totals, "cargo clippy (warnings are errors)", || {
        run_step(cargo(CLIPPY).dir(root()))
    });

    // The package as IT installs and removes it (a release build: the slowest step, so last).
    check_deb(&mut totals);

    println!();
    println!("{}", totals.line());
    match (vitest.success, cargo_tests.success, totals.failed) {
        (true, true, 0) if totals.passed > 0 => Ok(()),
        _ => Err("some tests failed (see above)".into()),
    }
}

fn bundle() -> Result<(), String> {
    deps::ensure_system_packages(&[deps::BUILD])?;
    prepare_ui()?;
    let tauri_cli = root().join("ui/node_modules/.bin/tauri");
    run_step(
        Step::new("release build with .deb and .rpm", tauri_cli)
            .args(["build", "--bundles", "deb,rpm"])
            .dir(root()),
    )?;
    let bundle_dir = target_dir().join("release/bundle");
    for kind in ["deb", "rpm"] {
        for entry in std::fs::read_dir(bundle_dir.join(kind))
            .map_err(|e| format!("no {kind} bundle: {e}"))?
        {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_some_and(|ext| ext == kind) {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                println!(
                    "xtask: {} ({:.1} MiB)",
                    path.display(),
                    size as f64 / 1_048_576.0
                );
            }
        }
    }
    Ok(())
}

/// Runs one pass/fail check of the whole tree and counts it in the summary.
fn gate(totals: &mut summary::Totals, title: &str, check: impl FnOnce() -> Result<(), String>) {
    println!("\n==> {title}");
    match check() {
        Ok(()) => {
            println!("    ok");
            totals.passed += 1;
        }
        Err(e) => {
            println!("    FAILED: {e}");
            totals.failed += 1;
        }
    }
}

/// Builds the `.deb` and installs, runs and removes it (`cargo xtask deb-check` alone).
fn check_deb(totals: &mut summary::Totals) {
    println!("\n==> the .deb installed, run and removed");
    if !is_root() {
        println!("    skipped: installing a package needs root (CI runs as root)");
        totals.skipped += 1;
        return;
    }
    match bundle().and_then(|()| built_deb()) {
        Ok(deb) => {
            for (_, result) in deb_check::run(&deb) {
                match result {
                    Ok(()) => totals.passed += 1,
                    Err(_) => totals.failed += 1,
                }
            }
        }
        Err(e) => {
            println!("    FAILED: {e}");
            totals.failed += 1;
        }
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The `.deb` that `bundle` made.
fn built_deb() -> Result<PathBuf, String> {
    let dir = target_dir().join("release/bundle/deb");
    std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| format!("no .deb in {}", dir.display()))
}

fn tempdir(label: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("call-companion-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Every benchmark (screen pop, listener, the whole app under Xvfb, sizes), written to
/// docs/benchmarks.md and docs/benchmarks.json. The app and sizes are measured on the release
/// build and packages `bundle` makes, so this builds them first.
fn bench() -> Result<(), String> {
    deps::ensure_system_packages(&[deps::BUILD, deps::RUN, deps::TEST])?;
    // The commands' round trips drive the window through WebDriver.
    deps::ensure_tauri_driver()?;
    bundle()?;
    let release = target_dir().join("release");
    // The app keeps its pairing token in the keyring; the benchmark reads it like a script.
    let keyring_home = tempdir("bench-keyring")?;
    let result = run_step(
        cargo(["run", "--profile", "measure", "--package", "bench", "--"])
            .args([
                root().join("docs").display().to_string(),
                "--app".into(),
                release.join("call-companion").display().to_string(),
                "--bundles".into(),
                release.join("bundle").display().to_string(),
            ])
            .wrap_in(&[
                "dbus-run-session",
                "--",
                "sh",
                "-c",
                deps::UNLOCK_KEYRING_AND_EXEC,
                "sh",
            ])
            .env("XDG_DATA_HOME", &keyring_home)
            .dir(root()),
    );
    let _ = std::fs::remove_dir_all(&keyring_home);
    result
}
