//! mdlc-local (to be written)
