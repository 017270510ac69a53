//! `doctor`: checks every app end to end (config, key, JWT accepted by
//! GitHub, clock, installations) and fails if any check fails.

use super::out_err;
use crate::config::KeySource;
use crate::context::Context;
use crate::error::Error;
use crate::mint::Minter;
use crate::signer::Signer;
use std::io::Write;

/// `doctor`: checks every app end to end; fails if any check fails.
pub(crate) fn doctor(ctx: &Context<'_>, out: &mut dyn Write) -> Result<(), Error> {
    let config = ctx.config;
    let mut failures = 0;
    let mut check = |out: &mut dyn Write, ok: bool, text: String| {
        failures += usize::from(!ok);
        writeln!(out, "  [{}] {text}", if ok { " ok " } else { "FAIL" }).map_err(out_err)
    };
    writeln!(out, "config {}: valid, {} app(s)", config.path.display(), config.apps.len())
        .map_err(out_err)?;
    if config.apps.is_empty() {
        check(out, false, "no [[app]] is configured: nothing will be served".into())?;
    }
    for app in &config.apps {
        writeln!(out, "{} for {} ({})", app.label(), app.host, app.api_url).map_err(out_err)?;
        // Read once: a private_key_command runs a single time per app.
        let signer = match Signer::for_app(app, ctx.var, ctx.deadline) {
            Ok(signer) if signer.jwt(&app.app_id, 0).is_ok() => signer,
            Ok(signer) => {
                check(
                    out,
                    false,
                    format!("key: {} cannot sign (is it at least 2048 bits?)", signer.describe()),
                )?;
                continue;
            }
            Err(e) => {
                check(out, false, format!("key: {e}"))?;
                continue;
            }
        };
        check(out, true, format!("key: {} is a usable RSA key{}", signer.describe(), key_note(&app.key)))?;
        let mut minter = match Minter::with_signer(app, signer, ctx) {
            Ok(m) => m,
            Err(e) => {
                check(out, false, format!("network: {e}"))?;
                continue;
            }
        };
        match minter.with_jwt(|client, jwt| client.app(jwt)) {
            Ok((info, date)) => {
                check(out, true, format!("JWT: accepted by GitHub as app {:?} (GET /app)", info.slug))?;
                match date {
                    Some(date) => {
                        let offset = i128::from(date) - i128::from(ctx.now);
                        let ok = offset.abs() <= 30;
                        let text = if ok {
                            format!("clock: within {} s of GitHub's", offset.abs())
                        } else {
                            format!(
                                "clock: {offset} s off GitHub's (JWTs are corrected automatically; fix the clock with NTP)"
                            )
                        };
                        check(out, ok, text)?;
                    }
                    None => check(out, false, "clock: GitHub's answer had no Date header".into())?,
                }
            }
            Err(e) => {
                check(out, false, format!("JWT: {e}"))?;
                continue;
            }
        }
        match minter.with_jwt(|client, jwt| client.installations(jwt)) {
            Ok(list) => {
                let shown: Vec<String> = list
                    .iter()
                    .take(10)
                    .map(|i| format!("{} ({})", i.account.as_ref().map_or("?", |a| a.login.as_str()), i.id))
                    .collect();
                let more =
                    if list.len() > 10 { format!(", and {} more", list.len() - 10) } else { String::new() };
                check(
                    out,
                    !list.is_empty(),
                    format!("installations: {} visible: {}{more}", list.len(), shown.join(", ")),
                )?;
                if let Some(id) = app.installation_id {
                    let visible = list.iter().any(|i| i.id == id);
                    let text = if visible {
                        format!("installation_id {id}: installed")
                    } else {
                        format!(
                            "installation_id {id}: not among the app's installations (check installation_id)"
                        )
                    };
                    check(out, visible, text)?;
                }
            }
            Err(e) => check(out, false, format!("installations: {e}"))?,
        }
    }
    match failures {
        0 => Ok(()),
        count => Err(Error::ChecksFailed { count }),
    }
}

fn key_note(source: &KeySource) -> String {
    match source {
        KeySource::Path(path) => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path)
                .map(|m| format!(" (mode {:03o})", m.permissions().mode() & 0o777))
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}
