//! is-retraining-needed (to be written)
