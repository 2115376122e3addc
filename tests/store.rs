//! The store contract, on SQLite and (with `WANGGE_TEST_DATABASE_URL`) on PostgreSQL + PostGIS.

use crate::common;

use chrono::{Duration, TimeZone, Utc};
use common::fresh_store;
use wangge::domain::jurisdiction::{IndexedFeature, Jurisdiction, Layer};
use wangge::store::{Audit, StoreError};

/// A square grid near 郑州站, WGS84 lon/lat degrees, about 100 m on a side.
fn square(code: &str, name: &str, x0: f64) -> Jurisdiction {
    let (y0, d) = (34.7452, 0.0009);
    Jurisdiction {
        layer: Layer::Grid,
        code: code.into(),
        name: name.into(),
        parent_code: Some(code[..12].into()),
        unit_code: None,
        kind: None,
        props: serde_json::Map::from_iter([("area_m2".to_owned(), serde_json::json!(9_300.5))]),
        geometry: geo::Polygon::new(
            geo::LineString::from(vec![
                (x0, y0),
                (x0 + d, y0),
                (x0 + d, y0 + d),
                (x0, y0 + d),
                (x0, y0),
            ]),
            vec![],
        )
        .into(),
    }
}

fn t(y: i32, m: u32, d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().unwrap()
}

#[tokio::test]
async fn migrations_can_run_twice() {
    let db = fresh_store().await;
    db.store.migrate().await.unwrap();
}

#[tokio::test]
async fn a_new_layer_version_closes_the_old_one_and_both_answer_by_date() {
    let db = fresh_store().await;
    let s = &db.store;
    let audit = Audit::system();
    let v1 = vec![
        square("410103001001001", "第001网格", 113.6500),
        square("410103001001002", "第002网格", 113.6509),
    ];
    s.publish_layer(Layer::Grid, &v1, t(2024, 1, 1), "test v1", &audit)
        .await
        .unwrap();
    let mut v2 = v1.clone();
    v2[0].name = "第001网格(调整后)".into();
    v2.pop();
    s.publish_layer(Layer::Grid, &v2, t(2025, 7, 1), "test v2", &audit)
        .await
        .unwrap();

    let before = s
        .features_at(Layer::Grid, Some(t(2025, 6, 30)))
        .await
        .unwrap();
    assert_eq!(before.len(), 2);
    assert_eq!(before[0].feature.name, "第001网格");
    assert_eq!(before[0].version, 1);
    assert_eq!(before[0].valid_to, Some(t(2025, 7, 1)));

    let after = s
        .features_at(Layer::Grid, Some(t(2025, 7, 1)))
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].feature.name, "第001网格(调整后)");
    assert_eq!(after[0].version, 2);

    let current = s.features_at(Layer::Grid, None).await.unwrap();
    assert_eq!(current.len(), 1);
    assert!(
        s.features_at(Layer::Grid, Some(t(2023, 12, 31)))
            .await
            .unwrap()
            .is_empty()
    );

    let versions = s.layer_versions(Some(Layer::Grid)).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[1].feature_count, 1);
}

#[tokio::test]
async fn geometry_and_attributes_come_back_exactly_as_stored() {
    let db = fresh_store().await;
    let g = square("410103001001001", "第001网格", 113.65);
    db.store
        .publish_layer(
            Layer::Grid,
            std::slice::from_ref(&g),
            t(2024, 1, 1),
            "t",
            &Audit::system(),
        )
        .await
        .unwrap();
    let back = db.store.features_at(Layer::Grid, None).await.unwrap();
    assert_eq!(back[0].feature, g);
}

#[tokio::test]
async fn the_index_reads_the_features_valid_at_a_date_with_the_properties_it_uses() {
    let db = fresh_store().await;
    let audit = Audit::system();
    let mut g = square("410103001001001", "第001网格", 113.65);
    g.props.extend([
        ("area_class".to_owned(), serde_json::json!(1)),
        ("management_level".to_owned(), serde_json::json!(2)),
        (
            "remark".to_owned(),
            serde_json::json!({"long": ["text", "text"]}),
        ),
    ]);
    let old = square("410103001001002", "第002网格", 113.6509);
    let s = &db.store;
    s.publish_layer(Layer::Grid, &[g.clone(), old], t(2024, 1, 1), "v1", &audit)
        .await
        .unwrap();
    s.publish_layer(
        Layer::Grid,
        std::slice::from_ref(&g),
        t(2025, 1, 1),
        "v2",
        &audit,
    )
    .await
    .unwrap();

    let read = s.index_features(Layer::Grid, None).await.unwrap();
    assert_eq!(read.len(), 1, "only the current version's features");
    assert_eq!(
        read[0],
        IndexedFeature::from(g.clone()),
        "every field as stored"
    );
    assert_eq!(read[0].props.area_class, Some(1));
    assert_eq!(read[0].props.area_class, g.area_class());

    let past = s
        .index_features(Layer::Grid, Some(t(2024, 6, 1)))
        .await
        .unwrap();
    assert_eq!(
        past.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
        ["410103001001001", "410103001001002"],
        "a past date reads the features valid then, ordered by code"
    );
}

