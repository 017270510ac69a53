//! Minting an installation token for a routed request: the app JWT through
//! the app's signer, installation discovery (remembered per owner), one
//! re-discovery when a remembered installation is gone, and one re-signed
//! retry when GitHub's clock disagrees with ours.

use crate::cache::{Cache, Remembered};
use crate::config::{App, PublicReads};
use crate::context::Context;
use crate::error::Error;
use crate::github::{ApiError, Client};
use crate::repo::RepoRef;
use crate::route::Plan;
use crate::secret::Secret;
use crate::signer::Signer;
use crate::token::InstallationToken;
use std::time::Instant;

/// How long a "not installed there" answer is remembered, so a helper chain
/// falls through to the next helper without asking GitHub again.
const NOT_INSTALLED_TTL: u64 = 10 * 60;

/// Clocks closer than this are left alone (GitHub's JWT window absorbs it).
const SKEW_TOLERANCE_SECS: i64 = 30;

/// Everything one mint needs: the client for the app's API URL, the signer,
/// and the cache (when usable) for installations and the clock offset.
pub(crate) struct Minter<'a> {
    app: &'a App,
    client: Client<'a>,
    signer: Signer<'a>,
    jwt: Option<Secret<String>>,
    /// GitHub's clock when signing: local now plus the learnt offset.
    signed_at: i64,
    cache: Option<&'a Cache>,
    now: u64,
    deadline: Instant,
    clock_corrected: bool,
}

