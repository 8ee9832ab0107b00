//! monitor-performance (to be written)
