//! find-model (to be written)
