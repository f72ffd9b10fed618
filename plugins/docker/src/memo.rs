//! A short-lived, process-wide cache of engine answers with one fetch in flight per key.
//!
//! The host asks every resource's status at once from several threads; the containers of a
//! service share one engine listing instead of sending one request each. Anything this
//! process changes on an engine bumps the generation, so a start or stop is seen at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Forget every cached answer (after a change this process made).
pub fn invalidate() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

struct Entry<V> {
    generation: u64,
    at: Instant,
    value: V,
}

type Slot<V> = Arc<tokio::sync::Mutex<Option<Entry<V>>>>;

pub struct Memo<V> {
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot<V>>>,
}

impl<V: Clone> Memo<V> {
    pub fn new(ttl: Duration) -> Self {
        Memo {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value of `key`, or the result of `fetch` (errors are not cached). Callers
    /// asking for the same key meanwhile wait for that fetch instead of starting their own.
    pub async fn get_or_fetch<E, Fut>(&self, key: &str, fetch: impl FnOnce() -> Fut) -> Result<V, E>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        // Read before fetching: an invalidation during the fetch makes this answer stale.
        let generation = GENERATION.load(Ordering::SeqCst);
        if let Some(e) = cached.as_ref() {
            if e.generation == generation && e.at.elapsed() < self.ttl {
                return Ok(e.value.clone());
            }
        }
        let value = fetch().await?;
        *cached = Some(Entry {
            generation,
            at: Instant::now(),
            value: value.clone(),
        });
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn concurrent_callers_share_one_fetch_until_invalidated() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let memo = Arc::new(Memo::<usize>::new(Duration::from_secs(60)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let ask = |memo: Arc<Memo<usize>>, fetches: Arc<AtomicUsize>| async move {
            memo.get_or_fetch("k", || async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok::<_, ()>(fetches.fetch_add(1, Ordering::SeqCst))
            })
            .await
        };
        rt.block_on(async {
            let tasks: Vec<_> = (0..7)
                .map(|_| tokio::spawn(ask(memo.clone(), fetches.clone())))
                .collect();
            for t in tasks {
                assert_eq!(t.await.unwrap(), Ok(0));
            }
            assert_eq!(fetches.load(Ordering::SeqCst), 1);
            invalidate();
            assert_eq!(ask(memo.clone(), fetches.clone()).await, Ok(1));
            let failing = memo.get_or_fetch("other", || async { Err::<usize, _>("down") });
            assert_eq!(failing.await, Err("down"));
            assert_eq!(fetches.load(Ordering::SeqCst), 2);
        });
    }
}
