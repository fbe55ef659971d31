//! One socket's events are handled one at a time, in the order they arrived.
//!
//! socketioxide spawns every event handler as a task of its own, so two events of one socket run side by
//! side and finish in any order: a `join` then a `chat` sent back to back had the chat checked before
//! the join was done (`not_in_room`), a publisher's burst reached receivers reordered, and three acks of
//! one polling payload came back 3, 1, 2. Socket.IO promises order, and clients rely on it.
//!
//! socketioxide calls a handler function in order, on the task that reads the connection; only the
//! future it returns is spawned. So the handlers registered with socketioxide are plain functions that
//! pass their work to [`EventQueue::run`] and return at once. The queue polls the work right there, and
//! most of it (an `echo`, a `join` on a lone hub) is done on that first poll, with no task of its own.
//! Work that has to wait (an adapter round trip in a cluster) moves to one task per socket, which finishes
//! it and then the events queued behind it, in order, and ends when the queue is empty. An idle socket
//! holds no task.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Most events of one socket that may wait behind a handler that waits. Only a handler that waits on
/// something outside the hub (Redis, in a cluster) lets events pile up; a client that sends faster than
/// that for long is disconnected rather than allowed to grow the hub's memory.
pub const MAX_WAITING: usize = 1024;

/// The socket's queue is full: the event was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than {MAX_WAITING} events wait to be handled")]
pub struct QueueFull;

/// The events of one socket that wait for an earlier one to finish.
#[derive(Default)]
pub struct EventQueue {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// An event is being handled: later ones wait in `waiting`.
    busy: bool,
    waiting: VecDeque<Work>,
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = self.lock().waiting.len();
        f.debug_struct("EventQueue").field("waiting", &waiting).finish()
    }
}

impl EventQueue {
    /// Handles `work` after every event this queue was given before it: at once when none is pending
    /// (up to its first wait), else once they are done. Refuses it when [`MAX_WAITING`] events wait.
    pub fn run(self: &Arc<Self>, work: impl Future<Output = ()> + Send + 'static) -> Result<(), QueueFull> {
        let mut work: Work = Box::pin(work);
        {
            let mut state = self.lock();
            if state.busy {
                if state.waiting.len() >= MAX_WAITING {
                    return Err(QueueFull);
                }
                state.waiting.push_back(work);
                return Ok(());
            }
            state.busy = true;
        }
        // Polled with a waker that does nothing: if the work is not done, it is polled again at once by
        // the task below, which registers the real waker, as every future allows.
        // Outside tokio's cooperative budget: the reading task spends it on the events of one polling
        // payload, and once it is spent every lock the work takes would say "not yet" although free. The
        // events would then pile up behind the queue's task rather than run here, and a client sending a
        // burst of 2,000 requests (1,000 join + chat pairs) found its queue full and was disconnected.
        let first = tokio::task::unconstrained(std::future::poll_fn(|cx| poll_guarded(&mut work, cx)));
        if std::pin::pin!(first).poll(&mut Context::from_waker(Waker::noop())).is_ready() {
            let Some(next) = self.next() else { return Ok(()) };
            work = next;
        }
        let queue = Arc::clone(self);
        tokio::spawn(async move {
            let mut work = work;
            loop {
                std::future::poll_fn(|cx| poll_guarded(&mut work, cx)).await;
                match queue.next() {
                    Some(next) => work = next,
                    None => return,
                }
            }
        });
        Ok(())
    }

