//! Procedural macros of the io runtime. Re-exported by `io`; see its documentation.
