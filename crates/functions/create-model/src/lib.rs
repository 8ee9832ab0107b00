//! create-model (to be written)
