//! monitor facade (in progress)
