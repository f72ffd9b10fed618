//! The frozen, FFI-safe surface shared by the host and every driver `.so`.
#![allow(non_local_definitions)] // emitted by the sabi_trait macro expansion
//!
//! Rules (see README.md): fields and trait methods are only ever appended after the
//! `last_prefix_field` markers, nothing is renamed or removed, and everything new travels
//! as JSON inside the existing `RStr`/`RString` arguments. Only `abi_stable` types cross.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RStr, RString, RVec},
    StableAbi,
};

/// The api version this crate speaks. A driver declares the range it supports.
pub const API_VERSION: u32 = 1;

/// Inclusive range of api versions a driver implements.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    pub min: u32,
    pub max: u32,
}

impl ApiRange {
    pub fn contains(&self, v: u32) -> bool {
        self.min <= v && v <= self.max
    }
}

/// Error kinds. A plain `u32` rather than an enum so that new kinds never break the ABI.
pub mod error_kind {
    pub const OTHER: u32 = 0;
    pub const CONFIG: u32 = 1;
    pub const UNSUPPORTED: u32 = 2;
    pub const PANIC: u32 = 3;
    pub const TIMEOUT: u32 = 4;
    pub const NOT_FOUND: u32 = 5;
    /// A flag ORed into a kind: the failing call had already changed the resource (a
    /// container started, then failed its up check), so the host rolls it back like one
    /// that started.
    pub const CHANGED: u32 = 0x100;

    /// The kind without its flags.
    pub fn base(kind: u32) -> u32 {
        kind & 0xff
    }
}

/// The error every fallible ABI call returns.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct DriverError {
    pub kind: u32,
    pub message: RString,
}

impl DriverError {
    pub fn new(kind: u32, message: impl Into<String>) -> Self {
        DriverError {
            kind,
            message: RString::from(message.into()),
        }
    }
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message.as_str())
    }
}

impl std::error::Error for DriverError {}

/// Log levels passed to the host's `log` callback (plain `u8` for the same reason as kinds).
pub mod level {
    pub const DEBUG: u8 = 0;
    pub const INFO: u8 = 1;
    pub const WARN: u8 = 2;
    pub const ERROR: u8 = 3;
}

/// Services the host offers to drivers. A prefix type, so later hosts may append callbacks.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = HostCallbacksRef)))]
#[sabi(missing_field(option))]
pub struct HostCallbacks {
    /// Log `msg` at `level` under the resource `rid` of the service identified by `token`
    /// (an empty rid logs at service level).
    pub log: extern "C" fn(token: u64, rid: RStr<'_>, level: u8, msg: RStr<'_>),
    /// Ask the resource `rid` of the same service something: routed by the host to that
    /// resource's `call(verb, args)`.
    #[sabi(last_prefix_field)]
    pub query: extern "C" fn(
        token: u64,
        rid: RStr<'_>,
        verb: RStr<'_>,
        args: RStr<'_>,
    ) -> RResult<RString, DriverError>,
}

/// One instantiated resource. Every verb takes and returns JSON so the vtable stays frozen.
#[sabi_trait]
pub trait Resource: Send + Sync {
    /// Human label shown by `print status`.
    fn label(&self) -> RString;
    /// Rids this resource is linked to (it runs right after them on start, right before them
    /// on stop, and expansion pulls them in).
    fn links(&self) -> RVec<RString>;
    /// `args`: JSON [`crate::types::CallArgs`]; returns JSON [`crate::types::StatusReport`].
    fn status(&self, args: RStr<'_>) -> RResult<RString, DriverError>;
    /// Returns JSON [`crate::types::ActionReport`].
    fn start(&self, args: RStr<'_>) -> RResult<RString, DriverError>;
    fn stop(&self, args: RStr<'_>) -> RResult<RString, DriverError>;
    fn provision(&self, args: RStr<'_>) -> RResult<RString, DriverError>;
    fn unprovision(&self, args: RStr<'_>) -> RResult<RString, DriverError>;
    /// Anything newer than the verbs above, and answers to other resources' queries.
    #[sabi(last_prefix_field)]
    fn call(&self, verb: RStr<'_>, args: RStr<'_>) -> RResult<RString, DriverError>;
}

/// The owned trait object a driver hands to the host.
pub type ResourceBox = Resource_TO<'static, RBox<()>>;

/// The root module every driver library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = DriverModRef)))]
#[sabi(missing_field(panic))]
pub struct DriverMod {
    /// The api versions this library implements.
    pub api_version: extern "C" fn() -> ApiRange,
    /// Called once before anything else, with the api version the host speaks.
    pub init: extern "C" fn(callbacks: HostCallbacksRef, host_api: u32) -> RResult<(), DriverError>,
    /// JSON [`crate::types::Manifest`].
    pub manifest: extern "C" fn() -> RString,
    /// `keywords` and `context` are JSON ([`crate::types::ResourceSpec`] fields).
    #[sabi(last_prefix_field)]
    pub new_resource: extern "C" fn(
        driver_id: RStr<'_>,
        rid: RStr<'_>,
        keywords: RStr<'_>,
        context: RStr<'_>,
    ) -> RResult<ResourceBox, DriverError>,
}

impl RootModule for DriverModRef {
    declare_root_module_statics! {DriverModRef}
    const BASE_NAME: &'static str = "svcmgr_driver";
    const NAME: &'static str = "svcmgr_driver";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
