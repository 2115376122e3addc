//! The OpenAPI document (`/api/openapi.json`) and a vendored Swagger UI (`/api/docs`), which works
//! with no internet.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    admin, assign, auth, calendar, cases, error, health, hotspots, import, layers, photos, stream,
    tiles,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "wangge 网格化城市管理 API", description = "Urban grid management: jurisdictions, assignment, cases, hotspots."),
    paths(
        health::healthz, health::metrics,
        auth::login, auth::logout, auth::me,
        admin::list_users, admin::create_user, admin::set_user_grids, admin::revoke_user_tokens,
        admin::list_units, admin::upsert_unit, admin::get_unit, admin::unit_users, admin::list_events,
        layers::list_versions, layers::export_layer, layers::basemap, tiles::tile, tiles::cases_tile,
        assign::assign_point, assign::assign_batch,
        cases::create_case, cases::public_report, cases::follow_report, cases::get_case, cases::act, cases::list_cases,
        cases::export_cases, cases::import_hotline, cases::list_categories, cases::category_versions, cases::put_category,
        calendar::get_calendar, calendar::put_year,
        photos::add_case_photo, photos::add_citizen_photo, photos::get_photo, stream::case_stream,
        import::import_layer, import::import_basemap, import::import_units, import::import_history, import::import_osm,
        hotspots::kde, hotspots::kde_upload, hotspots::aggregate, hotspots::aggregate_upload,
        hotspots::gistar, hotspots::gistar_upload, hotspots::emerging, hotspots::emerging_upload,
        hotspots::blindspots, hotspots::blindspots_upload, hotspots::frontages, hotspots::zones, hotspots::zones_upload,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// Routes of the document and the UI.
pub fn swagger_ui<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    SwaggerUi::new("/api/docs")
        .url("/api/openapi.json", ApiDoc::openapi())
        .into()
}
