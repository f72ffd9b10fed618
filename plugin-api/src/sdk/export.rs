//! Glue between the SDK's plain-Rust driver types and the ABI: the root module functions and
//! the resource adapter. Every entry point catches panics and turns them into errors.

use super::ctx::CommandEnv;
use super::log_bridge::{self, CurrentGuard};
use super::{Ctx, Error, ErrorKind, HostSide, Plugin, ResourceImpl, ResourceSpec, Result};
use crate::abi::{
    ApiRange, DriverError, DriverMod, DriverModRef, HostCallbacksRef, Resource, ResourceBox,
    Resource_TO, API_VERSION,
};
use crate::types::{features, service_env, CallArgs, KeywordSpec, Manifest, ResourceContext};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString, RVec};
use serde::Serialize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

static FACTORY: OnceLock<fn() -> Plugin> = OnceLock::new();
static PLUGIN: OnceLock<Plugin> = OnceLock::new();

fn plugin() -> &'static Plugin {
    PLUGIN.get_or_init(|| (FACTORY.get().expect("export_plugin! registers the factory"))())
}

/// Build the root module for `export_plugin!` (reached through `__private`); `module_path` is
/// where the macro expands (the driver crate: only its own `tracing` events reach the host
/// log).
pub fn root_module(factory: fn() -> Plugin, module_path: &'static str) -> DriverModRef {
    let _ = FACTORY.set(factory);
    log_bridge::set_own_crate(module_path);
    DriverMod {
        api_version,
        init,
        manifest,
        new_resource,
    }
    .leak_into_prefix()
}

/// Run `f`, converting a panic into a `PANIC` error that names `what`.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::new(
            ErrorKind::Panic,
            format!("{what} panicked: {msg}"),
        ))
    })
}

fn to_rresult<T, U>(r: Result<T>, conv: impl FnOnce(T) -> U) -> RResult<U, DriverError> {
    match r {
        Ok(v) => RResult::ROk(conv(v)),
        Err(e) => RResult::RErr(e.into()),
    }
}

