//! The collector's whole HTTP surface: the API routes and the dashboard's pages.

use std::sync::Arc;

use axum::Router;

use crate::api::{api_routes, Metrics};
use crate::collector::Collector;

/// The collector's routes over `collector`, counting into `metrics`: the device push protocol,
/// the operators' API and `/metrics` , and the
/// operators' dashboard at `/`. Who is calling comes from a [`crate::Caller`] in each request's
/// extensions (the mutual-TLS server puts it there; a request without one is refused).
pub fn router(collector: Arc<Collector>, metrics: Arc<Metrics>) -> Router {
    api_routes(collector.clone(), metrics).merge(crate::dashboard::routes(collector))
}
