//! The lingering close (RFC 9112 section 9.6): how wsdiag ends a
//! connection whose peer may still be sending.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Sends FIN after everything written, then reads and discards what the
/// peer still sends until it ends too, for at most `limit`. Dropping a
/// socket with unread input would make the kernel reset the connection,
/// and a peer that has not read wsdiag's last words (a close frame, an
/// error answer) would lose them.
pub async fn linger<S: AsyncRead + AsyncWrite + Unpin>(mut socket: S, limit: Duration) {
    let _ = tokio::time::timeout(limit, async {
        let _ = socket.shutdown().await;
        // On the heap: in the future's state it would cost every
        // connection 4 KiB from start to end, for a moment at its end.
        let mut sink = vec![0u8; 4096];
        while let Ok(n) = socket.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
