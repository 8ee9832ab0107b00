//! train (to be written)
