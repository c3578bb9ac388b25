//! The one tokio runtime every client shares, started on first use.

use once_cell::sync::Lazy;
use tokio::runtime::Runtime;

/// Worker threads: network I/O is light, and a small fixed pool keeps the thread count flat no
/// matter how many clients or streams there are.
const WORKER_THREADS: usize = 2;

static RUNTIME: Lazy<Runtime> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("oairun-worker")
        .enable_io()
        .enable_time()
        .build()
        .expect("oairun: cannot start the tokio runtime")
});

/// The shared runtime.
pub(crate) fn get() -> &'static Runtime {
    &RUNTIME
}

/// True when the current thread is inside a tokio runtime, where blocking calls must not wait.
pub(crate) fn inside_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}
