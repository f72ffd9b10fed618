//! Glue between the SDK's plain-Rust driver types and the ABI: the root module functions and
//! the resource adapter. Every entry point catches panics and turns them into errors.

use super::log_bridge::{self, CurrentGuard};
use super::{Ctx, Error, Plugin, ResourceImpl, ResourceSpec, Result};
use crate::abi::{
    error_kind, ApiRange, DriverError, DriverMod, DriverModRef, HostCallbacksRef, Resource,
    ResourceBox, Resource_TO, API_VERSION,
};
use crate::types::{ApiVersions, CallArgs, Manifest, ResourceContext};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString, RVec};
use serde::Serialize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

static FACTORY: OnceLock<fn() -> Plugin> = OnceLock::new();
static PLUGIN: OnceLock<Plugin> = OnceLock::new();

fn plugin() -> &'static Plugin {
    PLUGIN.get_or_init(|| (FACTORY.get().expect("export_plugin! registers the factory"))())
}

/// Build the root module for `export_plugin!`.
pub fn root_module(factory: fn() -> Plugin) -> DriverModRef {
    let _ = FACTORY.set(factory);
    DriverMod {
        api_version,
        init,
        manifest,
        new_resource,
    }
    .leak_into_prefix()
}

/// Run `f`, converting a panic into a `PANIC` error that names `what`.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error {
            kind: error_kind::PANIC,
            message: format!("{what} panicked: {msg}"),
        })
    })
}

fn to_rresult<T, U>(r: Result<T>, conv: impl FnOnce(T) -> U) -> RResult<U, DriverError> {
    match r {
        Ok(v) => RResult::ROk(conv(v)),
        Err(e) => RResult::RErr(e.into()),
    }
}

extern "C" fn api_version() -> ApiRange {
    ApiRange {
        min: API_VERSION,
        max: API_VERSION,
    }
}

extern "C" fn init(callbacks: HostCallbacksRef, host_api: u32) -> RResult<(), DriverError> {
    to_rresult(
        guarded("init", || {
            if !api_version().contains(host_api) {
                return Err(Error::unsupported(format!(
                    "host api {host_api} is not supported (driver speaks {API_VERSION})"
                )));
            }
            log_bridge::install(callbacks);
            Ok(())
        }),
        |v| v,
    )
}

/// The manifest document of this library.
pub fn manifest_of(p: &Plugin) -> Manifest {
    Manifest {
        plugin: p.name.to_string(),
        version: p.version.to_string(),
        api: ApiVersions {
            min: API_VERSION,
            max: API_VERSION,
        },
        drivers: p.drivers.iter().map(|d| d.manifest.clone()).collect(),
    }
}

extern "C" fn manifest() -> RString {
    let doc = guarded("manifest", || {
        serde_json::to_string(&manifest_of(plugin())).map_err(|e| Error::other(e.to_string()))
    });
    // Serialising these types cannot fail; were it to, the host would refuse "{}" as an
    // invalid manifest naming this library.
    RString::from(doc.unwrap_or_else(|_| "{}".into()))
}

extern "C" fn new_resource(
    driver_id: RStr<'_>,
    rid: RStr<'_>,
    keywords: RStr<'_>,
    context: RStr<'_>,
) -> RResult<ResourceBox, DriverError> {
    let rid_s = rid.as_str().to_string();
    let built = guarded(&format!("{rid_s} creation"), || {
        let spec = ResourceSpec {
            driver_id: driver_id.as_str().to_string(),
            rid: rid_s.clone(),
            keywords: serde_json::from_str(keywords.as_str())
                .map_err(|e| Error::config(format!("invalid keywords document: {e}")))?,
            context: serde_json::from_str(context.as_str())
                .map_err(|e| Error::config(format!("invalid context document: {e}")))?,
        };
        let decl = plugin()
            .drivers
            .iter()
            .find(|d| d.manifest.id == spec.driver_id)
            .ok_or_else(|| {
                Error::not_found(format!("driver {} is not in this library", spec.driver_id))
            })?;
        let inner = (decl.factory)(&spec)?;
        Ok(Adapter::new(spec.rid.clone(), &spec.context, inner))
    });
    to_rresult(built, |a| Resource_TO::from_value(a, TD_Opaque))
}

