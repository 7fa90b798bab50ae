//! The threads the kernels run on. A forward pass calls a product or an attention a few hundred
//! times per token, each only microseconds long at decode; waking a sleeping thread costs about
//! as much as the work. So the workers spin for a short while after each call, waiting for the
//! next one, and only then sleep (as llama.cpp's threads do). The caller takes tasks too.
//!
//! One call runs at a time: a call made while the pool is busy (from another thread, or from
//! inside a task) runs its tasks on the calling thread, which gives the same results, since
//! every task owns its outputs.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, TryLockError};
use std::time::{Duration, Instant};

/// How long an idle worker waits for the next call before it sleeps.
const SPIN: Duration = Duration::from_micros(300);

/// A task body with its lifetime erased: `run` keeps it alive until every task has returned.
type Body = *const (dyn Fn(usize) + Sync + 'static);

struct Job {
    body: Body,
    tasks: usize,
    next: usize,
}

struct State {
    /// Counts calls; a worker that has seen this one waits for the next.
    epoch: u64,
    job: Option<Job>,
    sleeping: usize,
}

// SAFETY: `body` points to a `Sync` closure, called only while `run` waits for it.
unsafe impl Send for State {}

struct Pool {
    workers: usize,
    state: Mutex<State>,
    wake: Condvar,
    /// `State::epoch`, readable without the lock by spinning workers.
    epoch: AtomicU64,
    /// Tasks of the current call that have not returned yet.
    unfinished: AtomicUsize,
    /// A task's panic, passed to the caller.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// Held by the call in progress.
    busy: Mutex<()>,
}

/// Runs `body(0)`, …, `body(tasks − 1)` on the pool's workers and the calling thread, and
/// returns when all have returned. A panic in a task is raised here once all have finished.
pub(crate) fn run(tasks: usize, body: impl Fn(usize) + Sync) {
    let pool = pool();
    let inline = |body: &dyn Fn(usize)| (0..tasks).for_each(body);
    if tasks <= 1 || pool.workers == 0 {
        return inline(&body);
    }
    let _busy = match pool.busy.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return inline(&body),
    };
    let body: &(dyn Fn(usize) + Sync) = &body;
    // SAFETY: only the lifetime changes; the job is removed below before `body` goes away,
    // and no task is running then (`unfinished` is 0).
    let erased: Body = unsafe { std::mem::transmute(body) };
    pool.unfinished.store(tasks, Ordering::Relaxed);
    {
        let mut state = pool.lock();
        state.epoch += 1;
        state.job = Some(Job {
            body: erased,
            tasks,
            next: 0,
        });
        pool.epoch.store(state.epoch, Ordering::Release);
        if state.sleeping > 0 {
            pool.wake.notify_all();
        }
    }
    pool.work();
    while pool.unfinished.load(Ordering::Acquire) != 0 {
        std::hint::spin_loop();
    }
    pool.lock().job = None;
    let panic = pool.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(panic) = panic {
        resume_unwind(panic);
    }
}

/// The process's pool: as many threads as rayon's global pool has (which `RAYON_NUM_THREADS`
/// and candor's `--threads` set), the caller being one of them.
fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            workers: rayon::current_num_threads().saturating_sub(1),
            state: Mutex::new(State {
                epoch: 0,
                job: None,
                sleeping: 0,
            }),
            wake: Condvar::new(),
            epoch: AtomicU64::new(0),
            unfinished: AtomicUsize::new(0),
            panic: Mutex::new(None),
            busy: Mutex::new(()),
        }));
        for i in 0..pool.workers {
            let spawned = std::thread::Builder::new()
                .name(format!("candor-kernels-{i}"))
                .spawn(move || pool.serve());
            if spawned.is_err() {
                // The caller still does every task; fewer workers only make it slower.
                break;
            }
        }
        pool
    })
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A worker's life: wait for a call, take its tasks, wait again.
    fn serve(&self) {
        let mut seen = 0;
        loop {
            let start = Instant::now();
            let mut spins = 0u32;
            while self.epoch.load(Ordering::Acquire) == seen {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(256) && start.elapsed() > SPIN {
                    let mut state = self.lock();
                    while state.epoch == seen {
                        state.sleeping += 1;
                        state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                        state.sleeping -= 1;
                    }
                    break;
                }
            }
            seen = self.work();
        }
    }

    /// Takes and runs tasks of the current call until none is left; returns that call's epoch.
    fn work(&self) -> u64 {
        loop {
            let (body, task) = {
                let mut state = self.lock();
                let epoch = state.epoch;
                match &mut state.job {
                    Some(job) if job.next < job.tasks => {
                        job.next += 1;
                        (job.body, job.next - 1)
                    }
                    _ => return epoch,
                }
            };
            // SAFETY: the task is not finished, so `run` is still waiting and `body` lives.
            let result = catch_unwind(AssertUnwindSafe(|| unsafe { (*body)(task) }));
            if let Err(panic) = result {
                *self.panic.lock().unwrap_or_else(|e| e.into_inner()) = Some(panic);
            }
            self.unfinished.fetch_sub(1, Ordering::Release);
        }
    }
}

/// A buffer that tasks write through in disjoint parts.
pub(crate) struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: tasks write disjoint parts (callers promise it), and the buffer outlives them.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub fn new(buffer: &mut [T]) -> Self {
        Self {
            ptr: buffer.as_mut_ptr(),
            len: buffer.len(),
        }
    }

    /// `len` values from `start`.
    ///
    /// # Safety
    /// No other task touches these values while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn part(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.len);
        std::slice::from_raw_parts_mut(self.ptr.add(start), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once_from_any_number_of_callers() {
        let counts: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for n in [0, 1, 2, 7, 1000] {
                        run(n, |i| {
                            counts[i].fetch_add(1, Ordering::Relaxed);
                        });
                        // A call from inside a task runs on the calling thread.
                        run(2, |_| run(3, |_| ()));
                    }
                });
            }
        });
        for (i, c) in counts.iter().enumerate() {
            let expected = 4 * (1 + usize::from(i < 7) + usize::from(i < 2) + usize::from(i < 1));
            assert_eq!(c.load(Ordering::Relaxed), expected, "task {i}");
        }
    }

    #[test]
    fn a_task_panic_reaches_the_caller_and_the_pool_goes_on() {
        let caught = catch_unwind(|| {
            run(64, |i| {
                if i == 33 {
                    panic!("task 33");
                }
            })
        });
        let message = caught.unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"task 33"));
        let sum = AtomicUsize::new(0);
        run(100, |i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 4950);
    }
}