impl<'a> Minter<'a> {
    /// Reads the app's key while git is asked for its http settings (a vault
    /// or sign command is only contacted to sign, below).
    pub(crate) fn new(
        app: &'a App,
        cache: Option<&'a Cache>,
        ctx: &Context<'a>,
    ) -> Result<Minter<'a>, Error> {
        let setup = ctx.client_for(app);
        let signer =
            Signer::for_app(app, ctx, cache).map_err(|error| Error::Sign { app: app.label(), error })?;
        let client = ctx.finish(setup).map_err(|error| Error::Api { app: app.label(), error })?;
        Minter::start(app, client, signer, cache, ctx)
    }

    /// With a signer the caller already has (`doctor` reads each key once).
    pub(crate) fn with_signer(
        app: &'a App,
        signer: Signer<'a>,
        ctx: &Context<'a>,
    ) -> Result<Minter<'a>, Error> {
        let client =
            ctx.finish(ctx.client_for(app)).map_err(|error| Error::Api { app: app.label(), error })?;
        Minter::start(app, client, signer, None, ctx)
    }

    fn start(
        app: &'a App,
        client: Client<'a>,
        signer: Signer<'a>,
        cache: Option<&'a Cache>,
        ctx: &Context<'a>,
    ) -> Result<Minter<'a>, Error> {
        let offset = cache.map_or(0, |c| c.clock_offset(&app.api_url));
        let signed_at = i64::try_from(ctx.now).unwrap_or(i64::MAX).saturating_add(offset);
        let mut minter = Minter {
            app,
            client,
            signer,
            jwt: None,
            signed_at,
            cache,
            now: ctx.now,
            deadline: ctx.deadline,
            clock_corrected: false,
        };
        minter.jwt()?;
        Ok(minter)
    }

    /// The current JWT, signed on first use and again after a clock correction.
    fn jwt(&mut self) -> Result<Secret<String>, Error> {
        if let Some(jwt) = &self.jwt {
            return Ok(jwt.clone());
        }
        let jwt = self
            .signer
            .jwt(&self.app.app_id, self.signed_at)
            .map_err(|error| Error::Sign { app: self.app.label(), error })?;
        Ok(self.jwt.insert(jwt).clone())
    }

    fn api(&self, error: ApiError) -> Error {
        Error::Api { app: self.app.label(), error }
    }

    /// Runs a JWT-authenticated call. When GitHub answers 401 and its `Date`
    /// shows our clock is more than 30 s off, signs again on GitHub's time,
    /// retries once, and remembers the offset for later mints.
    pub(crate) fn with_jwt<T>(
        &mut self,
        call: impl Fn(&Client<'a>, &Secret<String>) -> Result<T, ApiError>,
    ) -> Result<T, Error> {
        let jwt = self.jwt()?;
        let first = call(&self.client, &jwt);
        let Err(ApiError::Status { status: 401, server_date: Some(date), .. }) = &first else {
            return first.map_err(|e| self.api(e));
        };
        let local_now = i64::try_from(self.now).unwrap_or(i64::MAX);
        let offset = i64::try_from(*date).unwrap_or(i64::MAX).saturating_sub(local_now);
        let signed_offset = self.signed_at.saturating_sub(local_now);
        if self.clock_corrected
            || offset.saturating_sub(signed_offset).saturating_abs() <= SKEW_TOLERANCE_SECS
        {
            return first.map_err(|e| self.api(e));
        }
        self.clock_corrected = true;
        self.client
            .diag()
            .trace(|| format!("clock: GitHub's Date is {offset} s from ours; signing again on its time"));
        self.signed_at = i64::try_from(*date).unwrap_or(i64::MAX);
        self.jwt = None;
        if let Some(cache) = self.cache {
            // Only an optimisation: without it the next mint corrects itself again.
            let _ = cache.set_clock_offset(&self.app.api_url, offset);
        }
        let jwt = self.jwt()?;
        call(&self.client, &jwt).map_err(|e| self.api(e))
    }

    /// Mints the token `plan` calls for: `None` when discovery finds the app is
    /// not installed for the repository's owner.
    pub(crate) fn mint(&mut self, plan: &Plan<'_>) -> Result<Option<(u64, InstallationToken)>, Error> {
        if let Some(reads) = plan.public_read {
            return self.mint_public(reads, plan).map(Some);
        }
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

    /// The `read_public_repos` fallback's token: from `installation_id`, or
    /// from the installation on the owner of the app's first fixed-owner
    /// pattern (found once and remembered like any other owner's; a
    /// remembered one that is gone, the app reinstalled, is looked up again).
    fn mint_public(
        &mut self,
        reads: &PublicReads,
        plan: &Plan<'_>,
    ) -> Result<(u64, InstallationToken), Error> {
        let narrow = &plan.narrow;
        let (installation_id, remembered) = match reads {
            PublicReads::Installation(id) => (*id, false),
            PublicReads::Owner(owner) => self.find_owner(owner, false)?,
        };
        match self.with_jwt(|client, jwt| client.mint(installation_id, jwt, narrow)) {
            Err(Error::Api { error: ApiError::Status { status: 404, .. }, .. })
                if remembered && let PublicReads::Owner(owner) = reads =>
            {
                let (id, _) = self.find_owner(owner, true)?;
                self.with_jwt(|client, jwt| client.mint(id, jwt, narrow)).map(|token| (id, token))
            }
            result => result.map(|token| (installation_id, token)),
        }
    }

    /// The installation on `owner` for the fallback, and whether it came from
    /// memory (never when `forget`); an error when there is none.
    fn find_owner(&mut self, owner: &str, forget: bool) -> Result<(u64, bool), Error> {
        let (api_url, app_id) = (self.app.api_url.to_string(), self.app.app_id.to_string());
        if let Some(cache) = self.cache
            && !forget
            && let Remembered::Installed(id) =
                cache.installations(&api_url, &app_id).about(owner, "", self.now)
        {
            return Ok((id, true));
        }
        let Some(id) = self.with_jwt(|client, jwt| client.find_installation(owner, None, jwt))? else {
            if let Some(cache) = self.cache.filter(|_| forget) {
                let timeout = self.deadline.saturating_duration_since(Instant::now());
                let _ = cache.update_installations(&api_url, &app_id, timeout, |known| {
                    known.found.remove(owner);
                });
            }
            return Err(Error::NoPublicInstallation { app: self.app.label(), owner: owner.to_string() });
        };
        if let Some(cache) = self.cache {
            let timeout = self.deadline.saturating_duration_since(Instant::now());
            // Memory is an optimisation: failing to write it costs a lookup next time.
            let _ = cache.update_installations(&api_url, &app_id, timeout, |known| {
                known.found.insert(owner.to_string(), id);
            });
        }
        Ok((id, false))
    }

    /// The installation serving `repo`'s owner and whether it came from memory;
    /// `None` when the app is not installed there (remembered for a while).
    fn find(&mut self, repo: &RepoRef, forget: bool) -> Result<Option<(u64, bool)>, Error> {
        let (api_url, app_id) = (self.app.api_url.to_string(), self.app.app_id.to_string());
        if let Some(cache) = self.cache
            && !forget
        {
            match cache.installations(&api_url, &app_id).about(&repo.owner, &repo.repo, self.now) {
                Remembered::NotInstalled { .. } => return Ok(None),
                Remembered::Installed(id) => return Ok(Some((id, true))),
                Remembered::Unknown => {}
            }
        }
        let found =
            self.with_jwt(|client, jwt| client.find_installation(&repo.owner, Some(&repo.repo), jwt))?;
        if let Some(cache) = self.cache {
            let now = self.now;
            let full = repo.to_string();
            let timeout = self.deadline.saturating_duration_since(Instant::now());
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
