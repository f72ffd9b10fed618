//! `app.abi10`: a driver written against the 1.0.0 ABI alone (the frozen copy), speaking the
//! JSON documents of 1.0 by hand: statuses and log levels as plain strings. A resource is up
//! while its `path` file exists; `word` makes status answer that word instead of up (1.0 let a
//! driver send any string).

use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString, RVec};
use abi_stable::{export_root_module, sabi_extern_fn};
use serde_json::{json, Value};
use std::sync::OnceLock;
use svcmgr_plugin_api::abi::{
    ApiRange, DriverError, DriverMod, DriverModRef, HostCallbacksRef, Resource, ResourceBox,
    Resource_TO,
};

static HOST: OnceLock<HostCallbacksRef> = OnceLock::new();

#[export_root_module]
fn root() -> DriverModRef {
    DriverMod {
        api_version,
        init,
        manifest,
        new_resource,
    }
    .leak_into_prefix()
}

#[sabi_extern_fn]
fn api_version() -> ApiRange {
    ApiRange { min: 1, max: 1 }
}

#[sabi_extern_fn]
fn init(callbacks: HostCallbacksRef, _host_api: u32) -> RResult<(), DriverError> {
    let _ = HOST.set(callbacks);
    RResult::ROk(())
}

#[sabi_extern_fn]
fn manifest() -> RString {
    json!({
        "plugin": "abi10",
        "version": "1.0.0",
        "api": {"min": 1, "max": 1},
        "drivers": [{
            "id": "app.abi10",
            "version": "1.0.0",
            "help": "Up while a file exists (built against the 1.0.0 ABI).",
            "keywords": [
                {"name": "path", "type": "string", "required": true},
                {"name": "word", "type": "string"}
            ]
        }]
    })
    .to_string()
    .into()
}

#[sabi_extern_fn]
fn new_resource(
    _driver_id: RStr<'_>,
    rid: RStr<'_>,
    keywords: RStr<'_>,
    context: RStr<'_>,
) -> RResult<ResourceBox, DriverError> {
    let kw: Value = serde_json::from_str(keywords.as_str()).unwrap_or_default();
    let ctx: Value = serde_json::from_str(context.as_str()).unwrap_or_default();
    let Some(path) = kw["path"].as_str() else {
        return RResult::RErr(DriverError::new(1, "path: a value is required"));
    };
    let flag = Flag {
        rid: rid.as_str().to_string(),
        token: ctx["token"].as_u64().unwrap_or(0),
        path: path.to_string(),
        word: kw["word"].as_str().map(String::from),
    };
    RResult::ROk(Resource_TO::from_value(flag, TD_Opaque))
}

struct Flag {
    rid: String,
    token: u64,
    path: String,
    word: Option<String>,
}

impl Flag {
    fn log(&self, msg: &str) {
        if let Some(cb) = HOST.get() {
            (cb.log())(
                self.token,
                RStr::from(self.rid.as_str()),
                1,
                RStr::from(msg),
            );
        }
    }

    fn act(&self, up: bool) -> RResult<RString, DriverError> {
        let exists = std::path::Path::new(&self.path).exists();
        if exists != up {
            let done = if up {
                std::fs::write(&self.path, "")
            } else {
                std::fs::remove_file(&self.path)
            };
            if let Err(e) = done {
                return RResult::RErr(DriverError::new(0, format!("{}: {e}", self.path)));
            }
            self.log(&format!(
                "abi10 {} {}",
                if up { "touched" } else { "removed" },
                self.path
            ));
        }
        RResult::ROk(json!({ "changed": exists != up }).to_string().into())
    }
}

impl Resource for Flag {
    fn label(&self) -> RString {
        format!("abi10 {}", self.path).into()
    }
    fn links(&self) -> RVec<RString> {
        RVec::new()
    }
    fn status(&self, _args: RStr<'_>) -> RResult<RString, DriverError> {
        let up = std::path::Path::new(&self.path).exists();
        let status = match (&self.word, up) {
            (Some(word), _) => word.as_str(),
            (None, true) => "up",
            (None, false) => "down",
        };
        let doc = json!({
            "status": status,
            "log": [{"level": "info", "message": "built against plugin-api 1.0.0"}],
        });
        RResult::ROk(doc.to_string().into())
    }
    fn start(&self, _args: RStr<'_>) -> RResult<RString, DriverError> {
        self.act(true)
    }
    fn stop(&self, _args: RStr<'_>) -> RResult<RString, DriverError> {
        self.act(false)
    }
    fn provision(&self, args: RStr<'_>) -> RResult<RString, DriverError> {
        self.start(args)
    }
    fn unprovision(&self, args: RStr<'_>) -> RResult<RString, DriverError> {
        self.stop(args)
    }
    fn call(&self, verb: RStr<'_>, _args: RStr<'_>) -> RResult<RString, DriverError> {
        match verb.as_str() {
            "describe" => RResult::ROk(json!({ "sort_key": null }).to_string().into()),
            other => RResult::RErr(DriverError::new(
                2,
                format!("verb '{other}' is not supported"),
            )),
        }
    }
}
