//! The ABI module of svcmgr-plugin-api 1.0.0, byte for byte (`src/abi.rs`); only the crate
//! root around it is new. Never edit `abi.rs`: it is the reference the host must keep loading.
#![allow(rustdoc::broken_intra_doc_links)] // abi.rs links to 1.0's `types` module

pub mod abi;
