//! mdlc-jsonata (to be written)
