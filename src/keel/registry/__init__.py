"""The registry: versions, aliases, snapshots, runs, lineage and the audit trail."""
