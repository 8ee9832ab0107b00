//! mdlc-tracking (to be written)
