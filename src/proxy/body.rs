//! Bodies streamed through the proxy while the capture keeps their start.
//!
//! [`TeeBody`] wraps a body on its way through: every frame is passed on
//! untouched (the body is never held whole in memory), the first
//! `limit` bytes are kept by reference (`Bytes` clones, no copies), the full
//! length is counted, and whoever holds the [`BodyWatch`] (or the callback
//! given to [`TeeBody::on_end`]) learns when and how the body ended:
//! completely, failed on the sending side, or dropped before its end by the
//! receiving side.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

use crate::event::{Payload, Side};

/// The error type of bodies the proxy sends.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a body turned out to be.
#[derive(Debug, Clone, Default)]
pub struct BodyOutcome {
    /// The kept bytes and the length seen so far.
    pub payload: Payload,
    /// Why the body did not reach its end, and whose fault that was.
    pub error: Option<(Side, String)>,
}

/// The start of a body kept for the capture, and its full length.
#[derive(Debug, Default)]
pub(super) struct Kept {
    chunks: Vec<Bytes>,
    kept: usize,
    len: u64,
    error: Option<(Side, String)>,
}

impl Kept {
    /// Counts `data`, the body's next bytes, and keeps what fits under
    /// `limit` (a `Bytes` clone, no copy).
    pub fn take(&mut self, data: &Bytes, limit: usize) {
        self.len += data.len() as u64;
        let room = limit - self.kept;
        if room > 0 && !data.is_empty() {
            let take = data.slice(..data.len().min(room));
            self.kept += take.len();
            self.chunks.push(take);
        }
    }

    /// What the body turned out to be, ended by `error` if it did not
    /// reach its end.
    pub fn ended(self, error: Option<(Side, String)>) -> BodyOutcome {
        BodyOutcome {
            error,
            ..self.outcome()
        }
    }

    fn outcome(&self) -> BodyOutcome {
        let bytes = match self.chunks.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut all = BytesMut::with_capacity(self.kept);
                many.iter().for_each(|c| all.extend_from_slice(c));
                all.freeze()
            }
        };
        BodyOutcome {
            payload: Payload {
                bytes,
                len: self.len,
            },
            error: self.error.clone(),
        }
    }
}

/// A look at what a [`TeeBody`] has passed so far.
#[derive(Clone)]
pub struct KeptHandle(Arc<Mutex<Kept>>);

impl KeptHandle {
    /// What the body has been so far (all of it once it ended).
    pub fn outcome(&self) -> BodyOutcome {
        // A poisoned lock means a panic elsewhere while holding it; the data
        // itself is still whole (every update is a single assignment).
        self.0
            .lock()
            .map(|k| k.outcome())
            .unwrap_or_else(|p| p.into_inner().outcome())
    }
}

/// The receiving end of a [`TeeBody`]: wait for its end, or look now.
pub struct BodyWatch {
    kept: KeptHandle,
    done: oneshot::Receiver<()>,
}

impl BodyWatch {
    /// The look and the end signal, to wait on the end alongside other work.
    pub fn into_parts(self) -> (KeptHandle, oneshot::Receiver<()>) {
        (self.kept, self.done)
    }
}

/// A body passed through while its start is kept for the capture.
pub struct TeeBody<B> {
    inner: B,
    limit: usize,
    /// The side whose failure makes `inner` fail (it produces the data).
    source: Side,
    kept: Arc<Mutex<Kept>>,
    done: Option<Done>,
}

/// Who hears that the body ended.
enum Done {
    /// A [`BodyWatch`], possibly in another task.
    Signal(oneshot::Sender<()>),
    /// A callback, called where the body ends: no task to wake.
    Call(Box<dyn FnOnce(BodyOutcome) + Send>),
}

impl<B: Body> TeeBody<B> {
    /// Wraps `inner`, produced by `source`, keeping up to `limit` bytes.
    pub fn new(inner: B, limit: usize, source: Side) -> (TeeBody<B>, BodyWatch) {
        let kept = Arc::new(Mutex::new(Kept::default()));
        let (tx, rx) = oneshot::channel();
        let watch = BodyWatch {
            kept: KeptHandle(kept.clone()),
            done: rx,
        };
        (
            TeeBody::wrap(inner, limit, source, kept, Done::Signal(tx)),
            watch,
        )
    }

    /// Like [`TeeBody::new`], but `f` is called with the outcome where the
    /// body ends (or is dropped), instead of waking a watcher.
    pub fn on_end(
        inner: B,
        limit: usize,
        source: Side,
        f: impl FnOnce(BodyOutcome) + Send + 'static,
    ) -> TeeBody<B> {
        let kept = Arc::new(Mutex::new(Kept::default()));
        TeeBody::wrap(inner, limit, source, kept, Done::Call(Box::new(f)))
    }

    fn wrap(inner: B, limit: usize, source: Side, kept: Arc<Mutex<Kept>>, done: Done) -> Self {
        let empty = inner.is_end_stream();
        let mut body = TeeBody {
            inner,
            limit,
            source,
            kept,
            done: Some(done),
        };
        // An empty body may never be polled: it has ended already.
        if empty {
            body.end(None);
        }
        body
    }
}

impl<B> TeeBody<B> {
    fn update(&self, f: impl FnOnce(&mut Kept)) {
        match self.kept.lock() {
            Ok(mut k) => f(&mut k),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    fn end(&mut self, error: Option<(Side, String)>) {
        if let Some(done) = self.done.take() {
            if error.is_some() {
                self.update(|k| k.error = error);
            }
            match done {
                Done::Signal(tx) => {
                    let _ = tx.send(());
                }
                Done::Call(f) => f(KeptHandle(self.kept.clone()).outcome()),
            }
        }
    }
}

impl<B> Body for TeeBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let limit = this.limit;
                    this.update(|k| k.take(data, limit));
                }
                if this.inner.is_end_stream() {
                    this.end(None);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                let e: BoxError = e.into();
                this.end(Some((this.source, e.to_string())));
                Poll::Ready(Some(Err(e)))
            }
            None => {
                this.end(None);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for TeeBody<B> {
    fn drop(&mut self) {
        if self.done.is_some() {
            // Dropped before its end: the side reading it stopped reading.
            let reader = self.source.peer();
            self.end(Some((
                reader,
                "the body was not read to its end".to_owned(),
            )));
        }
    }
}
