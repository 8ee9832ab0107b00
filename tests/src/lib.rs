//! mdlc-tests (to be written)
