-- Replicas learn of each other's edits by LISTEN/NOTIFY (docs/scaling.md). The notices are sent
-- by triggers, so every writer (any replica, the CLI, a hand-run SQL script) sends them, and
-- inside the writing transaction: PostgreSQL delivers a NOTIFY only when (and if) it commits.
-- Statement-level triggers with a constant payload: notices equal within one transaction are
-- folded into one, so an import of many rows sends one notice.

-- The data revision (layers, city imports, categories, units): listeners rebuild the index.
CREATE FUNCTION wangge_notify_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wangge_revision', TG_ARGV[0]);
    RETURN NULL;
END
$$;

CREATE TRIGGER data_revision_notify AFTER UPDATE ON data_revision
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_revision('data');
CREATE TRIGGER dispatch_rules_notify AFTER INSERT ON dispatch_rule_versions
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_revision('dispatch_rules');
CREATE TRIGGER calendar_years_notify AFTER INSERT OR UPDATE OR DELETE ON calendar_years
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_revision('calendar');

-- New audit events: wakes the case stream's poller early (it polls anyway).
CREATE FUNCTION wangge_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wangge_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_events();
