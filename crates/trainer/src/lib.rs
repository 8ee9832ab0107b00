//! mdlc-trainer (to be written)
