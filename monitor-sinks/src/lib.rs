//! monitor-sinks (in progress)
