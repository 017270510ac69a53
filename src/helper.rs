//! The credential operations git calls: `get`, `store`, `erase`.
//!
//! `get` routes the request, answers from the cache when the entry is fresh
//! (one file read, no key, no network), and otherwise mints under the entry's
//! lock. Everything the process provides (config, clock, proxy settings,
//! stderr) arrives in [`Context`].

use crate::cache::{Cache, EntryKey, is_fresh};
use crate::config::{App, Config};
use crate::error::Error;
use crate::github::{Client, ClientOptions, InstallationToken, ProxySettings};
use crate::protocol::{self, Credential, Operation, Request};
use crate::routing::{Decision, Target, route};
use crate::{jwt, key};
use std::io::{Read, Write};
use std::time::Duration;

/// How long one `get` may take in all, lock wait and network included.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// What the process hands the operations.
pub struct Context<'a> {
    /// `None`: no config file at the default location, so nothing is served.
    pub config: Option<&'a Config>,
    /// Unix seconds.
    pub now: u64,
    pub proxy: &'a ProxySettings,
    /// Diagnostics for the user (git's stderr).
    pub diag: &'a mut dyn Write,
}

/// Runs one protocol operation: reads git's request from `input`, answers on `output`.
pub fn run(
    op: Option<Operation>,
    input: impl Read,
    output: impl Write,
    ctx: &mut Context<'_>,
) -> Result<(), Error> {
    let request = protocol::read_request(input).map_err(Error::Input)?;
    match op {
        Some(Operation::Get) => match get(&request, ctx)? {
            Some(token) => {
                let credential = Credential {
                    password: &token.token,
                    expires_at: token.expires_at,
                };
                protocol::write_credential(output, &credential).map_err(Error::Output)
            }
            None => Ok(()),
        },
        Some(Operation::Erase) => erase(&request, ctx),
        Some(Operation::Store) | None => Ok(()),
    }
}

fn target(request: &Request) -> Target<'_> {
    Target {
        protocol: request.protocol.as_deref(),
        host: request.host.as_deref(),
        path: request.path.as_deref(),
        username: request.username.as_deref(),
    }
}

/// The token for `request`, or `None` when it is not ours to answer.
pub fn get(request: &Request, ctx: &mut Context<'_>) -> Result<Option<InstallationToken>, Error> {
    let Some(config) = ctx.config else {
        return Ok(None);
    };
    if request.malformed {
        return Ok(None);
    }
    let app = match route(config, target(request)) {
        Decision::Serve { app, .. } => app,
        Decision::NotMine(_) => return Ok(None),
        Decision::NeedsPath { host } => {
            let _ = writeln!(
                ctx.diag,
                "git-credential-github-app: several apps serve {host}: run `git config --global credential.https://{host}.useHttpPath true` so git sends the repository path"
            );
            return Ok(None);
        }
    };
    let Some(installation_id) = app.installation_id else {
        return Ok(None);
    };
    let key = EntryKey {
        api_url: app.api_url.clone(),
        app_id: app.app_id.to_string(),
        installation_id,
        scope: "installation".to_string(),
    };
    let cache = Cache::new(&config.cache_dir);
    let fresh = |cache: &Cache| {
        cache
            .read(&key)
            .filter(|e| is_fresh(e.expires_at, ctx.now, config.min_token_lifetime_secs))
            .map(|e| InstallationToken {
                token: e.token,
                expires_at: e.expires_at,
            })
    };
    if let Some(token) = fresh(&cache) {
        return Ok(Some(token));
    }

    let lock = cache.ensure_dir().and_then(|()| cache.lock(&key, DEADLINE));
    let lock = match lock {
        Ok(lock) => Some(lock),
        Err(e) => {
            let _ = writeln!(
                ctx.diag,
                "git-credential-github-app: warning: {e}; minting without the cache"
            );
            None
        }
    };
    if lock.is_some()
        && let Some(token) = fresh(&cache)
    {
        return Ok(Some(token));
    }
    let token = mint(app, installation_id, ctx)?;
    if lock.is_some()
        && let Err(e) = cache.write(&key, &token)
    {
        let _ = writeln!(
            ctx.diag,
            "git-credential-github-app: warning: {e}; the token is not cached"
        );
    }
    Ok(Some(token))
}

/// Signs a JWT with the app's key and trades it for an installation token.
fn mint(app: &App, installation_id: u64, ctx: &Context<'_>) -> Result<InstallationToken, Error> {
    let pem = key::read_key_file(&app.private_key_path).map_err(|error| Error::Key {
        app: app.label(),
        error,
    })?;
    let claims = jwt::claims(&app.app_id, i64::try_from(ctx.now).unwrap_or(i64::MAX));
    let jwt = jwt::sign(&pem, &claims).map_err(|error| Error::Jwt {
        app: app.label(),
        source: app.private_key_path.clone(),
        error,
    })?;
    let api = |error| Error::Api {
        app: app.label(),
        error,
    };
    let client = Client::new(ClientOptions {
        api_url: app.api_url.clone(),
        ca_file: app.ca_file.clone(),
        proxy: ctx.proxy.clone(),
        timeout: DEADLINE,
    })
    .map_err(api)?;
    client.mint(installation_id, &jwt).map_err(api)
}

/// Drops the cached token git reports as rejected, so the next `get` mints afresh.
pub fn erase(request: &Request, ctx: &mut Context<'_>) -> Result<(), Error> {
    let (Some(config), Some(password)) = (ctx.config, &request.password) else {
        return Ok(());
    };
    if request.malformed {
        return Ok(());
    }
    match route(config, target(request)) {
        Decision::Serve { .. } | Decision::NeedsPath { .. } => {}
        Decision::NotMine(_) => return Ok(()),
    }
    Cache::new(&config.cache_dir).remove_token(password, DEADLINE)?;
    Ok(())
}
