#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod abi;
pub mod sdk;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;

/// Re-exported so that drivers use the same `serde_json` as the SDK's documents.
pub use serde_json;
/// Re-exported: a driver's `tracing` events reach the host log under the current rid.
pub use tracing;

pub use abi::{ABI_VERSION, API_VERSION};

/// This crate's version; its major is [`ABI_VERSION`].
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use sdk::{
    Cmd, Context, Ctx, DriverDecl, Error, ErrorKind, Factory, Kw, Output, Plugin, ResourceImpl,
    ResourceSpec, Result,
};
pub use types::{ActionReport, Devs, KwType, Level, LogEntry, Status, StatusReport};

/// Not part of the API: what [`export_plugin!`] expands to. May change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::sdk::export::root_module;
    pub use abi_stable;
}

/// Export a driver library. `$plugin` is a `fn() -> Plugin` describing its drivers; the
/// library is a `cdylib` built with `panic = "unwind"`.
///
/// ```
/// use svcmgr_plugin_api::{export_plugin, Plugin};
///
/// fn plugin() -> Plugin {
///     Plugin::new("empty", "0.1.0")
/// }
/// export_plugin!(plugin);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:path) => {
        // What abi_stable's `#[export_root_module]` emits, spelled with `$crate` paths so
        // that driver crates need no direct abi_stable dependency. The symbol name is pinned
        // by a test against `abi_stable::library::ROOT_MODULE_LOADER_NAME`.
        #[no_mangle]
        pub static _1as_0lib_1header_0root_bmodule_bloader:
            $crate::__private::abi_stable::library::LibHeader = {
            extern "C" fn erased_root_module(
            ) -> $crate::__private::abi_stable::library::RootModuleResult {
                $crate::__private::abi_stable::library::__call_root_module_loader(|| {
                    $crate::__private::root_module($plugin, module_path!())
                })
            }
            // SAFETY: the constructor returns the module type the header is declared with.
            unsafe {
                $crate::__private::abi_stable::library::LibHeader::from_constructor::<
                    $crate::abi::DriverModRef,
                >(
                    erased_root_module,
                    $crate::__private::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn exported_symbol_is_the_one_abi_stable_looks_up() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }

    #[test]
    fn the_abi_version_is_the_crate_major() {
        // abi_stable compares the crate's major at load (VERSION_STRINGS and every type's
        // package version): the two numbers cannot drift apart.
        let major: u32 = crate::VERSION.split('.').next().unwrap().parse().unwrap();
        assert_eq!(crate::ABI_VERSION, major);
    }
}
