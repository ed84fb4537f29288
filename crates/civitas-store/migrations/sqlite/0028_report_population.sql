-- The register's population per unit as counted on a day (issue #17: birth and death
-- registration completeness). Living people by commune of permanent residence, summed to
-- provinces and the nation; one count a day, taken by the `reports.population` job or
-- `civitas reports population`.
CREATE TABLE report_population (
    unit TEXT NOT NULL,
    day TEXT NOT NULL,
    people BIGINT NOT NULL,
    PRIMARY KEY (unit, day)
);