#[tokio::test]
async fn a_version_dated_before_the_current_one_is_refused_and_changes_nothing() {
    let db = fresh_store().await;
    let s = &db.store;
    let v1 = vec![square("410103001001001", "a", 113.65)];
    s.publish_layer(Layer::Grid, &v1, t(2025, 1, 1), "v1", &Audit::system())
        .await
        .unwrap();
    let err = s
        .publish_layer(Layer::Grid, &v1, t(2024, 1, 1), "v0", &Audit::system())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(s.layer_versions(None).await.unwrap().len(), 1);
    assert_eq!(s.features_at(Layer::Grid, None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_import_with_a_duplicate_code_is_rolled_back_whole() {
    let db = fresh_store().await;
    let s = &db.store;
    let v1 = vec![square("410103001001001", "a", 113.65)];
    s.publish_layer(Layer::Grid, &v1, t(2025, 1, 1), "v1", &Audit::system())
        .await
        .unwrap();
    let events_before = s.list_events(&Default::default()).await.unwrap().len();
    let dup = vec![
        square("410103001001009", "x", 113.66),
        square("410103001001009", "y", 113.67),
    ];
    let err = s
        .publish_layer(Layer::Grid, &dup, t(2025, 2, 1), "dup", &Audit::system())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    // The old version is still current and untouched; no version, no event was added.
    let current = s.features_at(Layer::Grid, None).await.unwrap();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].valid_to, None);
    assert_eq!(s.layer_versions(None).await.unwrap().len(), 1);
    assert_eq!(
        s.list_events(&Default::default()).await.unwrap().len(),
        events_before
    );
}

#[tokio::test]
async fn a_feature_naming_an_unknown_responsible_unit_is_refused() {
    let db = fresh_store().await;
    let mut g = square("410103001001001", "a", 113.65);
    g.unit_code = Some("no-such-unit".into());
    let err = db
        .store
        .publish_layer(Layer::Grid, &[g], t(2025, 1, 1), "v1", &Audit::system())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidReference(_)), "{err}");
    assert!(db.store.layer_versions(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let db = fresh_store().await;
    let s = &db.store;
    s.publish_layer(
        Layer::Grid,
        &[square("410103001001001", "a", 113.65)],
        t(2025, 1, 1),
        "v1",
        &Audit::system(),
    )
    .await
    .unwrap();
    let update = "UPDATE events SET action = 'forged'";
    let delete = "DELETE FROM events";
    let results = match (s.sqlite_pool(), s.postgres_pool()) {
        (Some(p), _) => [
            sqlx::query(update).execute(p).await.is_err(),
            sqlx::query(delete).execute(p).await.is_err(),
        ],
        (_, Some(p)) => [
            sqlx::query(update).execute(p).await.is_err(),
            sqlx::query(delete).execute(p).await.is_err(),
        ],
        _ => unreachable!(),
    };
    assert_eq!(results, [true, true]);
    assert_eq!(
        s.list_events(&Default::default()).await.unwrap()[0].action,
        "layer.published"
    );
}

#[tokio::test]
async fn tokens_resolve_until_revoked() {
    let db = fresh_store().await;
    let s = &db.store;
    let user = s
        .create_user(
            &wangge::store::NewUser {
                username: "planner1".into(),
                display_name: "规划一".into(),
                role: wangge::domain::identity::Role::Planner,
                unit_code: None,
                password_hash: "x".into(),
                is_demo: false,
                grids: vec![],
            },
            &Audit::system(),
        )
        .await
        .unwrap();
    s.insert_token(
        user.id,
        "h1",
        Utc::now() + Duration::hours(1),
        &Audit::system(),
    )
    .await
    .unwrap();
    let found = s.lookup_token("h1").await.unwrap().unwrap();
    assert_eq!(found.principal.username, "planner1");
    assert_eq!(found.revoked_at, None);
    s.revoke_token("h1", &Audit::system()).await.unwrap();
    assert!(
        s.lookup_token("h1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(s.lookup_token("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn on_postgis_the_geometry_is_a_real_srid_4326_column_with_a_gist_index() {
    let db = fresh_store().await;
    let Some(pool) = db.store.postgres_pool() else {
        // SQLite stores WKB plus a bounding box; the PostGIS half of this test runs in .ci/run.
        assert_eq!(db.store.backend_name(), "sqlite");
        return;
    };
    db.store
        .publish_layer(
            Layer::Grid,
            &[square("410103001001001", "a", 113.65)],
            t(2025, 1, 1),
            "v1",
            &Audit::system(),
        )
        .await
        .unwrap();
    let (srid, valid, area): (i32, bool, f64) = sqlx::query_as(
        "SELECT ST_SRID(geom), ST_IsValid(geom), ST_Area(geom::geography) FROM current_grid",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(srid, 4326);
    assert!(valid);
    assert!((area - 8_250.0).abs() < 400.0, "area {area} m²");
    let gist: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'jurisdictions' AND indexdef LIKE '%USING gist%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(gist >= 1);
}
