//! mdlc-asl (to be written)
