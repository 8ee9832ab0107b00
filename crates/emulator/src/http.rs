//! A minimal HTTP/1.1 client for the model server on loopback (`/ping`, `/invocations`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status code and body.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode_chunked(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").ok_or("truncated chunked body")?;
        let size_text = std::str::from_utf8(data.get(..line_end).unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = data.get(line_end + 2..).ok_or("truncated chunk")?;
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("truncated chunk")?);
        data = data.get(size + 2..).ok_or("truncated chunk")?;
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub(crate) async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    let work = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream.write_all(body).await.map_err(|e| e.to_string())?;
        stream.flush().await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        let mut header_end: Option<usize> = None;
        let mut content_length: Option<usize> = None;
        let mut chunked = false;
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if header_end.is_none()
                && let Some(i) = find(&buf, b"\r\n\r\n")
            {
                header_end = Some(i + 4);
                let head =
                    String::from_utf8_lossy(buf.get(..i).unwrap_or_default()).to_ascii_lowercase();
                for line in head.lines().skip(1) {
                    if let Some(v) = line.strip_prefix("content-length:") {
                        content_length = v.trim().parse().ok();
                    }
                    if line.starts_with("transfer-encoding:") && line.contains("chunked") {
                        chunked = true;
                    }
                }
            }
            if let (Some(h), Some(len)) = (header_end, content_length)
                && !chunked
                && buf.len() >= h + len
            {
                break;
            }
            if let Some(h) = header_end
                && chunked
                && buf.get(h..).is_some_and(|b| b.ends_with(b"0\r\n\r\n"))
            {
                break;
            }
        }
        let h = header_end
            .ok_or_else(|| "the server closed the connection without a response".to_string())?;
        let status_line = String::from_utf8_lossy(buf.get(..h).unwrap_or_default())
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let raw = buf.get(h..).unwrap_or_default();
        let body = if chunked {
            decode_chunked(raw)?
        } else if let Some(len) = content_length {
            raw.get(..len).ok_or("truncated body")?.to_vec()
        } else {
            raw.to_vec()
        };
        Ok(Response { status, body })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no response within {} s", timeout.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(
            decode_chunked(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(decode_chunked(b"zz\r\n").is_err());
    }
}
