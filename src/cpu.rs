//! The refreshes' CPU work — decompressing bodies, parsing feeds, preparing entries' text for
//! matching, reading article pages — run on tokio's blocking pool, a few jobs at once.
//!
//! Without a bound, every refresh in flight (`[poll] concurrency` of them) had its own
//! blocking thread: a catch-up ran ~127 threads on 2 cores, time-sliced against each other and
//! against the one store thread that sets the pace, all allocating from glibc's shared arenas.
//! With [`CpuGate::for_this_machine`]'s slots the fresh 100k-entry `poll-once` runs ~16
//! threads and peaks 25–35 MB lower, and a re-read wave costs ~20 % less CPU (BENCHMARKS.md,
//! session 14). The slots are a few more than the cores, so that one hostile document (the
//! worst, a 16 MiB body, parses in about a second) holds one slot while the other feeds go on
//! in the rest.
//!
//! A semaphore in front of `spawn_blocking` rather than a cap on tokio's whole blocking pool:
//! that pool also runs the resolver's DNS lookups and the page renders, which must not queue
//! behind parsing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;
use tokio::task::JoinError;

/// At most `slots` jobs running at once; the rest wait, in the order they came.
pub struct CpuGate {
    slots: Arc<Semaphore>,
    /// Callers waiting for a slot.
    waiting: AtomicUsize,
    /// Jobs started since the gate was made.
    started: AtomicUsize,
}

impl CpuGate {
    /// A gate of `slots` (at least one).
    pub fn new(slots: usize) -> CpuGate {
        CpuGate {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            waiting: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
        }
    }

    /// Twice the cores this process may use, and at least four.
    pub fn for_this_machine() -> CpuGate {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        CpuGate::new((2 * cores).max(4))
    }

    /// Runs `f` on the blocking pool once a slot is free; the slot is given back when `f`
    /// returns or panics (a panic comes back as the `JoinError`, as from `spawn_blocking`).
    pub async fn run<R, F>(&self, f: F) -> Result<R, JoinError>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        // Counted while waiting, and no longer once the wait ends or is abandoned (a refresh
        // that times out drops this future mid-wait).
        let waiting = Waiting::on(&self.waiting);
        // Never closed: an error cannot happen, and would only mean running without a slot.
        let slot = self.slots.clone().acquire_owned().await.ok();
        drop(waiting);
        self.started.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            f()
        })
        .await
    }

    /// How many callers are waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// How many jobs have started since the gate was made.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::Relaxed)
    }

    /// How many slots are free.
    pub fn free(&self) -> usize {
        self.slots.available_permits()
    }
}

/// One caller counted in a gate's `waiting` for as long as this lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn on(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_jobs_run_at_once_than_there_are_slots() {
        let gate = Arc::new(CpuGate::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        // Each job runs until it is handed a token.
        let (go, tokens) = std::sync::mpsc::channel::<()>();
        let tokens = Arc::new(Mutex::new(tokens));
        let jobs: Vec<_> = (0..10)
            .map(|_| {
                let (gate, running, started, most, tokens) = (
                    gate.clone(),
                    running.clone(),
                    started.clone(),
                    most.clone(),
                    tokens.clone(),
                );
                tokio::spawn(async move {
                    gate.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        started.fetch_add(1, Ordering::SeqCst);
                        let _ = tokens.lock().map(|t| t.recv());
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        // Until every job has either started or queued for a slot.
        while started.load(Ordering::SeqCst) + gate.waiting() < 10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            started.load(Ordering::SeqCst),
            2,
            "two slots, two jobs running"
        );
        assert_eq!(gate.waiting(), 8);
        for _ in 0..10 {
            go.send(()).unwrap();
        }
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(
            started.load(Ordering::SeqCst),
            10,
            "every job ran in the end"
        );
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(gate.started(), 10);
        assert_eq!(gate.free(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_that_panics_gives_its_slot_back() {
        let gate = CpuGate::new(1);
        let failed = gate.run(|| -> u32 { panic!("a job that panics") }).await;
        assert!(failed.unwrap_err().is_panic());
        assert_eq!(gate.free(), 1);
        assert_eq!(gate.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_waiting_is_no_longer_counted() {
        let gate = Arc::new(CpuGate::new(1));
        let (go, token) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(move || token.recv()).await })
        };
        while gate.free() > 0 {
            tokio::task::yield_now().await;
        }
        let mut waiter = Box::pin(gate.run(|| ()));
        tokio::select! {
            biased;
            _ = &mut waiter => panic!("ran without a free slot"),
            () = tokio::task::yield_now() => {}
        }
        assert_eq!(gate.waiting(), 1);
        drop(waiter);
        assert_eq!(gate.waiting(), 0);
        go.send(()).unwrap();
        holder.await.unwrap().unwrap().unwrap();
        assert_eq!(gate.free(), 1);
    }

    #[test]
    fn the_machine_gets_at_least_four_slots_and_twice_its_cores() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let gate = CpuGate::for_this_machine();
        assert!(gate.free() >= 4);
        assert!(gate.free() >= 2 * cores);
        assert_eq!(CpuGate::new(0).free(), 1, "never a gate nothing passes");
    }
}
