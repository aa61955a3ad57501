//! Parsing a request head with httparse, within the bounds.

use super::{MAX_BODY_BYTES, MAX_HEADER_BYTES};

/// Headers a request may carry.
const MAX_HEADERS: usize = 64;

/// The parts of a request the routes look at.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The path, without the query.
    pub(crate) path: String,
    /// The query string after `?` (empty without one).
    pub(crate) query: String,
    /// The `Accept` header.
    pub(crate) accept: Option<String>,
    /// The `Authorization` header.
    pub(crate) authorization: Option<String>,
    /// The body (`POST`, `PUT`), at most [`MAX_BODY_BYTES`].
    pub(crate) body: Vec<u8>,
}

/// The methods the server tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Post,
    Put,
    Other,
}

/// What the bytes read so far amount to.
#[derive(Debug)]
pub(crate) enum Parse {
    /// More bytes are needed.
    Partial,
    /// A whole request, with its body.
    Complete(Request),
    /// A request the server refuses: status code and why.
    Refused(u16, &'static str),
}

/// Parses `input` (everything read so far on the connection).
pub(crate) fn parse(input: &[u8]) -> Parse {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if input.len() > MAX_HEADER_BYTES {
                Parse::Refused(431, "the request head is larger than 16 KiB")
            } else {
                Parse::Partial
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Parse::Refused(431, "more than 64 request headers");
        }
        Err(_) => return Parse::Refused(400, "malformed request"),
    };
    if head_len > MAX_HEADER_BYTES {
        return Parse::Refused(431, "the request head is larger than 16 KiB");
    }
    let mut body_len = 0usize;
    let mut accept = None;
    let mut authorization = None;
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parse::Refused(411, "chunked request bodies are not accepted");
        }
        let Ok(value) = std::str::from_utf8(header.value) else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            match value.trim().parse::<u64>() {
                Ok(len) if len > MAX_BODY_BYTES as u64 => {
                    return Parse::Refused(413, "the request body is larger than 64 KiB");
                }
                Ok(len) => body_len = len as usize,
                Err(_) => return Parse::Refused(400, "malformed Content-Length"),
            }
        } else if name.eq_ignore_ascii_case("accept") {
            accept = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.to_owned());
        }
    }
    if input.len() < head_len + body_len {
        return Parse::Partial;
    }
    let method = match request.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        _ => Method::Other,
    };
    let target = request.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Parse::Complete(Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        accept,
        authorization,
        body: input[head_len..head_len + body_len].to_vec(),
    })
}

impl Request {
    /// True when the query has a parameter called `name`.
    pub(crate) fn has_param(&self, name: &str) -> bool {
        self.query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_shapes() {
        let input = b"GET /api/stats?window=1h HTTP/1.1\r\nHost: x\r\nAccept: a/b\r\n\r\n";
        let Parse::Complete(request) = parse(input) else {
            panic!("complete")
        };
        assert_eq!(request.path, "/api/stats");
        assert!(request.has_param("window"));
        assert_eq!(request.accept.as_deref(), Some("a/b"));
        assert!(matches!(parse(b"GET / HTTP/1.1\r\nHo"), Parse::Partial));
        assert!(matches!(
            parse(b"\x01\x02 nonsense\r\n\r\n"),
            Parse::Refused(400, _)
        ));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEADER_BYTES));
        assert!(matches!(parse(big.as_bytes()), Parse::Refused(431, _)));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 10485760\r\n\r\n"),
            Parse::Refused(413, _)
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"),
            Parse::Partial
        ));
    }
}
