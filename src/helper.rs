//! The credential operations git calls: `get`, `store`, `erase`.
//!
//! `get` plans the request (which app, which cache entry, how narrow a token),
//! answers from the cache when the entry is fresh (one file read: no key, no
//! lookup, no network), and otherwise mints under the entry's lock, discovering
//! the installation first when the config leaves it out. Everything the process
//! provides (config, clock, environment, stderr) arrives in [`Context`].

use crate::cache::{Cache, CacheError, EntryKey, is_fresh};
use crate::config::{App, Config, TokenScope};
use crate::diag::Diag;
use crate::error::Error;
use crate::github::{ApiError, Client, ClientOptions, InstallationToken, MintRequest, format_utc};
use crate::network::{self, NetworkEnv};
use crate::protocol::{self, Credential, Request};
use crate::routing::{Decision, NotMine, Pattern, RepoRef, Target, route};
use crate::secret::Secret;
use crate::{jwt, key};
use std::io::Write;
use std::time::{Duration, Instant};

/// How long a "not installed there" answer is remembered, so a helper chain
/// falls through to the next helper without asking GitHub again.
pub const NOT_INSTALLED_TTL: u64 = 10 * 60;

/// What the process hands the operations.
pub struct Context<'a> {
    /// `None`: no config file at the default location, so nothing is served.
    pub config: Option<&'a Config>,
    /// Unix seconds.
    pub now: u64,
    /// When this operation must be done (its start plus `timeout_secs`).
    pub deadline: Instant,
    /// `timeout_secs`, for messages.
    pub timeout: Duration,
    pub network: &'a NetworkEnv,
    /// Looks up an environment variable (for `private_key_env`).
    pub var: fn(&str) -> Option<String>,
    /// This process's user, which must own the cache directory.
    pub uid: Option<u32>,
    /// Warnings, hints and trace lines (git's stderr).
    pub diag: &'a Diag<'a>,
}

impl Context<'_> {
    /// The cache of `config`, which must belong to this user.
    pub fn cache(&self, config: &Config) -> Cache {
        Cache::new(&config.cache_dir, self.uid)
    }
}

/// Writes the answer to `get`: the three lines git reads.
pub fn write_answer(output: impl Write, token: &InstallationToken) -> Result<(), Error> {
    let credential = Credential { password: &token.token, expires_at: token.expires_at };
    protocol::write_credential(output, &credential).map_err(Error::Output)
}

/// A served `get`: the token and the cache entry that holds it.
#[derive(Debug)]
pub struct Answer {
    pub token: InstallationToken,
    pub key: EntryKey,
}

/// The routing fields of git's request.
pub fn target(request: &Request) -> Target<'_> {
    Target {
        protocol: request.protocol.as_deref(),
        host: request.host.as_deref(),
        path: request.path.as_deref(),
        username: request.username.as_deref(),
    }
}

/// Everything decided about a request before any I/O.
#[derive(Debug)]
pub struct Plan<'c> {
    pub app: &'c App,
    pub repo: Option<RepoRef>,
    pub pattern: Option<&'c Pattern>,
    /// The cache entry that holds the token.
    pub key: EntryKey,
    /// The body of the mint.
    pub narrow: MintRequest,
}

/// The outcome of planning a request.
#[derive(Debug)]
pub enum Planned<'c> {
    Serve(Plan<'c>),
    NotMine(NotMine),
    NeedsPath { host: String },
}

/// Plans `target` against `config`: pure.
pub fn plan<'c>(config: &'c Config, target: Target<'_>) -> Planned<'c> {
    let (app, repo, pattern) = match route(config, target) {
        Decision::Serve { app, repo, pattern } => (app, repo, pattern),
        Decision::NotMine(why) => return Planned::NotMine(why),
        Decision::NeedsPath { host } => return Planned::NeedsPath { host },
    };
    // Routing serves a path-less request only with a configured installation
    // and an installation-wide token, so `repo` is known wherever it is used.
    let installation = match (app.installation_id, &repo) {
        (Some(id), _) => id.to_string(),
        (None, Some(repo)) => format!("owner:{}", repo.owner),
        (None, None) => return Planned::NeedsPath { host: app.host.clone() },
    };
    let mut scope = String::from("installation");
    let mut narrow = MintRequest { repositories: None, permissions: app.permissions.clone() };
    if app.token_scope == TokenScope::Repository {
        let Some(repo) = &repo else {
            return Planned::NeedsPath { host: app.host.clone() };
        };
        scope = format!("repository:{repo}");
        narrow.repositories = Some(vec![repo.repo.clone()]);
    }
    if !app.permissions.is_empty() {
        let perms: Vec<String> =
            app.permissions.iter().map(|(name, access)| format!("{name}={}", access.as_str())).collect();
        scope = format!("{scope};permissions:{}", perms.join(","));
    }
    let key = EntryKey { api_url: app.api_url.clone(), app_id: app.app_id.to_string(), installation, scope };
    Planned::Serve(Plan { app, repo, pattern, key, narrow })
}

