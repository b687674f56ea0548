//! The operators' dashboard: server-rendered HTML (vigil-report's SVG plots), one small script
//! and one style sheet, all served by the collector itself: no CDN, no inline script or style
//! (a strict Content-Security-Policy forbids them), nothing fetched from elsewhere.
//!
//! Pages (role `operator`; a device certificate gets 403):
//! - `/`: the fleet table (`table#fleet`, one `tr[data-device]` per device linking to its
//!   page), the open alarms (`#alarms li[data-kind][data-device]`, newest first; closed ones
//!   are counted) and drift per
//!   feature over time (`svg[data-drift-feature]`, one line per device and test).
//! - `/devices/{id}`: the device's newest accepted checkpoint (`pre#checkpoint`), every
//!   checkpoint it pushed (refused ones too), and its audit trail, a page of entries each with
//!   a `button[data-verify=I]`. The script fetches the entry and its inclusion proof from the
//!   API, checks the proof (RFC 9162) with WebCrypto SHA-256 against the root in the signed
//!   checkpoint shown, and sets `data-status` of `[data-verify-result=I]` to `ok` or
//!   `failed`.
//! - `/favicon.ico`, `/static/dashboard.js`, `/static/dashboard.css`.
//!
//! Everything that comes from devices (ids, entries, alarm details, model names) is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use vigil_report::escape;

use crate::api::{require, Caller, Role};
use crate::collector::Collector;
use crate::store::{AlarmRow, CheckpointRow, DeviceRow, DriftPoint, EntryRow, StoreError};
use vigil_core::time::rfc3339;

/// Alarms shown in the feed (the newest).
const FEED: usize = 200;
/// Entries on one page of a device's audit trail.
const TRAIL_PAGE: u64 = 100;
/// Characters of an entry shown in the trail (the whole entry is in the API).
const ENTRY_CHARS: usize = 400;
/// Points per drift plot (the newest).
const DRIFT_POINTS: usize = 5_000;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");
const FAVICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">\
<rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#1f4e79\"/>\
<path d=\"M3 8h3l1-4 2 8 1-4h3\" fill=\"none\" stroke=\"#fff\" stroke-width=\"1.5\"/></svg>";

/// The dashboard's routes over `collector`.
pub(crate) fn routes(collector: Arc<Collector>) -> Router {
    Router::new()
        .route("/", get(fleet))
        .route("/devices/{id}", get(device))
        .route("/favicon.ico", get(favicon))
        .route("/static/dashboard.js", get(script))
        .route("/static/dashboard.css", get(style))
        .with_state(collector)
}

fn secured(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn html(status: StatusCode, body: String) -> Response {
    secured(status, "text/html; charset=utf-8", body)
}

/// A whole page around `body`; `device` goes into `body[data-device]` for the script.
fn page(title: &str, device: Option<&str>, body: &str) -> String {
    let data = device.map_or(String::new(), |d| format!(" data-device=\"{}\"", escape(d)));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} - Vigil collector</title>\
<link rel=\"icon\" href=\"/favicon.ico\" type=\"image/svg+xml\">\
<link rel=\"stylesheet\" href=\"/static/dashboard.css\">\
<script src=\"/static/dashboard.js\" defer></script></head>\
<body{data}><header><a href=\"/\">Vigil collector</a></header><main>{body}</main></body></html>\n",
        escape(title)
    )
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        page(
            status.canonical_reason().unwrap_or("error"),
            None,
            &format!(
                "<h1>{}</h1><p class=\"error\">{}</p>",
                status.as_u16(),
                escape(message)
            ),
        ),
    )
}

/// `None` for an operator; the refusal page for anyone else.
fn not_operator(caller: Option<&Caller>) -> Option<Response> {
    require(caller, Role::Operator)
        .err()
        .map(|r| error_page(r.0, &r.1))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "collector store failed");
            Err(error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("store unavailable: {e}"),
            ))
        }
        Err(e) => Err(error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("internal error: {e}"),
        )),
    }
}

