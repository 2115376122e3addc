//! Connections whose protocol-level errors are JSON too.
//!
//! hyper answers some requests itself, before the router sees them: a request line longer than
//! 65,534 bytes (414), a request head larger than its read buffer or with more than 100 header
//! fields (431), and a request line or header it cannot parse (400). Those answers have empty
//! bodies. [`JsonErrorsListener`] wraps every accepted connection so that such an answer is
//! replaced, on its way out, by the standard JSON error (`uri_too_long`, `headers_too_large`,
//! `malformed_request`). Nothing else is touched: every other byte passes through unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections answer protocol-level errors as JSON.
pub struct JsonErrorsListener(pub TcpListener);

impl axum::serve::Listener for JsonErrorsListener {
    type Io = JsonParseErrors<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (JsonParseErrors::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The peer address of a connection accepted by [`JsonErrorsListener`], as `ConnectInfo` (the
/// throttles key on it). axum implements that only for its own listeners' `SocketAddr`.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, JsonErrorsListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, JsonErrorsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A connection that rewrites hyper's own empty error answers into JSON ones.
pub struct JsonParseErrors<T> {
    inner: T,
    /// A replacement being written: its bytes, how many are written, and how many bytes of the
    /// caller's buffer it stands for.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<T> JsonParseErrors<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The JSON answer standing in for hyper's empty one, if `buf` is exactly such an answer.
///
/// hyper writes it as a bare head (`HTTP/1.1 414 URI Too Long`, `content-length: 0`, `date`) in
/// place of any response, on a connection it then closes. The router never sends an empty 4xx
/// (`error::json_errors` gives every error a JSON body), so the shape is unambiguous.
pub fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let (status, reason, code, message) = if buf.starts_with(b"HTTP/1.1 414 ") {
        (
            414,
            "URI Too Long",
            "uri_too_long",
            "请求地址过长。The request URI is longer than 65,534 bytes; send large filters in a body.",
        )
    } else if buf.starts_with(b"HTTP/1.1 431 ") {
        (
            431,
            "Request Header Fields Too Large",
            "headers_too_large",
            "请求头过大。The request headers are too large (at most 100 fields and 64 KiB in all).",
        )
    } else if buf.starts_with(b"HTTP/1.1 400 ") {
        (
            400,
            "Bad Request",
            "malformed_request",
            "请求格式错误。The request line or a header is not valid HTTP/1.1.",
        )
    } else {
        return None;
    };
    if buf.len() > 1024 || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?.to_ascii_lowercase();
    if !head.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonParseErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> JsonParseErrors<T> {
    /// Writes the pending replacement; Ready(n) with the caller's byte count once all is out.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<usize>>> {
        while let Some((bytes, written, _)) = self.pending.as_mut() {
            if *written == bytes.len() {
                let (_, _, stands_for) = self.pending.take().expect("pending");
                return Poll::Ready(Ok(Some(stands_for)));
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(None))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none()
            && let Some(bytes) = replacement(buf)
        {
            this.pending = Some((bytes, 0, buf.len()));
        }
        if this.pending.is_some() {
            return match ready!(this.drain(cx))? {
                Some(n) => Poll::Ready(Ok(n)),
                None => Poll::Ready(Ok(0)),
            };
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then hands over each answer head as one contiguous buffer, which is
    // what `replacement` recognises.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn hypers_empty_414_becomes_a_json_error() {
        let out = replacement(
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 30 Nov 2025 00:00:00 GMT\r\n\r\n",
        )
        .expect("replaced");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(text.contains("content-type: application/json\r\n"));
        assert!(text.ends_with("\"code\":\"uri_too_long\",\"message\":\"请求地址过长。The request URI is longer than 65,534 bytes; send large filters in a body.\"}"));
    }

    #[test]
    fn an_answer_with_a_body_is_left_alone() {
        assert!(
            replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n{\"code\":\"x\"}")
                .is_none()
        );
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
