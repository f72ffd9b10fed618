#![doc = include_str!("../README.md")]
//! `svcmgr-plugin-api`: the stable ABI between the `svcmgr` host and its resource drivers,
//! and a small SDK so a driver author writes plain Rust (see README.md).

pub mod abi;
pub mod sdk;
pub mod types;

/// Re-exported so that the export macro and driver crates need no direct dependency.
pub use abi_stable;
pub use serde_json;
pub use tracing;

pub use sdk::{Ctx, DriverDecl, Error, Kw, Output, Plugin, ResourceImpl, ResourceSpec, Result};
pub use types::{ActionReport, Devs, KwType, StatusReport};

/// Export a driver library. `$plugin` is a `fn() -> Plugin` describing its drivers.
///
/// ```ignore
/// svcmgr_plugin_api::export_plugin!(plugin);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:path) => {
        // What abi_stable's `#[export_root_module]` emits, spelled with `$crate` paths so
        // that driver crates need no direct abi_stable dependency. The symbol name is pinned
        // by a test against `abi_stable::library::ROOT_MODULE_LOADER_NAME`.
        #[no_mangle]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::abi_stable::library::LibHeader = {
            extern "C" fn erased_root_module() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader(|| {
                    $crate::sdk::export::root_module($plugin, module_path!())
                })
            }
            // SAFETY: the constructor returns the module type the header is declared with.
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<$crate::abi::DriverModRef>(
                    erased_root_module,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
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
}
