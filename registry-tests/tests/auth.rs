//! Basic auth and the bearer-token flow (401 challenge, token endpoint, retry) against an
//! authenticating front (the proxy) of the real registry: the suite's verdict is the same as
//! without auth, and missing credentials are an input error, not a red verdict.

mod common;

use oci_certify_registry::client::Auth;
use oci_certify_registry::harness::{LocalRegistry, RegistryConfig};
use oci_certify_registry::proxy::{Fault, Proxy, ProxyAuth, ProxyOptions};

#[test]
fn basic_and_token_auth_work_and_missing_credentials_are_an_input_error() {
    let reg = LocalRegistry::start(RegistryConfig {
        delete_enabled: true,
    })
    .expect("docker-registry starts");
    let (_, direct) = common::run(&reg.url(), Auth::None);
    let creds = Auth::Basic {
        username: "alice".into(),
        password: "s3cret".into(),
    };
    for auth in [
        ProxyAuth::Basic {
            username: "alice".into(),
            password: "s3cret".into(),
        },
        ProxyAuth::Token {
            username: "alice".into(),
            password: "s3cret".into(),
        },
    ] {
        let proxy = Proxy::start(
            &reg.url(),
            ProxyOptions {
                auth: auth.clone(),
                ..ProxyOptions::fault(Fault::None)
            },
        )
        .unwrap();
        let (_, c) = common::run(&proxy.url(), creds.clone());
        assert!(c.errors().is_empty(), "{auth:?}: {:?}", c.errors());
        assert_eq!(
            c.failed_ids(),
            direct.failed_ids(),
            "{auth:?}:\n{}",
            common::dump(&c)
        );
        assert_eq!(c.results().count(), direct.results().count(), "{auth:?}");
        // No credential appears in any report.
        let json = serde_json::to_string(&c.events).unwrap();
        assert!(
            !json.contains("s3cret") && !json.contains("YWxpY2U6czNjcmV0"),
            "{auth:?}: a secret leaked"
        );

        let mut client = oci_certify_registry::client::ClientOptions::new(
            url::Url::parse(&proxy.url()).unwrap(),
        );
        client.auth = Auth::None;
        let opts = oci_certify_registry::engine::Options::new(client);
        let (res, _) =
            oci_certify_core::testing::collect(oci_certify_core::Spec::Distribution, "x", |r| {
                oci_certify_registry::engine::certify(r, &opts)
            })
            .unwrap();
        assert!(
            matches!(
                res,
                Err(oci_certify_registry::engine::EngineError::Unauthorized(_))
            ),
            "{auth:?}: {res:?}"
        );
    }
}
