//! initialize (to be written)