    /// The next waiting event, or `None` after marking the queue idle.
    fn next(&self) -> Option<Work> {
        let mut state = self.lock();
        let next = state.waiting.pop_front();
        state.busy = next.is_some();
        next
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A handler never panics while holding the lock: only queue operations run under it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Polls `work`; a panic in it ends that work only (it is logged), and the socket's next events still
/// run, as they did when every handler was a task of its own.
fn poll_guarded(work: &mut Work, cx: &mut Context<'_>) -> Poll<()> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
        Ok(poll) => poll,
        Err(_) => {
            tracing::error!("an event handler panicked; the socket's next events are handled as usual");
            Poll::Ready(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// Work that records `n` after waiting `wait` (zero: done on its first poll).
    fn step(log: &mpsc::UnboundedSender<u32>, n: u32, wait: Duration) -> impl Future<Output = ()> + use<> {
        let log = log.clone();
        async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            log.send(n).unwrap();
        }
    }

    #[tokio::test]
    async fn later_work_waits_for_earlier_work_that_waits() {
        let queue = Arc::new(EventQueue::default());
        let (log, mut order) = mpsc::unbounded_channel();
        queue.run(step(&log, 1, Duration::from_millis(30))).unwrap();
        queue.run(step(&log, 2, Duration::ZERO)).unwrap();
        queue.run(step(&log, 3, Duration::from_millis(10))).unwrap();
        queue.run(step(&log, 4, Duration::ZERO)).unwrap();
        drop(log);
        let mut seen = Vec::new();
        while let Some(n) = order.recv().await {
            seen.push(n);
        }
        assert_eq!(seen, [1, 2, 3, 4]);
        assert!(!queue.lock().busy, "an emptied queue is idle again");
    }

    #[tokio::test]
    async fn a_queue_holds_at_most_max_waiting_events() {
        let queue = Arc::new(EventQueue::default());
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        queue
            .run(async {
                let _ = wait.await;
            })
            .unwrap();
        for _ in 0..MAX_WAITING {
            queue.run(async {}).unwrap();
        }
        assert_eq!(queue.run(async {}), Err(QueueFull));
        release.send(()).unwrap();
        while queue.lock().busy {
            tokio::task::yield_now().await;
        }
        assert_eq!(queue.run(async {}), Ok(()), "room again once the queue drained");
    }

    #[tokio::test]
    async fn a_panicking_handler_does_not_stop_the_queue() {
        let queue = Arc::new(EventQueue::default());
        let (log, mut order) = mpsc::unbounded_channel();

        queue.run(async { panic!("inline") }).unwrap();
        queue.run(step(&log, 1, Duration::ZERO)).unwrap();
        queue
            .run(async {
                tokio::task::yield_now().await;
                panic!("in the task")
            })
            .unwrap();
        queue.run(step(&log, 2, Duration::ZERO)).unwrap();
        assert_eq!(order.recv().await, Some(1));
        assert_eq!(order.recv().await, Some(2));
    }

    #[tokio::test]
    async fn work_that_needs_no_wait_is_done_before_run_returns() {
        let queue = Arc::new(EventQueue::default());
        let (log, mut order) = mpsc::unbounded_channel();
        queue.run(step(&log, 1, Duration::ZERO)).unwrap();
        assert_eq!(order.try_recv(), Ok(1));
        assert!(!queue.lock().busy);
        // After work that had to wait, the queue takes new work again once it is idle.
        queue.run(step(&log, 2, Duration::from_millis(5))).unwrap();
        assert!(queue.lock().busy);
        assert_eq!(order.recv().await, Some(2));
        while queue.lock().busy {
            tokio::task::yield_now().await;
        }
        queue.run(step(&log, 3, Duration::ZERO)).unwrap();
        assert_eq!(order.try_recv(), Ok(3));
    }

    #[tokio::test]
    async fn a_free_lock_does_not_send_a_burst_to_the_queue() {
        // One polling payload's events are handed over on one task, whose cooperative budget (128
        // operations) a burst spends: a free lock taken after that must still be taken at once.
        let queue = Arc::new(EventQueue::default());
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        for _ in 0..2 * MAX_WAITING {
            let turn = Arc::clone(&turn);
            queue.run(async move { drop(turn.lock().await) }).unwrap();
            assert!(!queue.lock().busy, "the work was done before `run` returned");
        }
    }
}
