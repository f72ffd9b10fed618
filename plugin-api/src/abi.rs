//! The frozen, FFI-safe surface shared by the host and every driver `.so`.
//!
//! Frozen for every 1.x release (see README.md, "Evolution"): no field, method or type here
//! changes, not even by appending after a `last_prefix_field` marker, because abi_stable makes
//! a host refuse a library whose root module has fewer fields than its own. Everything new
//! travels as JSON inside the existing `RStr`/`RString` arguments, as a `call` verb, or as a
//! feature both sides list. Only `abi_stable` types cross.
#![allow(non_local_definitions)] // emitted by the sabi_trait macro expansion

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RStr, RString, RVec},
    StableAbi,
};

/// The api version this crate speaks: the behaviour of the JSON documents and verbs, negotiated
/// at load (a library declares the range it implements, the host refuses one whose range does
/// not contain its own). Not the same thing as [`ABI_VERSION`].
pub const API_VERSION: u32 = 1;

/// The binary interface generation: the layout of the types in this module. It is the major of
/// this crate's version, because abi_stable compares that major at load; a host refuses a
/// library built against another one.
pub const ABI_VERSION: u32 = 1;

/// Inclusive range of api versions a driver library implements. Also the `api` field of the
/// manifest (`{"min": 1, "max": 1}`).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiRange {
    /// The oldest api version implemented.
    pub min: u32,
    /// The newest api version implemented.
    pub max: u32,
}

impl ApiRange {
    /// The range `min..=max`.
    pub const fn new(min: u32, max: u32) -> Self {
        ApiRange { min, max }
    }
    /// The range holding only `v`.
    pub const fn single(v: u32) -> Self {
        ApiRange { min: v, max: v }
    }
    /// Whether `v` is in the range.
    pub const fn contains(&self, v: u32) -> bool {
        self.min <= v && v <= self.max
    }
}

impl std::fmt::Display for ApiRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// Error kinds as they cross the ABI. A plain `u32` rather than an enum so that new kinds never
/// break the ABI; drivers use [`crate::ErrorKind`].
pub mod error_kind {
    /// Any other failure.
    pub const OTHER: u32 = 0;
    /// Bad configuration: a keyword value the driver cannot use.
    pub const CONFIG: u32 = 1;
    /// The verb or feature is not implemented by this driver.
    pub const UNSUPPORTED: u32 = 2;
    /// The driver panicked (set by the SDK).
    pub const PANIC: u32 = 3;
    /// The call's deadline passed.
    pub const TIMEOUT: u32 = 4;
    /// What the call addresses does not exist.
    pub const NOT_FOUND: u32 = 5;
    /// A flag ORed into a kind: the failing call had already changed the resource (a
    /// container started, then failed its up check), so the host rolls it back like one
    /// that started.
    pub const CHANGED: u32 = 0x100;

    /// The kind without its flags.
    pub const fn base(kind: u32) -> u32 {
        kind & 0xff
    }
}

/// The error every fallible ABI call returns.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct DriverError {
    /// One of [`error_kind`], possibly ORed with [`error_kind::CHANGED`].
    pub kind: u32,
    /// What failed, without the rid (the host adds it).
    pub message: RString,
}

impl DriverError {
    /// An error of `kind` saying `message`.
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

/// Log levels as the host's `log` callback receives them (plain `u8` for the same reason as
/// kinds); drivers use [`crate::Level`], whose [`crate::Level::wire`] gives these.
pub mod level {
    use crate::types::Level;
    /// Shown only with `--debug`.
    pub const DEBUG: u8 = Level::Debug.wire();
    /// A plain log line.
    pub const INFO: u8 = Level::Info.wire();
    /// A warning.
    pub const WARN: u8 = Level::Warn.wire();
    /// An error.
    pub const ERROR: u8 = Level::Error.wire();
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
    /// Bring the resource up. Returns JSON [`crate::types::ActionReport`].
    fn start(&self, args: RStr<'_>) -> RResult<RString, DriverError>;
    /// Bring the resource down. Returns JSON [`crate::types::ActionReport`].
    fn stop(&self, args: RStr<'_>) -> RResult<RString, DriverError>;
    /// Create what the resource needs, then start it. Returns JSON
    /// [`crate::types::ActionReport`].
    fn provision(&self, args: RStr<'_>) -> RResult<RString, DriverError>;
    /// Stop the resource, then remove what provision created. Returns JSON
    /// [`crate::types::ActionReport`].
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
    /// `keywords` and `context` are JSON (the fields of a [`crate::ResourceSpec`]).
    #[sabi(last_prefix_field)]
    pub new_resource: extern "C" fn(
        driver_id: RStr<'_>,
        rid: RStr<'_>,
        keywords: RStr<'_>,
        context: RStr<'_>,
    ) -> RResult<ResourceBox, DriverError>,
}

/// `VERSION_STRINGS` is this crate's version: abi_stable refuses a library whose major differs
/// (and the layout check compares the same major of every type), which is why the crate's major
/// is [`ABI_VERSION`].
impl RootModule for DriverModRef {
    declare_root_module_statics! {DriverModRef}
    const BASE_NAME: &'static str = "svcmgr_driver";
    const NAME: &'static str = "svcmgr_driver";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