fn when(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".to_string(), |t| escape(&rfc3339(t)))
}

fn device_href(id: &str) -> String {
    // Device ids are [A-Za-z0-9._-] (clients.toml), so they need no percent-encoding; escape
    // all the same.
    format!("/devices/{}", escape(id))
}

fn fleet_table(devices: &[DeviceRow]) -> String {
    let mut s = String::from(
        "<h2>Devices</h2><table id=\"fleet\"><thead><tr><th>device</th><th>model</th>\
<th>version</th><th>entries</th><th>last checkpoint</th><th>last seen</th>\
<th>open alarms</th></tr></thead><tbody>",
    );
    for d in devices {
        let _ = write!(
            s,
            "<tr data-device=\"{id}\"{cls}><td><a href=\"{href}\">{id}</a></td><td>{model}</td>\
<td>{version}</td><td>{size}</td><td>{cp}</td><td>{seen}</td><td>{alarms}</td></tr>",
            id = escape(&d.id),
            cls = if d.open_alarms > 0 {
                " class=\"alarmed\""
            } else {
                ""
            },
            href = device_href(&d.id),
            model = escape(d.model.as_deref().unwrap_or("-")),
            version = escape(d.version.as_deref().unwrap_or("-")),
            size = d.size,
            cp = when(d.last_checkpoint_time),
            seen = when(d.last_seen),
            alarms = d.open_alarms,
        );
    }
    if devices.is_empty() {
        s.push_str("<tr><td colspan=\"7\">No device has pushed yet.</td></tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// The open alarms, newest first (closed ones are counted, not listed).
fn alarm_feed(all: &[AlarmRow]) -> String {
    let alarms: Vec<&AlarmRow> = all.iter().filter(|a| a.open).collect();
    let closed = all.len() - alarms.len();
    let mut s = format!(
        "<h2>Alarms</h2><p class=\"note\">{} open alarms{}{}.</p><ul id=\"alarms\">",
        alarms.len(),
        if alarms.len() > FEED {
            format!(", the newest {FEED} shown")
        } else {
            String::new()
        },
        if closed > 0 {
            format!("; {closed} closed")
        } else {
            String::new()
        }
    );
    for a in alarms.iter().take(FEED) {
        let _ = write!(
            s,
            "<li data-kind=\"{kind}\" data-device=\"{device}\" data-open=\"{open}\">\
<time>{time}</time> <span class=\"kind\">{kind}</span> \
<a href=\"{href}\">{device}</a> <span class=\"detail\">{detail}</span></li>",
            kind = escape(a.kind.code()),
            device = escape(&a.device),
            open = a.open,
            time = escape(&rfc3339(a.time)),
            href = device_href(&a.device),
            detail = escape(&a.detail),
        );
    }
    s.push_str("</ul>");
    if alarms.is_empty() {
        s.push_str("<p class=\"note\">No open alarms.</p>");
    }
    s
}

/// The unit for a time axis spanning `span_ms`: its name and milliseconds.
fn time_unit(span_ms: u64) -> (&'static str, f64) {
    match span_ms {
        0..=120_000 => ("seconds", 1_000.0),
        120_001..=7_200_000 => ("minutes", 60_000.0),
        7_200_001..=172_800_000 => ("hours", 3_600_000.0),
        _ => ("days", 86_400_000.0),
    }
}

/// One feature's drift points: (device, test) to (time since the first, statistic).
type Series<'a> = BTreeMap<(&'a str, &'a str), Vec<(f64, f64)>>;

fn drift_plots(points: &[DriftPoint]) -> String {
    let mut s = String::from("<h2>Drift</h2><div id=\"drift\">");
    // feature -> (device, test) -> points; the newest DRIFT_POINTS of all.
    let skip = points.len().saturating_sub(DRIFT_POINTS);
    let start = points.get(skip).map_or(0, |p| p.time);
    let end = points.last().map_or(0, |p| p.time);
    let (unit, per) = time_unit(end.saturating_sub(start));
    let mut by_feature: BTreeMap<&str, Series<'_>> = BTreeMap::new();
    for p in points.iter().skip(skip) {
        let x = p.time.saturating_sub(start) as f64 / per;
        by_feature
            .entry(p.feature.as_str())
            .or_default()
            .entry((p.device.as_str(), p.test.as_str()))
            .or_default()
            .push((x, p.statistic));
    }
    for (feature, series) in &by_feature {
        let names: Vec<String> = series.keys().map(|(d, t)| format!("{d} {t}")).collect();
        let lines: Vec<(&str, &[(f64, f64)])> = names
            .iter()
            .zip(series.values())
            .map(|(n, pts)| (n.as_str(), pts.as_slice()))
            .collect();
        let title = format!(
            "{feature}: test statistic over {unit} since {}",
            rfc3339(start)
        );
        let svg = vigil_report::lines(&title, &lines).replacen(
            "<svg ",
            &format!("<svg data-drift-feature=\"{}\" ", escape(feature)),
            1,
        );
        let _ = write!(
            s,
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            escape(&names.join(", "))
        );
    }
    s.push_str("</div>");
    if by_feature.is_empty() {
        s.push_str("<p class=\"note\">No drift results reported.</p>");
    }
    s
}

async fn fleet(State(c): State<Arc<Collector>>, caller: Option<Extension<Caller>>) -> Response {
    if let Some(r) = not_operator(caller.as_deref()) {
        return r;
    }
    let data = blocking(move || {
        let store = c.store();
        Ok((store.devices()?, store.alarms(0)?, store.drift(None, None)?))
    })
    .await;
    let (devices, alarms, drift) = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let body = format!(
        "<h1>Fleet</h1>{}{}{}",
        fleet_table(&devices),
        alarm_feed(&alarms),
        drift_plots(&drift)
    );
    html(StatusCode::OK, page("Fleet", None, &body))
}

/// Query of `/devices/{id}`: the first entry of the trail page.
#[derive(Debug, Deserialize)]
struct TrailQuery {
    from: Option<u64>,
}

fn checkpoint_table(cps: &[CheckpointRow]) -> String {
    let mut s = String::from(
        "<h2>Checkpoints</h2><table id=\"checkpoints\"><thead><tr><th>size</th><th>root</th>\
<th>received</th><th>accepted</th></tr></thead><tbody>",
    );
    for c in cps.iter().rev() {
        let _ = write!(
            s,
            "<tr data-accepted=\"{acc}\"{cls}><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            c.size,
            escape(&c.root),
            escape(&rfc3339(c.time)),
            if c.accepted { "accepted" } else { "refused" },
            acc = c.accepted,
            cls = if c.accepted { "" } else { " class=\"alarmed\"" },
        );
    }
    s.push_str("</tbody></table>");
    s
}

fn trail(id: &str, entries: &[EntryRow], from: u64, size: u64) -> String {
    let mut s = format!(
        "<h2>Audit trail</h2><p class=\"note\">Entries {from} to {} of {size}. \
\"verify\" fetches the entry and its inclusion proof and checks them in this browser \
(SHA-256, RFC 9162) against the root of the signed checkpoint above.</p><nav class=\"pages\">",
        from.saturating_add(entries.len() as u64)
            .saturating_sub(1)
            .max(from)
    );
    let shown_to = from.saturating_add(entries.len() as u64);
    if from > 0 {
        let _ = write!(
            s,
            "<a href=\"{}?from={}\">older</a> ",
            device_href(id),
            from.saturating_sub(TRAIL_PAGE)
        );
    }
    if shown_to < size {
        let _ = write!(
            s,
            "<a href=\"{}?from={shown_to}\">newer</a>",
            device_href(id)
        );
    }
    s.push_str(
        "</nav><table id=\"trail\"><thead><tr><th>index</th><th>entry</th>\
<th>leaf hash</th><th>proof</th></tr></thead><tbody>",
    );
    for e in entries.iter().rev() {
        let text = String::from_utf8_lossy(&e.entry);
        let shown: String = text.chars().take(ENTRY_CHARS).collect();
        let more = if text.chars().count() > ENTRY_CHARS {
            "…"
        } else {
            ""
        };
        let _ = write!(
            s,
            "<tr data-index=\"{i}\"><td>{i}</td><td><code>{}{more}</code></td>\
<td><code>{}</code></td><td><button type=\"button\" data-verify=\"{i}\">verify</button> \
<span data-verify-result=\"{i}\" data-status=\"\"></span></td></tr>",
            escape(&shown),
            escape(&hex::encode(e.leaf_hash)),
            i = e.index,
        );
    }
    s.push_str("</tbody></table>");
    s
}

async fn device(
    State(c): State<Arc<Collector>>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    Query(q): Query<TrailQuery>,
) -> Response {
    if let Some(r) = not_operator(caller.as_deref()) {
        return r;
    }
    let lookup = id.clone();
    let data = blocking(move || {
        let store = c.store();
        let Some(row) = store.devices()?.into_iter().find(|d| d.id == lookup) else {
            return Ok(None);
        };
        let cps = store.checkpoints(&lookup)?;
        let newest_from = row.size.saturating_sub(TRAIL_PAGE);
        let from = q.from.map_or(newest_from, |f| f.min(newest_from));
        let entries = store.entries(&lookup, from, from.saturating_add(TRAIL_PAGE))?;
        let alarms: Vec<AlarmRow> = store
            .alarms(0)?
            .into_iter()
            .filter(|a| a.device == lookup)
            .take(FEED)
            .collect();
        Ok(Some((row, cps, from, entries, alarms)))
    })
    .await;
    let (row, cps, from, entries, alarms) = match data {
        Ok(Some(d)) => d,
        Ok(None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("no device {id:?} has pushed to this collector"),
            )
        }
        Err(r) => return r,
    };
    let note = cps
        .iter()
        .rev()
        .find(|c| c.accepted)
        .map(|c| c.note.clone())
        .unwrap_or_default();
    let mut body = format!(
        "<h1>Device <span id=\"device-id\">{}</span></h1><dl class=\"facts\">\
<dt>model</dt><dd>{}</dd><dt>version</dt><dd>{}</dd><dt>accepted entries</dt><dd>{}</dd>\
<dt>last checkpoint</dt><dd>{}</dd><dt>last seen</dt><dd>{}</dd><dt>open alarms</dt><dd>{}</dd></dl>\
<h2>Newest accepted checkpoint</h2><pre id=\"checkpoint\" data-size=\"{}\">{}</pre>",
        escape(&row.id),
        escape(row.model.as_deref().unwrap_or("-")),
        escape(row.version.as_deref().unwrap_or("-")),
        row.size,
        when(row.last_checkpoint_time),
        when(row.last_seen),
        row.open_alarms,
        row.size,
        escape(&note),
    );
    body.push_str(&alarm_feed(&alarms));
    body.push_str(&trail(&row.id, &entries, from, row.size));
    body.push_str(&checkpoint_table(&cps));
    html(
        StatusCode::OK,
        page(&format!("Device {}", row.id), Some(&row.id), &body),
    )
}

async fn favicon() -> Response {
    let mut r = secured(StatusCode::OK, "image/svg+xml", FAVICON.to_string());
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400"),
    );
    r
}

async fn script() -> Response {
    secured(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        SCRIPT.to_string(),
    )
}

async fn style() -> Response {
    secured(StatusCode::OK, "text/css; charset=utf-8", STYLE.to_string())
}
