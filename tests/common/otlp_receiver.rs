//! A local OTLP/HTTP receiver for the tests: HTTP/1.1 over a std
//! `TcpListener` (keep-alive, `Content-Length` bodies), decoding every body
//! with the `opentelemetry-proto` types and handing it to the test through a
//! channel. What it answers is set by the test (`answer`), down to never
//! answering at all.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// How long a test waits for a request before calling the exporter stuck.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One request as the receiver saw it, and what it answered.
#[derive(Debug)]
pub enum Received {
    Traces {
        answered: u16,
        headers: Vec<(String, String)>,
        request: ExportTraceServiceRequest,
    },
    Metrics {
        answered: u16,
        headers: Vec<(String, String)>,
        request: ExportMetricsServiceRequest,
    },
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub requests: mpsc::Receiver<Received>,
    answer: Arc<AtomicU16>,
}

impl Receiver {
    /// Answers 200 until told otherwise.
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::channel();
        let answer = Arc::new(AtomicU16::new(200));
        let shared = Arc::clone(&answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let tx = tx.clone();
                let answer = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, tx, answer));
            }
        });
        Receiver {
            addr,
            requests,
            answer,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The status code of every answer from now on; 0: read each request,
    /// hand it to the test, and never answer it.
    pub fn answer(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    pub fn next(&self) -> Received {
        self.requests
            .recv_timeout(PATIENCE)
            .expect("no OTLP request arrived")
    }

    /// The next trace request (metrics requests on the way are skipped).
    pub fn next_traces(&self) -> (u16, ExportTraceServiceRequest) {
        loop {
            if let Received::Traces {
                answered, request, ..
            } = self.next()
            {
                return (answered, request);
            }
        }
    }

    /// The next metrics request (trace requests on the way are skipped).
    pub fn next_metrics(&self) -> (u16, ExportMetricsServiceRequest) {
        loop {
            if let Received::Metrics {
                answered, request, ..
            } = self.next()
            {
                return (answered, request);
            }
        }
    }
}

fn serve(stream: TcpStream, tx: mpsc::Sender<Received>, answer: Arc<AtomicU16>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == "content-length" {
                length = value.parse().unwrap();
            }
            headers.push((name, value));
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let status = answer.load(Ordering::SeqCst);
        let received = match path.as_str() {
            "/v1/traces" => Received::Traces {
                answered: status,
                headers,
                request: ExportTraceServiceRequest::decode(&body[..]).expect("not a trace request"),
            },
            "/v1/metrics" => Received::Metrics {
                answered: status,
                headers,
                request: ExportMetricsServiceRequest::decode(&body[..])
                    .expect("not a metrics request"),
            },
            other => panic!("unexpected path {other}"),
        };
        // Handed over before answering: the exporter cannot count an answer
        // the test has not seen yet.
        let _ = tx.send(received);
        if status == 0 {
            // Never answer: hold the connection open for good.
            let _held = writer;
            loop {
                std::thread::park();
            }
        }
        let reason = if status == 200 { "OK" } else { "Nope" };
        let reply = format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\n\r\n");
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Every span of a request.
pub fn spans(request: &ExportTraceServiceRequest) -> Vec<Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter())
        .flat_map(|ss| ss.spans.iter().cloned())
        .collect()
}

/// An attribute's value as text (strings as they are, numbers formatted).
pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    Some(match value.value.as_ref()? {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        any_value::Value::BoolValue(b) => b.to_string(),
        other => format!("{other:?}"),
    })
}