/// The one-line hint printed when git sent no path but one is needed.
pub fn use_http_path_hint(host: &str) -> String {
    format!(
        "cannot choose an app for {host} without the repository path: run `git config --global credential.https://{host}.useHttpPath true`"
    )
}

/// The token for `request`, or `None` when it is not ours to answer.
pub fn get(request: &Request, ctx: &Context<'_>) -> Result<Option<Answer>, Error> {
    let Some(config) = ctx.config else {
        ctx.diag.trace(|| "no config file: serving nothing".into());
        return Ok(None);
    };
    if request.malformed {
        ctx.diag.trace(|| "request is not UTF-8: not mine".into());
        return Ok(None);
    }
    match plan(config, target(request)) {
        Planned::Serve(plan) => Ok(serve(&plan, config, ctx)?.map(|token| Answer { token, key: plan.key })),
        Planned::NotMine(why) => {
            ctx.diag.trace(|| format!("not mine: {why}"));
            Ok(None)
        }
        Planned::NeedsPath { host } => {
            ctx.diag.say(use_http_path_hint(&host));
            Ok(None)
        }
    }
}

/// The token for a planned request: from the cache when fresh, else minted
/// under the entry's lock. `None` when discovery finds no installation.
pub fn serve(
    plan: &Plan<'_>,
    config: &Config,
    ctx: &Context<'_>,
) -> Result<Option<InstallationToken>, Error> {
    ctx.diag.trace(|| {
        let via = plan.pattern.map_or("the only app for the host (no path)".to_string(), |p| {
            format!("pattern {:?}", p.as_str())
        });
        format!("route: {} via {via}; scope {}", plan.app.label(), plan.key.scope)
    });
    let cache = ctx.cache(config);
    let now = ctx.now;
    let fresh = |cache: &Cache| {
        let entry = cache.read(&plan.key);
        let usable = entry.filter(|e| is_fresh(e.expires_at, now, config.min_token_lifetime_secs));
        usable.map(|e| InstallationToken { token: e.token, expires_at: e.expires_at })
    };
    if let Some(token) = fresh(&cache) {
        ctx.diag.trace(|| format!("cache: hit, token expires {}", format_utc(token.expires_at)));
        return Ok(Some(token));
    }
    ctx.diag.trace(|| "cache: miss (no entry, or less than min_token_lifetime_secs left)".into());

    if remembered_not_installed(plan, &cache, now) {
        ctx.diag.trace(|| "discovery: remembered as not installed there: not mine".into());
        return Ok(None);
    }

    let waiting = Instant::now();
    let wait = ctx.deadline.saturating_duration_since(waiting);
    let lock = match cache.ensure_dir().and_then(|()| cache.lock(&plan.key, wait)) {
        Ok(lock) => {
            ctx.diag.trace(|| format!("lock: held after {} ms", waiting.elapsed().as_millis()));
            Some(lock)
        }
        // The holder is still minting and our time is up: minting now could only fail.
        Err(e @ CacheError::LockTimeout { .. }) => return Err(Error::Cache(e)),
        Err(e) => {
            ctx.diag.say(format_args!("warning: {e}; minting without the cache"));
            None
        }
    };
    let cache = lock.as_ref().map(|_| &cache);
    if let Some(token) = cache.and_then(fresh) {
        ctx.diag.trace(|| "cache: another process minted while we waited".into());
        return Ok(Some(token));
    }
    let Some((installation_id, token)) = Minter::new(plan.app, cache, ctx)?.mint(plan)? else {
        return Ok(None);
    };
    ctx.diag.trace(|| {
        format!("minted for installation {installation_id}, expires {}", format_utc(token.expires_at))
    });
    if let Some(cache) = cache
        && let Err(e) = cache.write(&plan.key, installation_id, &token)
    {
        ctx.diag.say(format_args!("warning: {e}; the token is not cached"));
    }
    Ok(Some(token))
}

