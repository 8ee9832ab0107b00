//! mdlc-emulator (to be written)