/// Wraps a driver's resource behind the ABI trait.
struct Adapter {
    rid: String,
    token: u64,
    env: Vec<(String, String)>,
    inner: Box<dyn ResourceImpl>,
}

impl Adapter {
    fn new(rid: String, context: &ResourceContext, inner: Box<dyn ResourceImpl>) -> Self {
        // Every command a driver runs gets these (OpenSVC exports the same names), then the
        // host's environment for the resource (absent from older hosts), then the driver's.
        let mut env = vec![
            ("OPENSVC_SVCNAME".to_string(), context.svcname.clone()),
            ("OPENSVC_SVCPATH".to_string(), context.svcname.clone()),
            ("OPENSVC_RID".to_string(), rid.clone()),
            ("OPENSVC_ID".to_string(), context.svc_id.clone()),
        ];
        env.extend(context.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(inner.env());
        Adapter {
            rid,
            token: context.token,
            env,
            inner,
        }
    }

    /// Run one verb: decode args, mark the thread, catch panics, encode the answer.
    fn invoke<T: Serialize>(
        &self,
        verb: &str,
        args: RStr<'_>,
        f: impl FnOnce(&dyn ResourceImpl, &Ctx) -> Result<T>,
    ) -> RResult<RString, DriverError> {
        let _current = CurrentGuard::set(self.token, &self.rid);
        let result = guarded(&format!("{} {verb}", self.rid), || {
            let call_args: CallArgs = if args.as_str().trim().is_empty() {
                CallArgs::default()
            } else {
                serde_json::from_str(args.as_str())
                    .map_err(|e| Error::config(format!("invalid call arguments: {e}")))?
            };
            let mut env = self.env.clone();
            env.push(("OPENSVC_ACTION".to_string(), call_args.action.clone()));
            let ctx = Ctx::new(&self.rid, self.token, call_args, env);
            let answer = f(self.inner.as_ref(), &ctx)?;
            serde_json::to_string(&answer).map_err(|e| Error::other(e.to_string()))
        });
        to_rresult(result, RString::from)
    }
}

impl Resource for Adapter {
    fn label(&self) -> RString {
        let _current = CurrentGuard::set(self.token, &self.rid);
        let label = guarded("label", || Ok(self.inner.label()));
        RString::from(label.unwrap_or_else(|e| e.message))
    }

    fn links(&self) -> RVec<RString> {
        let links = guarded("links", || Ok(self.inner.links())).unwrap_or_default();
        links.into_iter().map(RString::from).collect()
    }

    fn status(&self, args: RStr<'_>) -> RResult<RString, DriverError> {
        self.invoke("status", args, |r, ctx| r.status(ctx))
    }
    fn start(&self, args: RStr<'_>) -> RResult<RString, DriverError> {
        self.invoke("start", args, |r, ctx| r.start(ctx))
    }
    fn stop(&self, args: RStr<'_>) -> RResult<RString, DriverError> {
        self.invoke("stop", args, |r, ctx| r.stop(ctx))
    }
    fn provision(&self, args: RStr<'_>) -> RResult<RString, DriverError> {
        self.invoke("provision", args, |r, ctx| r.provision(ctx))
    }
    fn unprovision(&self, args: RStr<'_>) -> RResult<RString, DriverError> {
        self.invoke("unprovision", args, |r, ctx| r.unprovision(ctx))
    }

    fn call(&self, verb: RStr<'_>, args: RStr<'_>) -> RResult<RString, DriverError> {
        let verb = verb.as_str();
        // `describe` is answered by the SDK: static facts the host needs (the planner's sort
        // key, the environment of the host's triggers).
        if verb == "describe" {
            return self.invoke(verb, args, |r, _| {
                let env: serde_json::Map<String, serde_json::Value> =
                    r.env().into_iter().map(|(k, v)| (k, v.into())).collect();
                Ok(serde_json::json!({ "sort_key": r.sort_key(), "env": env }))
            });
        }
        self.invoke(verb, args, |r, ctx| r.call(verb, ctx.payload(), ctx))
    }
}