/// Whether discovery recently found the app not installed for the planned
/// repository, so a helper chain falls through without a lock or a lookup.
fn remembered_not_installed(plan: &Plan<'_>, cache: &Cache, now: u64) -> bool {
    let (None, Some(repo)) = (plan.app.installation_id, &plan.repo) else {
        return false;
    };
    let known = cache.installations(&plan.app.api_url, &plan.app.app_id.to_string());
    known.missing.get(&repo.to_string()).is_some_and(|&until| until > now)
}

/// Signs the app JWT on first use, so the key is read only if a call needs
/// it; signs again after a clock correction.
struct Signer<'a> {
    app: &'a App,
    /// GitHub's clock: local now plus the learnt offset.
    now: i64,
    var: fn(&str) -> Option<String>,
    deadline: Instant,
    jwt: Option<Secret<String>>,
}

impl Signer<'_> {
    fn jwt(&mut self) -> Result<&Secret<String>, Error> {
        let jwt = match self.jwt.take() {
            Some(jwt) => jwt,
            None => self.sign()?,
        };
        Ok(self.jwt.insert(jwt))
    }

    fn sign(&self) -> Result<Secret<String>, Error> {
        let app = self.app;
        let timeout = self.deadline.saturating_duration_since(Instant::now());
        let pem =
            key::load(&app.key, self.var, timeout).map_err(|error| Error::Key { app: app.label(), error })?;
        let claims = jwt::claims(&app.app_id, self.now);
        jwt::sign(&pem, &claims).map_err(|error| Error::Jwt {
            app: app.label(),
            source: app.key.to_string(),
            error,
        })
    }
}

/// Everything one mint needs: the client for the app's API URL, the signer,
/// and the cache (when usable) for installations and the clock offset.
pub struct Minter<'a> {
    app: &'a App,
    client: Client<'a>,
    signer: Signer<'a>,
    cache: Option<&'a Cache>,
    now: u64,
    clock_corrected: bool,
}

