//! mdlc-aws (to be written)