extern "C" fn api_version() -> ApiRange {
    ApiRange::single(API_VERSION)
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
pub(crate) fn manifest_of(p: &Plugin) -> Manifest {
    let mut m = Manifest::new(p.name(), p.version(), ApiRange::single(API_VERSION));
    m.drivers = p.drivers().iter().map(|d| d.manifest().clone()).collect();
    m.features = features::ALL.iter().map(|f| f.to_string()).collect();
    m
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
    let built = guarded("resource creation", || {
        let keywords = serde_json::from_str(keywords.as_str())
            .map_err(|e| Error::config(format!("invalid keywords document: {e}")))?;
        let (doc, spec) = lend_spec(context.as_str(), driver_id.as_str(), rid.as_str(), keywords)?;
        // One host handle for every resource, not an allocation each.
        static HOST: OnceLock<Arc<dyn HostSide>> = OnceLock::new();
        let host = HOST.get_or_init(|| Arc::new(log_bridge::AbiHost)).clone();
        let created = create(plugin(), &spec, host);
        give_back_spec(doc, spec);
        created
    });
    to_rresult(built, |a| Resource_TO::from_value(a, TD_Opaque))
}

/// The last resource's spec, with the context document its context was read from.
static LAST_SPEC: Mutex<Option<(String, Box<ResourceSpec>)>> = Mutex::new(None);

/// The spec of resource `rid` with these keywords and the context `doc` describes, with the
/// document. The resources of a service mostly share one context document, word for word:
/// the last spec is taken again, its context parsed once and its driver id and rid rewritten
/// in place (a copy of the context per resource, and its drop, cost more than the rest of
/// the SDK's part of a creation; moving it in and out of each spec was a tenth of it).
fn lend_spec(
    doc: &str,
    driver_id: &str,
    rid: &str,
    keywords: serde_json::Map<String, serde_json::Value>,
) -> Result<(String, Box<ResourceSpec>)> {
    let last = LAST_SPEC.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((doc, mut spec)) = last.filter(|(d, _)| d == doc) {
        // Every field named: one added to the spec must be set here too, or it would be the
        // last resource's.
        let ResourceSpec {
            driver_id: last_driver_id,
            rid: last_rid,
            keywords: last_keywords,
            context: _,
        } = &mut *spec;
        for (text, new) in [(last_driver_id, driver_id), (last_rid, rid)] {
            text.clear();
            text.push_str(new);
        }
        *last_keywords = keywords;
        return Ok((doc, spec));
    }
    let context: ResourceContext = serde_json::from_str(doc)
        .map_err(|e| Error::config(format!("invalid context document: {e}")))?;
    let spec = ResourceSpec::new(driver_id, rid, keywords, context);
    Ok((doc.to_string(), Box::new(spec)))
}

/// Keep a spec [`lend_spec`] gave for the next resource. The driver saw it only through
/// `&ResourceSpec`: its context is still what `doc` describes.
fn give_back_spec(doc: String, spec: Box<ResourceSpec>) {
    *LAST_SPEC.lock().unwrap_or_else(|e| e.into_inner()) = Some((doc, spec));
}

/// The rids named by the keywords declared as links (the host computes the same from the
/// config; a host that predates `KeywordSpec::link` still gets them from `links()`).
fn keyword_links(keywords: &[KeywordSpec], spec: &ResourceSpec) -> Vec<String> {
    keywords
        .iter()
        .filter(|k| k.link.is_some())
        .filter_map(|k| spec.str(&k.name).filter(|v| !v.is_empty()))
        .map(String::from)
        .collect()
}

/// Build a resource of `plugin` behind the ABI trait, its log lines and queries going to `host`.
pub(crate) fn create(
    plugin: &Plugin,
    spec: &ResourceSpec,
    host: Arc<dyn HostSide>,
) -> Result<Adapter> {
    let decl = plugin.find(&spec.driver_id).ok_or_else(|| {
        Error::not_found(format!("driver {} is not in this library", spec.driver_id))
    })?;
    // The factory and `env()` are the driver's code: a panic in them is this resource's
    // error, here as behind the ABI (the `testing` module calls this directly).
    guarded("resource creation", || {
        let inner = decl.create(spec)?;
        let mut adapter = Adapter::new(spec.rid.clone(), &spec.context, inner, host);
        adapter.keyword_links = keyword_links(&decl.manifest().keywords, spec);
        Ok(adapter)
    })
}

/// The environment every resource of the context's service shares: [`service_env`] from a
/// host listing [`features::ENV`], else the variables a 1.0 SDK set. Built once per service
/// (by token) and shared: a service may hold thousands of resources.
fn shared_env(context: &ResourceContext) -> Arc<[(String, String)]> {
    type Key = (u64, String, String, String);
    type Shared = Arc<[(String, String)]>;
    static LAST: Mutex<Option<(Key, Shared)>> = Mutex::new(None);
    let full = context.host_features.iter().any(|f| f == features::ENV);
    let scripts_dir = if full { &context.scripts_dir } else { "" };
    let key = |(token, name, id, dir): &Key| {
        *token == context.token
            && *name == context.svcname
            && *id == context.svc_id
            && *dir == scripts_dir
    };
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, env)) = last.as_ref().filter(|(k, _)| key(k)) {
        return env.clone();
    }
    let env: Shared = if full {
        service_env(&context.svcname, &context.svc_id, scripts_dir).into()
    } else {
        let (name, id) = (&context.svcname, &context.svc_id);
        [
            ("OPENSVC_SVCNAME", name),
            ("OPENSVC_SVCPATH", name),
            ("OPENSVC_ID", id),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    };
    let k = (
        context.token,
        context.svcname.clone(),
        context.svc_id.clone(),
        scripts_dir.to_string(),
    );
    *last = Some((k, env.clone()));
    env
}

/// Wraps a driver's resource behind the ABI trait.
pub(crate) struct Adapter {
    /// Shared with the thread's current-resource mark ([`CurrentGuard`]) at each call.
    rid: Arc<str>,
    token: u64,
    /// The environment every resource of the service shares (see [`shared_env`]).
    service_env: Arc<[(String, String)]>,
    /// This resource's own variables (the host's, then the driver's), added after the
    /// service's and `OPENSVC_RID`.
    env: Vec<(String, String)>,
    keyword_links: Vec<String>,
    pub(crate) inner: Box<dyn ResourceImpl>,
    host: Arc<dyn HostSide>,
}

