//! mdlc-cli (to be written)
