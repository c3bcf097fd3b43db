-- 0008 scene versions (PostgreSQL): every version of a scene's rules, written with the scene in
-- one statement; and whether a scene takes new sessions. Existing scenes get their current version
-- copied in (created_by NULL: written before versions were kept).

ALTER TABLE scenes ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CONSTRAINT scenes_status_check CHECK (status IN ('active', 'disabled'));

CREATE TABLE scene_versions (
    tenant_id   UUID NOT NULL,
    scene_id    UUID NOT NULL,
    version     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    config      JSONB NOT NULL,
    created_by  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT scene_versions_pkey PRIMARY KEY (tenant_id, scene_id, version),
    CONSTRAINT scene_versions_scene_fkey FOREIGN KEY (tenant_id, scene_id)
        REFERENCES scenes (tenant_id, id)
);

INSERT INTO scene_versions (tenant_id, scene_id, version, name, config, created_by, created_at)
SELECT tenant_id, id, version, name, config, NULL, updated_at FROM scenes;
