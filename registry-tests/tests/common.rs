//! Shared by the registry tests: run the engine against a URL and collect what it recorded.

#![allow(dead_code)]

use oci_certify_core::event::Collector;
use oci_certify_core::Spec;
use oci_certify_registry::client::{Auth, ClientOptions};
use oci_certify_registry::engine::{certify, Options, RunEnd};

pub fn run(url: &str, auth: Auth) -> (RunEnd, Collector) {
    let mut client = ClientOptions::new(url::Url::parse(url).unwrap());
    client.auth = auth;
    let opts = Options::new(client);
    let (end, c) = oci_certify_core::testing::collect(Spec::Distribution, url, |runner| {
        certify(runner, &opts)
    })
    .unwrap();
    (end.expect("the run completes"), c)
}

pub fn dump(c: &Collector) -> String {
    let mut out = String::new();
    for r in c.results() {
        if r.outcome.is_fail()
            || matches!(r.outcome, oci_certify_core::check::Outcome::Error { .. })
        {
            out.push_str(&format!(
                "{} {}: {:?}\n",
                r.outcome.name(),
                r.point.describe(),
                r.outcome.message()
            ));
            if let oci_certify_core::check::Outcome::Fail { failures } = &r.outcome {
                let f = &failures[0];
                out.push_str(&format!(
                    "    expected {:?}\n    actual {:?}\n",
                    f.expected, f.actual
                ));
                if std::env::var_os("DUMP_HTTP").is_some() {
                    if let Some(oci_certify_core::check::Location::Http { request, response }) =
                        &f.location
                    {
                        out.push_str(&format!(
                            "    {request}\n    {}\n",
                            &response[..response.len().min(600)]
                        ));
                    }
                }
            }
        }
    }
    out
}
