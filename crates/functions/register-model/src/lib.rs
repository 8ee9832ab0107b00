//! register-model (to be written)
