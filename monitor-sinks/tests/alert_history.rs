//! The alert tables of `stats.db` (schema version 8): a version-7 file is
//! migrated, rows saved with the host's saves are read back read-only, and a
//! second writer acknowledges an open episode (or is told why not).

use std::path::PathBuf;

use monitor_sinks::stats_store::{
    acknowledge_episode, legacy_schema, read_episode, read_history, AckOutcome, AlertHistoryRow,
    EpisodeRow, EpisodeWrite, HistoryFilter, StatsStore, SCHEMA_VERSION,
};

fn db(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    let path = dir.path().join("stats.db");
    (dir, path)
}

fn row(episode: i64, time: &str, state: &str) -> AlertHistoryRow {
    AlertHistoryRow {
        episode,
        time: time.into(),
        rule: "consecutive_failures".into(),
        function: Some("job".into()),
        state: state.into(),
        severity: "error".into(),
        message: format!("{state} at {time}"),
        since: "2026-01-01T00:00:00.000000Z".into(),
        alert: "{}".into(),
        ..AlertHistoryRow::default()
    }
}

fn open_episode(episode: i64) -> EpisodeWrite {
    EpisodeWrite::Open(EpisodeRow {
        episode,
        rule: "consecutive_failures".into(),
        function: Some("job".into()),
        severity: "error".into(),
        since: "2026-01-01T00:00:00.000000Z".into(),
        fired_at: "2026-01-01T00:00:01.000000Z".into(),
        ..EpisodeRow::default()
    })
}

#[test]
fn versions_6_and_7_are_migrated_to_8_with_an_empty_history() {
    for version in [6, 7] {
        let (_dir, path) = db(&format!("v{version}"));
        legacy_schema::write_legacy_file(&path, version, &[]).unwrap();
        let (rows, _) = read_history(&path, &HistoryFilter::default()).unwrap();
        assert!(
            rows.is_empty(),
            "a version-{version} file reads as no history"
        );
        let store = StatsStore::open(&path).unwrap();
        assert_eq!(store.report().migrated_from, Some(i64::from(version)));
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.open_episodes().unwrap(), (Vec::new(), 0));
    }
    let (_dir, path) = db("v8");
    let store = StatsStore::open(&path).unwrap();
    assert_eq!(store.report().migrated_from, None);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.open_episodes().unwrap(), (Vec::new(), 0));
}

#[test]
fn saved_notifications_read_back_filtered_and_acknowledged_by_a_second_writer() {
    let (_dir, path) = db("history");
    let mut store = StatsStore::open(&path).unwrap();
    store
        .save_with_alerts(
            &[],
            &[],
            None,
            &[
                row(1, "2026-01-01T00:00:01.000000Z", "firing"),
                row(1, "2026-01-01T01:00:01.000000Z", "resolved"),
                row(2, "2026-01-02T00:00:01.000000Z", "firing"),
            ],
            &[
                open_episode(1),
                EpisodeWrite::Resolve {
                    episode: 1,
                    at: "2026-01-01T01:00:01.000000Z".into(),
                },
                open_episode(2),
            ],
        )
        .unwrap();
    let (rows, episodes) = read_history(&path, &HistoryFilter::default()).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.episode, r.state.as_str()))
            .collect::<Vec<_>>(),
        [(2, "firing"), (1, "resolved"), (1, "firing")]
    );
    assert_eq!(episodes.len(), 2);
    let since = HistoryFilter {
        since: Some("2026-01-01T00:30:00.000000Z".into()),
        limit: 1,
        ..HistoryFilter::default()
    };
    assert_eq!(read_history(&path, &since).unwrap().0[0].episode, 2);
    let (open, max) = store.open_episodes().unwrap();
    assert_eq!((open.len(), open[0].episode, max), (1, 2, 2));

    let at = "2026-01-02T00:10:00.000000Z";
    assert_eq!(
        acknowledge_episode(&path, 9, "eve", None, at).unwrap(),
        AckOutcome::Unknown
    );
    assert!(matches!(
        acknowledge_episode(&path, 1, "eve", None, at).unwrap(),
        AckOutcome::Resolved(_)
    ));
    assert!(matches!(
        acknowledge_episode(&path, 2, "eve", Some("looking"), at).unwrap(),
        AckOutcome::Acknowledged(_)
    ));
    // The host's connection sees it once: data_version changed.
    let mut seen = None;
    let first = store.acknowledged_elsewhere(&mut seen).unwrap().unwrap();
    assert_eq!(first[0].acknowledged_by.as_deref(), Some("eve"));
    assert_eq!(store.acknowledged_elsewhere(&mut seen).unwrap(), None);
    let episode = read_episode(&path, 2).unwrap().unwrap();
    assert_eq!(episode.ack_note.as_deref(), Some("looking"));
    assert!(read_episode(&path, 3).unwrap().is_none());
}
