//! Running the built deskline binary as a user would: from a directory of their own, with
//! RUST_BACKTRACE=1 (which many Rust users keep set) and no DESKLINE_* variable inherited from
//! the environment the tests run in.

#![allow(dead_code)] // Each test file uses its own share of these.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod postgres;

/// The deskline binary, run in `dir`.
pub fn deskline(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deskline"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DESKLINE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_BACKTRACE", "1").current_dir(dir);
    cmd
}

/// What a finished command printed, and how it exited.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Both outputs, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a command to the end; fails the test if what it printed is not fit for people: a
/// backtrace, a panic, Rust's `Caused by:` chain, or more than one `error:` line.
pub fn run(cmd: &mut Command) -> Ran {
    let out = cmd.output().expect("the command runs");
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let all = ran.all();
    for unfit in [
        "Stack backtrace",
        "stack backtrace",
        "panicked",
        "Caused by",
        "Error: ",
    ] {
        assert!(!all.contains(unfit), "{unfit:?} printed:\n{all}");
    }
    assert!(
        ran.stderr.matches("error:").count() <= 1,
        "the error is printed once:\n{all}"
    );
    ran
}

/// Fails unless `dir` holds nothing (a command run there created no file).
pub fn assert_empty(dir: &Path) {
    let left: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the directory")
        .map(|e| e.expect("an entry").path())
        .collect();
    assert!(left.is_empty(), "files were created in the cwd: {left:?}");
}

/// A port nothing listens on (for a moment).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A child process, stopped when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `deskline serve` with `args` in `dir`; the process and its banner (read up to the
/// line naming `test-handoff`, the last one in sandbox mode).
pub fn serve(dir: &Path, args: &[&str]) -> (Running, String) {
    let mut child = deskline(dir)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("deskline serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut banner = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("utf-8 output");
        let done = line.contains("test-handoff");
        banner.push(line);
        if done || Instant::now() > deadline {
            break;
        }
    }
    (running, banner.join("\n"))
}