impl Adapter {
    fn new(
        rid: String,
        context: &ResourceContext,
        inner: Box<dyn ResourceImpl>,
        host: Arc<dyn HostSide>,
    ) -> Self {
        // `OPENSVC_RID` is added per call (see `invoke`): most resources of a large service
        // have no other variable of their own, and then nothing is allocated here.
        let mut env: Vec<(String, String)> = (context.env.iter())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend(inner.env());
        Adapter {
            rid: rid.into(),
            token: context.token,
            service_env: shared_env(context),
            env,
            keyword_links: Vec::new(),
            inner,
            host,
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
        let result = guarded(verb, || {
            let call_args: CallArgs = if args.as_str().trim().is_empty() {
                CallArgs::default()
            } else {
                serde_json::from_str(args.as_str())
                    .map_err(|e| Error::config(format!("invalid call arguments: {e}")))?
            };
            // The service's environment (shared), then the rid, the host's further variables,
            // the driver's own and the action.
            let mut env = Vec::with_capacity(self.env.len() + 2);
            env.push(("OPENSVC_RID".to_string(), self.rid.to_string()));
            env.extend(self.env.iter().cloned());
            env.push(("OPENSVC_ACTION".to_string(), call_args.action.clone()));
            let env = CommandEnv {
                shared: self.service_env.clone(),
                own: env,
            };
            let ctx = Ctx::new(&self.rid, self.token, call_args, env, self.host.clone());
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
        RString::from(label.unwrap_or_else(|e| e.message().to_string()))
    }

    fn links(&self) -> RVec<RString> {
        let _current = CurrentGuard::set(self.token, &self.rid);
        let mut links = self.keyword_links.clone();
        for l in guarded("links", || Ok(self.inner.links())).unwrap_or_default() {
            if !links.contains(&l) {
                links.push(l);
            }
        }
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
        // key, the environment of the host's triggers). It is asked of every resource a
        // service builds, and needs no call context: none is made.
        if verb == "describe" {
            // What is unset is left out: most resources have neither, and the host reads
            // the answer of each (`{}` is read at once).
            #[derive(Serialize)]
            struct Describe {
                #[serde(skip_serializing_if = "Option::is_none")]
                sort_key: Option<String>,
                #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
                env: std::collections::BTreeMap<String, String>,
            }
            let answer = guarded(verb, || {
                let r = self.inner.as_ref();
                let doc = Describe {
                    sort_key: r.sort_key(),
                    env: r.env().into_iter().collect(),
                };
                serde_json::to_string(&doc).map_err(|e| Error::other(e.to_string()))
            });
            return to_rresult(answer, RString::from);
        }
        if verb == "devs" {
            return self.invoke(verb, args, |r, ctx| r.devs(ctx));
        }
        self.invoke(verb, args, |r, ctx| r.call(verb, ctx.payload(), ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::Kw;
    use serde_json::json;

    #[test]
    fn the_service_environment_is_derived_and_shared() {
        let mut ctx = ResourceContext::new("web", "/var/web");
        ctx.svc_id = "5f0c".into();
        ctx.scripts_dir = "/etc/opensvc/web.d".into();
        ctx.token = u64::MAX - 1;
        // From a 1.0 host (no `env` feature): the variables a 1.0 SDK set.
        let names =
            |env: &[(String, String)]| env.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        let old = shared_env(&ctx);
        assert_eq!(
            names(&old),
            ["OPENSVC_SVCNAME", "OPENSVC_SVCPATH", "OPENSVC_ID"]
        );
        ctx.host_features = vec![features::ENV.to_string()];
        let env = shared_env(&ctx);
        assert_eq!(*env, *service_env("web", "5f0c", "/etc/opensvc/web.d"));
        assert!(
            Arc::ptr_eq(&env, &shared_env(&ctx)),
            "built once per service"
        );
        ctx.svcname = "db".into();
        assert!(env.contains(&("OPENSVC_SVCNAME".into(), "web".into())));
        assert!(shared_env(&ctx).contains(&("OPENSVC_SVCNAME".into(), "db".into())));
    }

    #[test]
    fn a_lent_spec_is_the_new_resources_alone() {
        let doc = serde_json::to_string(&ResourceContext::new("lend-test", "/var/l")).unwrap();
        let kws = |v: serde_json::Value| v.as_object().unwrap().clone();
        let (d, first) = lend_spec(&doc, "app.forking", "app#10", kws(json!({"a": 1}))).unwrap();
        give_back_spec(d, first);
        let (d, next) = lend_spec(&doc, "app.simple", "app#2", kws(json!({"b": 2}))).unwrap();
        assert_eq!(
            (next.driver_id.as_str(), next.rid.as_str()),
            ("app.simple", "app#2")
        );
        assert_eq!(next.keywords, kws(json!({"b": 2})));
        assert_eq!(next.context.svcname, "lend-test");
        give_back_spec(d, next);
        // Another context document: read anew.
        let other = serde_json::to_string(&ResourceContext::new("lend-other", "/v")).unwrap();
        let (_, spec) = lend_spec(&other, "fs", "fs#1", kws(json!({}))).unwrap();
        assert_eq!(
            (spec.context.svcname.as_str(), spec.rid.as_str()),
            ("lend-other", "fs#1")
        );
        assert!(spec.keywords.is_empty());
    }

    #[test]
    fn keywords_declared_as_links_name_the_links() {
        let kws = vec![
            Kw::string("netns").link("container").spec().clone(),
            Kw::string("ipdev").spec().clone(),
        ];
        let spec = |kw: serde_json::Value| {
            let keywords = kw.as_object().unwrap().clone();
            ResourceSpec::new("ip.netns", "ip#1", keywords, ResourceContext::default())
        };
        let both = spec(serde_json::json!({"netns": "container#1", "ipdev": "br0"}));
        assert_eq!(keyword_links(&kws, &both), ["container#1"]);
        let unset = spec(serde_json::json!({"netns": "", "ipdev": "br0"}));
        assert!(keyword_links(&kws, &unset).is_empty());
    }
}
