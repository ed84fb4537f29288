-- Project 06 steering committees (Ban Chỉ đạo 06) and work groups (Tổ công tác 06) at province,
-- commune and village level (issue #17, part 3): members with their roles, tasks assigned to a
-- member (one-off with a deadline, or recurring), and progress reports with an attachment.
CREATE TABLE committees (
    id TEXT PRIMARY KEY,
    -- steering (Ban Chỉ đạo) or work_group (Tổ công tác)
    kind TEXT NOT NULL,
    -- province, commune or village
    level TEXT NOT NULL,
    -- the province or commune it belongs to (a village's commune)
    unit TEXT NOT NULL,
    province TEXT NOT NULL,
    -- the village or residential group (thôn, tổ dân phố) of a village-level group
    village TEXT,
    name TEXT NOT NULL,
    -- the officer (token subject) who keeps it: assigns tasks, records members
    secretary TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX committees_province ON committees (province, unit);

CREATE TABLE committee_members (
    committee_id TEXT NOT NULL REFERENCES committees (id),
    -- the officer's token subject, or an identifier the secretary gives a member without one
    member TEXT NOT NULL,
    name TEXT NOT NULL,
    -- head, deputy, member, secretary
    role TEXT NOT NULL,
    position TEXT NOT NULL,
    PRIMARY KEY (committee_id, member)
);

CREATE TABLE committee_tasks (
    id TEXT PRIMARY KEY,
    committee_id TEXT NOT NULL REFERENCES committees (id),
    title TEXT NOT NULL,
    owner TEXT NOT NULL,
    -- a one-off task's deadline (YYYY-MM-DD); a recurring one's first report date
    deadline TEXT NOT NULL,
    -- NULL (one-off), weekly, monthly or quarterly
    recurring TEXT,
    -- assigned, in_progress, done
    status TEXT NOT NULL,
    progress BIGINT NOT NULL DEFAULT 0,
    -- the indicator it moves, and the value to reach by the deadline
    indicator TEXT,
    target DOUBLE PRECISION,
    last_report_on TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX committee_tasks_committee ON committee_tasks (committee_id);

CREATE TABLE task_reports (
    id BIGSERIAL PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES committee_tasks (id),
    at TEXT NOT NULL,
    author TEXT NOT NULL,
    progress BIGINT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    attachment_name TEXT,
    attachment_type TEXT,
    attachment_sha256 TEXT,
    attachment BYTEA
);
CREATE INDEX task_reports_task ON task_reports (task_id, id);
