-- 0008 scene versions (SQLite): every version of a scene's rules, written with the scene in one
-- transaction; and whether a scene takes new sessions. Existing scenes get their current version
-- copied in (created_by NULL: written before versions were kept).

ALTER TABLE scenes ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'disabled'));

CREATE TABLE scene_versions (
    tenant_id   TEXT NOT NULL,
    scene_id    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    config      TEXT NOT NULL,
    created_by  TEXT,
    created_at  TEXT NOT NULL,
    CONSTRAINT scene_versions_pkey PRIMARY KEY (tenant_id, scene_id, version),
    CONSTRAINT scene_versions_scene_fkey FOREIGN KEY (tenant_id, scene_id)
        REFERENCES scenes (tenant_id, id)
);

INSERT INTO scene_versions (tenant_id, scene_id, version, name, config, created_by, created_at)
SELECT tenant_id, id, version, name, config, NULL, updated_at FROM scenes;
