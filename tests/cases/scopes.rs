//! What a token may do: one repository (`token_scope`), narrowed `permissions`, and apps of
//! different rights side by side.

use serde_json::json;

use crate::support::world::{APP_ID, INSTALLATION_ID, OTHER_APP_ID, OTHER_INSTALLATION_ID, World};

#[test]
fn a_repository_scoped_token_is_asked_for_one_repository_and_never_served_for_another() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\ntoken_scope = \"repository\"")));
    let web = w.served(&w.get(&cfg, "acme/web.git"));
    assert_eq!(w.mint_bodies(), [json!({"repositories": ["web"]})]);
    assert_eq!(w.issued(&web).repositories, Some(vec!["web".to_string()]));

    let other = w.served(&w.get(&cfg, "acme/other.git"));
    assert_ne!(other, web);
    assert_eq!(w.mint_bodies(), [json!({"repositories": ["web"]}), json!({"repositories": ["other"]})]);
    assert_eq!(w.issued(&other).repositories, Some(vec!["other".to_string()]));

    assert_eq!(w.served(&w.get(&cfg, "acme/web.git")), web, "each repository has its own entry");
    assert_eq!(w.served(&w.get(&cfg, "acme/other.git")), other);
    assert_eq!(w.fake.mint_count(), 2);
}

#[test]
fn permissions_narrow_the_token_and_one_the_installation_lacks_is_githubs_422() {
    let w = World::new();
    let cfg = w.config(
        w.app(&format!("installation_id = {INSTALLATION_ID}\npermissions = {{ contents = \"read\" }}")),
    );
    let token = w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.mint_bodies(), [json!({"permissions": {"contents": "read"}})]);
    let granted = w.issued(&token).permissions;
    assert_eq!(granted.into_iter().collect::<Vec<_>>(), [("contents".to_string(), "read".to_string())]);

    let cfg = w.config(w.app(&format!(
        "installation_id = {INSTALLATION_ID}\npermissions = {{ administration = \"write\" }}"
    )));
    let line = w.failed(&w.get(&cfg, "acme/web"));
    assert!(line.contains("422"), "{line}");
    assert!(line.contains("The permissions requested are not granted to this installation."), "{line}");
    assert!(line.contains(&format!("/app/installations/{INSTALLATION_ID}/access_tokens")), "{line}");
    assert_eq!(w.fake.mint_count(), 1);

    // Levels are checked when the config is loaded.
    let cfg = w.config(
        w.app(&format!("installation_id = {INSTALLATION_ID}\npermissions = {{ contents = \"owner\" }}")),
    );
    let line = w.failed(&w.get(&cfg, "acme/web"));
    assert!(line.contains("owner") && line.contains(cfg.to_str().unwrap()), "{line}");
    assert_eq!(w.fake.count("POST", "/app/installations/"), 2);
}

#[test]
fn a_read_only_app_for_the_owner_and_a_writer_for_one_repository_each_serve_their_own() {
    let w = World::new();
    let cfg = w.config(format!(
        "{}{}",
        w.app("repos = [\"acme/*\"]\npermissions = { contents = \"read\" }"),
        w.other_app("repos = [\"acme/deploy\"]")
    ));
    let web = w.served(&w.get(&cfg, "acme/web"));
    let deploy = w.served(&w.get(&cfg, "acme/deploy"));
    let api = w.served(&w.get(&cfg, "acme/api"));

    assert_eq!(api, web, "the reader's installation-wide token serves acme/*");
    assert_ne!(deploy, web);
    let reader = w.issued(&web);
    assert_eq!((reader.app_id, reader.installation_id), (APP_ID, INSTALLATION_ID));
    assert_eq!(reader.permissions.get("contents").map(String::as_str), Some("read"));
    let writer = w.issued(&deploy);
    assert_eq!((writer.app_id, writer.installation_id), (OTHER_APP_ID, OTHER_INSTALLATION_ID));
    assert_eq!(writer.permissions.get("contents").map(String::as_str), Some("write"));
    assert_eq!(w.mint_bodies(), [json!({"permissions": {"contents": "read"}}), serde_json::Value::Null]);

    assert_eq!(w.served(&w.get(&cfg, "acme/deploy")), deploy);
    assert_eq!(w.served(&w.get(&cfg, "acme/web")), web);
    assert_eq!(w.fake.mint_count(), 2);
    assert_eq!(w.cache_files("token-").len(), 2);
}
