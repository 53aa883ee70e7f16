//! Running steps: each prints what it does, and a failure says which step failed.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct Step {
    title: String,
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
}

impl Step {
    pub fn new(title: impl Into<String>, program: impl AsRef<OsStr>) -> Step {
        Step {
            title: title.into(),
            program: program.as_ref().to_owned(),
            args: vec![],
            dir: None,
            env: vec![],
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Step
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Step {
        self.dir = Some(dir.into());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Step {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs the step inside another program (`dbus-run-session -- … cargo …`): the wrapper's
    /// words come first, then this step's program and arguments.
    pub fn wrap_in(mut self, wrapper: &[&str]) -> Step {
        let (first, rest) = wrapper.split_first().expect("a wrapper program");
        let mut args: Vec<OsString> = rest.iter().map(OsString::from).collect();
        args.push(std::mem::replace(&mut self.program, OsString::from(first)));
        args.append(&mut self.args);
        self.args = args;
        self
    }

    fn command(&self) -> Command {
        println!("\nxtask: ==> {}", self.title);
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        } else {
            cmd.current_dir(crate::root());
        }
        cmd
    }

    fn failed(&self, why: impl std::fmt::Display) -> String {
        format!("step \"{}\" failed: {why}", self.title)
    }
}

/// A cargo invocation with the cargo that runs xtask.
pub fn cargo<I: IntoIterator<Item = &'static str>>(args: I) -> Step {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args: Vec<&str> = args.into_iter().collect();
    Step::new(format!("cargo {}", args.join(" ")), cargo).args(args)
}

pub fn run_step(step: Step) -> Result<(), String> {
    let status = step
        .command()
        .status()
        .map_err(|e| step.failed(format!("cannot start {:?}: {e}", step.program)))?;
    if status.success() {
        Ok(())
    } else {
        Err(step.failed(status))
    }
}

pub struct Captured {
    pub success: bool,
    pub stdout: String,
    /// Where panics and crash output land; kept to be searched for secrets.
    pub stderr: String,
}

/// Runs a step, echoing its stdout and stderr as they come and keeping a copy of each (counts
/// are read from stdout). A step that runs and fails is not an `Err`: its counts still belong
/// in the summary.
pub fn capture(step: Step) -> Result<Captured, String> {
    let mut child = step
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| step.failed(format!("cannot start {:?}: {e}", step.program)))?;
    // Read on its own thread so neither pipe fills up while the other is read; bytes, not
    // lines, so output that is not UTF-8 is still echoed as it was.
    let mut err_pipe = BufReader::new(child.stderr.take().expect("piped"));
    let stderr = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut line = Vec::new();
        while matches!(err_pipe.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let _ = std::io::stderr().write_all(&line);
            kept.append(&mut line);
        }
        String::from_utf8_lossy(&kept).into_owned()
    });
    let mut stdout = String::new();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(|e| step.failed(e))?;
        println!("{line}");
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = child.wait().map_err(|e| step.failed(e))?;
    let stderr = stderr
        .join()
        .map_err(|_| step.failed("reading its error output panicked"))?;
    if !status.success() {
        eprintln!("xtask: step \"{}\" failed: {status}", step.title);
    }
    Ok(Captured {
        success: status.success(),
        stdout,
        stderr,
    })
}