impl<'a> Minter<'a> {
    pub fn new(app: &'a App, cache: Option<&'a Cache>, ctx: &Context<'a>) -> Result<Minter<'a>, Error> {
        // Ask git for its http settings while the JWT is signed: every Minter signs.
        let git = network::wants_git(app.ca_file.as_deref(), ctx.network)
            .then(|| network::GitHttpQuery::start(&app.api_url));
        let offset = cache.map_or(0, |c| c.clock_offset(&app.api_url));
        let now = i64::try_from(ctx.now).unwrap_or(i64::MAX).saturating_add(offset);
        let mut signer = Signer { app, now, var: ctx.var, deadline: ctx.deadline, jwt: None };
        signer.jwt()?;
        let route = network::resolve(app.ca_file.as_deref(), ctx.network, || {
            git.map_or_else(network::GitHttpConfig::default, |query| query.finish(ctx.deadline))
        });
        let client = Client::new(
            ClientOptions {
                api_url: app.api_url.clone(),
                route,
                deadline: ctx.deadline,
                timeout: ctx.timeout,
                now: ctx.now,
            },
            ctx.diag,
        )
        .map_err(|error| Error::Api { app: app.label(), error })?;
        Ok(Minter { app, client, signer, cache, now: ctx.now, clock_corrected: false })
    }

    fn api(&self, error: ApiError) -> Error {
        Error::Api { app: self.app.label(), error }
    }

    /// Runs a JWT-authenticated call. When GitHub answers 401 and its `Date`
    /// shows our clock is more than 30 s off, signs again on GitHub's time,
    /// retries once, and remembers the offset for later mints.
    pub fn with_jwt<T>(
        &mut self,
        call: impl Fn(&Client<'a>, &Secret<String>) -> Result<T, ApiError>,
    ) -> Result<T, Error> {
        let first = call(&self.client, self.signer.jwt()?);
        let Err(ApiError::Status { status: 401, server_date: Some(date), .. }) = &first else {
            return first.map_err(|e| self.api(e));
        };
        let offset = i64::try_from(*date).unwrap_or(i64::MAX) - i64::try_from(self.now).unwrap_or(i64::MAX);
        let signed_at = self.signer.now - i64::try_from(self.now).unwrap_or(i64::MAX);
        if self.clock_corrected || (offset - signed_at).abs() <= 30 {
            return first.map_err(|e| self.api(e));
        }
        self.clock_corrected = true;
        self.client
            .diag()
            .trace(|| format!("clock: GitHub's Date is {offset} s from ours; signing again on its time"));
        self.signer.now = i64::try_from(*date).unwrap_or(i64::MAX);
        self.signer.jwt = None;
        if let Some(cache) = self.cache {
            // Only an optimisation: without it the next mint corrects itself again.
            let _ = cache.set_clock_offset(&self.app.api_url, offset);
        }
        call(&self.client, self.signer.jwt()?).map_err(|e| self.api(e))
    }

    /// Mints the token `plan` calls for: `None` when discovery finds the app is
    /// not installed for the repository's owner.
    fn mint(&mut self, plan: &Plan<'_>) -> Result<Option<(u64, InstallationToken)>, Error> {
        let (installation_id, remembered) = match (self.app.installation_id, &plan.repo) {
            (Some(id), _) => (id, false),
            (None, Some(repo)) => match self.find(repo, false)? {
                Some(found) => found,
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        let narrow = &plan.narrow;
        let first = self.with_jwt(|client, jwt| client.mint(installation_id, jwt, narrow));
        match (first, &plan.repo) {
            // A remembered installation can be gone (app reinstalled): ask once more.
            (Err(Error::Api { error: ApiError::Status { status: 404, .. }, .. }), Some(repo))
                if remembered =>
            {
                let Some((id, _)) = self.find(repo, true)? else {
                    return Ok(None);
                };
                self.with_jwt(|client, jwt| client.mint(id, jwt, narrow)).map(|token| Some((id, token)))
            }
            (result, _) => result.map(|token| Some((installation_id, token))),
        }
    }

    /// The installation serving `repo`'s owner and whether it came from memory;
    /// `None` when the app is not installed there (remembered for a while).
    fn find(&mut self, repo: &RepoRef, forget: bool) -> Result<Option<(u64, bool)>, Error> {
        let (api_url, app_id) = (self.app.api_url.clone(), self.app.app_id.to_string());
        let full = repo.to_string();
        if let Some(cache) = self.cache
            && !forget
        {
            let known = cache.installations(&api_url, &app_id);
            if known.missing.get(&full).is_some_and(|&until| until > self.now) {
                return Ok(None);
            }
            if let Some(&id) = known.found.get(&repo.owner) {
                return Ok(Some((id, true)));
            }
        }
        let found =
            self.with_jwt(|client, jwt| client.find_installation(&repo.owner, Some(&repo.repo), jwt))?;
        if let Some(cache) = self.cache {
            let now = self.now;
            let timeout = self.signer.deadline.saturating_duration_since(Instant::now());
            // Memory is an optimisation: failing to write it costs a lookup next time.
            let _ = cache.update_installations(&api_url, &app_id, timeout, |known| {
                known.missing.retain(|_, &mut until| until > now);
                match found {
                    Some(id) => {
                        known.found.insert(repo.owner.clone(), id);
                        known.missing.remove(&full);
                    }
                    // Per repository: the owner's installation may still serve
                    // other repositories (an installation on selected ones),
                    // unless it was the remembered one that just answered 404.
                    None => {
                        if forget {
                            known.found.remove(&repo.owner);
                        }
                        known.missing.insert(full.clone(), now + NOT_INSTALLED_TTL);
                    }
                }
            });
        }
        Ok(found.map(|id| (id, false)))
    }
}

/// Drops the cached token git reports as rejected, so the next `get` mints afresh.
pub fn erase(request: &Request, ctx: &Context<'_>) -> Result<(), Error> {
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
    let wait = ctx.deadline.saturating_duration_since(Instant::now());
    ctx.cache(config).remove_token(password, wait)?;
    Ok(())
}
