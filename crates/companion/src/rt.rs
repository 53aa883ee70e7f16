//! The app's one tokio runtime, made here on first use. Every portal request (reqwest), the
//! listener and the push subscription run on it; the shell hands it to Tauri at start
//! (`tauri::async_runtime::set`), and command-line subcommands and tests use it as it is.
//!
//! Code that is still synchronous (the desks' entry points, which commands call on the blocking
//! pool) waits for async work with [`block_on`]: the future runs on the calling thread, its
//! sockets and timers on the runtime.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The app's runtime.
pub fn handle() -> Handle {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("companion-rt")
                .enable_all()
                .build()
                .expect("the operating system gives a tokio runtime its threads")
        })
        .handle()
        .clone()
}

/// Runs `work` to its end from synchronous code: a thread of its own, the blocking pool, or a
/// runtime worker (which then tells the scheduler it blocks). Not from a single-threaded
/// runtime's task: nothing calls it there.
pub fn block_on<F: Future>(work: F) -> F::Output {
    let runtime = handle();
    match Handle::try_current() {
        Ok(current) if current.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| runtime.block_on(work))
        }
        _ => runtime.block_on(work),
    }
}

/// `.wait()` on a future: [`block_on`] for synchronous callers (the command line, tools, tests).
pub trait Wait: Future + Sized {
    fn wait(self) -> Self::Output {
        block_on(self)
    }
}

impl<F: Future> Wait for F {}
