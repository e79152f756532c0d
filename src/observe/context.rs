//! The request a piece of work serves, as a tokio task-local: the access-log middleware sets it
//! around each request, runs started by the request carry it into their own task
//! ([`carry`]), and the log formatter reads it, so every line of that work names the request.
//! A task-local costs nothing on the paths that do not read it, needs no lock, and cannot leak
//! from one request into another, as a thread-local on actix's shared workers would.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::Either;

tokio::task_local! {
    static REQUEST: RequestScope;
}

/// What the current task knows of its request.
struct RequestScope {
    /// The request id; shared, so carrying it into a run copies no string.
    id: Arc<str>,
    /// The ChatKit request type, once the body was parsed (the metrics label of `/chatkit`).
    request_type: Cell<Option<&'static str>>,
}

/// Runs `work` as the request `id`; returns what it returned and the request type recorded
/// during it with [`set_request_type`], if any. Combinators rather than an `async` block: a
/// block that moves `work` into an inner future keeps room for it twice, and every request's
/// handler future (and every run) passes through here.
pub fn within_request<F: Future>(
    id: Arc<str>,
    work: F,
) -> impl Future<Output = (F::Output, Option<&'static str>)> {
    let scope = RequestScope {
        id,
        request_type: Cell::new(None),
    };
    // The closure runs inside the scope's poll, so the task-local is still set.
    REQUEST.scope(
        scope,
        work.map(|output| {
            let request_type = REQUEST
                .try_with(|scope| scope.request_type.get())
                .ok()
                .flatten();
            (output, request_type)
        }),
    )
}

/// The current request's id, if this task serves one.
pub fn request_id() -> Option<Arc<str>> {
    REQUEST.try_with(|scope| scope.id.clone()).ok()
}

/// Records which ChatKit request this is; ignored outside a request.
pub fn set_request_type(name: &'static str) {
    let _ = REQUEST.try_with(|scope| scope.request_type.set(Some(name)));
}

/// `work` as the current request, for a task it spawns (a run outlives its HTTP request but
/// still belongs to it); outside a request, `work` as it is.
pub fn carry<F: Future>(work: F) -> impl Future<Output = F::Output> {
    match request_id() {
        Some(id) => Either::Left(within_request(id, work).map(|(output, _)| output)),
        None => Either::Right(work),
    }
}

/// Runs blocking `work` (on the blocking pool) as the request `id` it was handed off from.
pub fn blocking<T>(id: Option<Arc<str>>, work: impl FnOnce() -> T) -> T {
    match id {
        Some(id) => REQUEST.sync_scope(
            RequestScope {
                id,
                request_type: Cell::new(None),
            },
            work,
        ),
        None => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_seen_inside_and_carried_into_spawned_tasks() {
        assert!(request_id().is_none());
        let ((seen, spawned), request_type) = within_request(Arc::from("req-1"), async {
            set_request_type("threads.list");
            let spawned = tokio::spawn(carry(async { request_id() }));
            (request_id(), spawned.await.ok().flatten())
        })
        .await;
        assert_eq!(seen.as_deref(), Some("req-1"));
        assert_eq!(spawned.as_deref(), Some("req-1"));
        assert_eq!(request_type, Some("threads.list"));
        assert!(request_id().is_none(), "nothing left behind");
    }
}
