//! The function the overhead benches wrap, shared so that every bench times
//! the same few nanoseconds of work: a multiply-rotate mix, `Err` on odd
//! input. Included with `#[macro_use] mod work;`.

use std::error::Error;
use std::fmt;

use monitor::monitored;

/// The error every variant returns on odd inputs. `Display` without
/// allocation, like most hand-written error types: about 40 bytes, and a
/// `source()` (a monitored function records the chain too). `Clone` and
/// plain data, like many hand-written error enums, so a monitored function
/// hands a clone to the collector, which formats it (`overhead.rs` also
/// times a twin that is not `Clone`, formatted on the caller).
#[derive(Debug, Clone)]
pub struct WorkError {
    pub(crate) code: u64,
}

impl fmt::Display for WorkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "work failed with code {}", self.code)
    }
}

impl Error for WorkError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&CAUSE)
    }
}

/// The `source()` of every [`WorkError`].
#[derive(Debug)]
pub struct WorkCause;

impl fmt::Display for WorkCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by peer")
    }
}

impl Error for WorkCause {}

static CAUSE: WorkCause = WorkCause;

/// The body every variant runs (a macro, so each variant's attribute wraps
/// the work itself, not a call to it).
macro_rules! work_body {
    ($x:expr) => {{
        let x: u64 = $x;
        let mixed = (x ^ (x >> 29))
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .rotate_left(23);
        if x & 1 == 0 {
            Ok(mixed)
        } else {
            Err($crate::work::WorkError { code: mixed })
        }
    }};
}

/// The work with nothing around it.
#[inline(never)]
pub fn bare(x: u64) -> Result<u64, WorkError> {
    work_body!(x)
}

/// The work under `#[monitored]`.
#[monitored]
#[inline(never)]
pub fn monitored_work(x: u64) -> Result<u64, WorkError> {
    work_body!(x)
}
