//! The callback threads of non-blocking submissions ("lanes"): a small fixed pool, started on
//! first use, each running the jobs given to it one at a time in the order given. Every job of
//! one submission goes to the same lane, so its callbacks run one at a time, in order.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};

use once_cell::sync::Lazy;

type Job = Box<dyn FnOnce() + Send>;

/// Lanes: one per core, at least 2 and at most 4. Callbacks are meant to be short; a few
/// threads keep one slow callback from holding up every other submission, without the thread
/// count growing with the number of submissions.
fn lane_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
}

static LANES: Lazy<Vec<Sender<Job>>> = Lazy::new(|| {
    (0..lane_count())
        .map(|i| {
            let (tx, rx) = channel::<Job>();
            std::thread::Builder::new()
                .name(format!("oairun-callback-{i}"))
                .spawn(move || {
                    ON_LANE.with(|on| on.set(true));
                    for job in rx {
                        // A job's own panics are caught where it can report them; this keeps
                        // the lane alive should one slip through.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .expect("oairun: cannot start a callback thread");
            tx
        })
        .collect()
});

static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ON_LANE: Cell<bool> = const { Cell::new(false) };
}

/// One lane, chosen for a submission when it starts.
#[derive(Clone, Copy)]
pub(crate) struct Lane(usize);

impl Lane {
    /// The next lane, round robin.
    pub(crate) fn pick() -> Lane {
        Lane(NEXT.fetch_add(1, Ordering::Relaxed) % LANES.len())
    }

    /// Queues `job` to run on this lane after the jobs queued before it.
    pub(crate) fn run(self, job: impl FnOnce() + Send + 'static) {
        // The lane threads never exit, so their receivers never go away.
        let _ = LANES[self.0].send(Box::new(job));
    }
}

/// True on a lane thread, that is inside a callback of a non-blocking submission.
pub(crate) fn on_lane() -> bool {
    ON_LANE.with(Cell::get)
}
