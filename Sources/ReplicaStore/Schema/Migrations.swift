import Foundation
import GRDB
import SyncProtocol

/// The replica's schema, one registered migration per change. Never edit a shipped migration: add one.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: entities, change log, conflicts, sync state") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sync_state (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;

                    -- Every change applied here, local or remote, in the order it was applied: the set of applied
                    -- dots (unique), the outbox (origin 'local', status 'pending'), the rejected changes and the
                    -- immutable change history of every record.
                    CREATE TABLE change_log (
                        seq INTEGER PRIMARY KEY,
                        replica TEXT NOT NULL,
                        counter INTEGER NOT NULL,
                        entity TEXT NOT NULL,
                        record_id TEXT NOT NULL,
                        origin TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
                        status TEXT CHECK (status IN ('pending', 'acked', 'rejected')),
                        reject_code TEXT,
                        reject_reason TEXT,
                        applied_at INTEGER NOT NULL,
                        change BLOB NOT NULL,
                        old_values BLOB
                    );
                    CREATE UNIQUE INDEX change_log_dot ON change_log (replica, counter);
                    CREATE INDEX change_log_record ON change_log (entity, record_id, seq);
                    CREATE INDEX change_log_pending ON change_log (counter) WHERE status = 'pending';
                    CREATE INDEX change_log_rejected ON change_log (seq) WHERE status = 'rejected';

                    -- Losing values of concurrent writes, kept for review; resolved ones stay as a record.
                    CREATE TABLE conflict (
                        id TEXT PRIMARY KEY NOT NULL,
                        entity TEXT NOT NULL,
                        record_id TEXT NOT NULL,
                        field TEXT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
                        detected_seq INTEGER REFERENCES change_log (seq),
                        resolved_seq INTEGER REFERENCES change_log (seq),
                        body TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX conflict_open ON conflict (entity, record_id) WHERE status = 'open';

                    -- Records of entities this build does not know (from a newer server), kept and passed on.
                    CREATE TABLE other_record (
                        entity TEXT NOT NULL, id TEXT NOT NULL, _state BLOB NOT NULL, PRIMARY KEY (entity, id)
                    ) WITHOUT ROWID;
                    """
            )
            for table in EntityTable.all.values.sorted(by: { $0.name < $1.name }) {
                try db.execute(sql: table.createSQL)
            }
            try db.execute(
                sql: """
                    CREATE INDEX contact_account ON contact (account_id);
                    CREATE INDEX activity_account ON activity (account_id, occurred_at);
                    CREATE INDEX task_account ON task (account_id);
                    CREATE INDEX task_due ON task (status, due_at);
                    CREATE INDEX deal_account ON deal (account_id);
                    CREATE INDEX deal_stage ON deal (stage);
                    CREATE INDEX invoice_account ON invoice (account_id);
                    CREATE INDEX invoice_unpaid_due ON invoice (due_at) WHERE paid_at IS NULL;
                    CREATE INDEX product_part ON product (part_number);
                    CREATE INDEX product_name ON product (name COLLATE NOCASE);
                    CREATE INDEX stock_part ON stock (part_number, warehouse);
                    CREATE INDEX account_territory ON account (territory);

                    -- Name search (FTS5, external content kept in step by triggers).
                    CREATE VIRTUAL TABLE account_search USING fts5(
                        name, content = 'account', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
                    );
                    CREATE TRIGGER account_search_insert AFTER INSERT ON account BEGIN
                        INSERT INTO account_search (rowid, name) VALUES (new.rowid, new.name);
                    END;
                    CREATE TRIGGER account_search_delete AFTER DELETE ON account BEGIN
                        INSERT INTO account_search (account_search, rowid, name) VALUES ('delete', old.rowid, old.name);
                    END;
                    CREATE TRIGGER account_search_update AFTER UPDATE OF name ON account
                    WHEN old.name IS NOT new.name BEGIN
                        INSERT INTO account_search (account_search, rowid, name) VALUES ('delete', old.rowid, old.name);
                        INSERT INTO account_search (rowid, name) VALUES (new.rowid, new.name);
                    END;
                    CREATE VIRTUAL TABLE contact_search USING fts5(
                        first_name, last_name, content = 'contact', content_rowid = 'rowid',
                        tokenize = 'unicode61 remove_diacritics 2'
                    );
                    CREATE TRIGGER contact_search_insert AFTER INSERT ON contact BEGIN
                        INSERT INTO contact_search (rowid, first_name, last_name)
                        VALUES (new.rowid, new.first_name, new.last_name);
                    END;
                    CREATE TRIGGER contact_search_delete AFTER DELETE ON contact BEGIN
                        INSERT INTO contact_search (contact_search, rowid, first_name, last_name)
                        VALUES ('delete', old.rowid, old.first_name, old.last_name);
                    END;
                    CREATE TRIGGER contact_search_update AFTER UPDATE OF first_name, last_name ON contact
                    WHEN old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name BEGIN
                        INSERT INTO contact_search (contact_search, rowid, first_name, last_name)
                        VALUES ('delete', old.rowid, old.first_name, old.last_name);
                        INSERT INTO contact_search (rowid, first_name, last_name)
                        VALUES (new.rowid, new.first_name, new.last_name);
                    END;
                    """
            )
        }
        migrator.registerMigration("v2: indexes for every list, product search by any part, live counts") { db in
            try db.execute(
                sql: """
                    -- Partial indexes of live records: a list reads its page in index order, and counts the rest
                    -- without reading a row. They replace v1's task_due, deal_stage and invoice_unpaid_due.
                    DROP INDEX task_due;
                    DROP INDEX deal_stage;
                    DROP INDEX invoice_unpaid_due;
                    CREATE INDEX task_status_due ON task (status, due_at) WHERE _deleted = 0;
                    CREATE INDEX task_all_due ON task (due_at) WHERE _deleted = 0;
                    CREATE INDEX task_assignee ON task (assignee, status, due_at) WHERE _deleted = 0;
                    CREATE INDEX task_account_status ON task (account_id, status, due_at) WHERE _deleted = 0;
                    CREATE INDEX deal_close ON deal (expected_close IS NULL, expected_close) WHERE _deleted = 0;
                    CREATE INDEX deal_stage_close ON deal (stage, expected_close IS NULL, expected_close)
                        WHERE _deleted = 0;
                    CREATE INDEX deal_account_close ON deal (account_id, expected_close IS NULL, expected_close)
                        WHERE _deleted = 0;
                    CREATE INDEX deal_pipeline ON deal (stage, currency, amount) WHERE _deleted = 0;
                    CREATE INDEX invoice_all_due ON invoice (due_at) WHERE _deleted = 0;
                    CREATE INDEX invoice_unpaid_due ON invoice (due_at) WHERE paid_at IS NULL AND _deleted = 0;
                    CREATE INDEX invoice_account_due ON invoice (account_id, due_at) WHERE _deleted = 0;
                    CREATE INDEX account_name ON account (name COLLATE NOCASE, id) WHERE _deleted = 0;

                    -- Part numbers and names by any part of them (three characters or more).
                    CREATE VIRTUAL TABLE product_search USING fts5(
                        part_number, name, content = 'product', content_rowid = 'rowid', tokenize = 'trigram'
                    );
                    INSERT INTO product_search (product_search) VALUES ('rebuild');
                    CREATE TRIGGER product_search_insert AFTER INSERT ON product BEGIN
                        INSERT INTO product_search (rowid, part_number, name) VALUES (new.rowid, new.part_number, new.name);
                    END;
                    CREATE TRIGGER product_search_delete AFTER DELETE ON product BEGIN
                        INSERT INTO product_search (product_search, rowid, part_number, name)
                        VALUES ('delete', old.rowid, old.part_number, old.name);
                    END;
                    CREATE TRIGGER product_search_update AFTER UPDATE OF part_number, name ON product
                    WHEN old.part_number IS NOT new.part_number OR old.name IS NOT new.name BEGIN
                        INSERT INTO product_search (product_search, rowid, part_number, name)
                        VALUES ('delete', old.rowid, old.part_number, old.name);
                        INSERT INTO product_search (rowid, part_number, name) VALUES (new.rowid, new.part_number, new.name);
                    END;

                    -- Live records per entity, kept by triggers, so counts never scan a table.
                    CREATE TABLE record_count (entity TEXT PRIMARY KEY NOT NULL, live INTEGER NOT NULL) WITHOUT ROWID;
                    """
            )
            for table in EntityTable.all.values.sorted(by: { $0.name < $1.name }) {
                let name = table.name
                try db.execute(
                    sql: """
                        INSERT INTO record_count (entity, live)
                        SELECT '\(name)', COUNT(*) FROM \(name) WHERE _deleted = 0;
                        CREATE TRIGGER \(name)_count_insert AFTER INSERT ON \(name) BEGIN
                            UPDATE record_count SET live = live + 1 - new._deleted WHERE entity = '\(name)';
                        END;
                        CREATE TRIGGER \(name)_count_delete AFTER DELETE ON \(name) BEGIN
                            UPDATE record_count SET live = live - 1 + old._deleted WHERE entity = '\(name)';
                        END;
                        CREATE TRIGGER \(name)_count_update AFTER UPDATE OF _deleted ON \(name)
                        WHEN old._deleted IS NOT new._deleted BEGIN
                            UPDATE record_count SET live = live + old._deleted - new._deleted WHERE entity = '\(name)';
                        END;
                        """
                )
            }
        }
        // A laptop that speaks an older release's schema (SchemaProfile, the schema-evolution tests) stops where
        // that release stopped; opened by this release later, its replica is upgraded like a real older one.
        guard CRMSchema.profile.speaks("0.16") else { return migrator }
        migrator.registerMigration("v3: appointments; task remind_at; deal owner, created_at, closed_at") { db in
            try addRelease016(db)
        }
        guard CRMSchema.profile.speaks("0.17") else { return migrator }
        migrator.registerMigration(
            "v4: plans, stage norms; deal source; activity direction and sale lines; invoice collection_status"
        ) { db in
            // When each deal entered its stage, kept beside the deal by RecordStorage (see saveStageSince).
            try db.execute(
                sql: """
                    CREATE TABLE deal_stage_since (id TEXT PRIMARY KEY NOT NULL, stage TEXT, since INTEGER) WITHOUT ROWID;
                    CREATE INDEX deal_stage_since_stage ON deal_stage_since (stage, since);
                    """
            )
            try addRelease(db, entities: [.plan, .stageNorm], extending: [.deal, .activity, .invoice])
            for row in try Row.fetchAll(db, sql: "SELECT _state FROM deal") {
                try RecordStorage.saveStageSince(db, try RecordState(binary: [UInt8](row[0] as Data)))
            }
            try db.execute(
                sql: """
                    CREATE INDEX IF NOT EXISTS activity_occurred ON activity (occurred_at);
                    CREATE INDEX IF NOT EXISTS activity_part ON activity (part_number, occurred_at)
                        WHERE part_number IS NOT NULL;
                    CREATE INDEX IF NOT EXISTS deal_created ON deal (created_at) WHERE _deleted = 0;
                    CREATE INDEX IF NOT EXISTS account_owner ON account (owner) WHERE _deleted = 0;
                    CREATE INDEX IF NOT EXISTS invoice_issued ON invoice (issued_at) WHERE _deleted = 0;
                    CREATE INDEX IF NOT EXISTS deal_closed ON deal (closed_at) WHERE _deleted = 0 AND closed_at IS NOT NULL;
                    """
            )
        }
        guard CRMSchema.profile.speaks("0.19") else { return migrator }
        migrator.registerMigration("v5: documents and their versions; the blob queues") { db in
            try addRelease(db, entities: [.document, .documentVersion], extending: [])
            // The blob queues (BlobQueue): contents this laptop must upload, how far each got and why the last try
            // failed; contents it failed to download. The contents themselves are files in the replica's blob
            // folder (`replica.sqlite-blobs/`), named by digest.
            try db.execute(
                sql: """
                    CREATE INDEX IF NOT EXISTS document_account ON document (account_id) WHERE _deleted = 0;
                    CREATE INDEX IF NOT EXISTS document_deal ON document (deal_id) WHERE _deleted = 0;
                    CREATE INDEX IF NOT EXISTS document_version_document ON document_version (document_id, created_at);
                    CREATE INDEX IF NOT EXISTS document_version_digest ON document_version (digest);
                    CREATE TABLE blob_upload (
                        digest TEXT PRIMARY KEY NOT NULL,
                        size INTEGER NOT NULL,
                        media_type TEXT,
                        sent INTEGER NOT NULL DEFAULT 0,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        last_error TEXT,
                        next_try INTEGER NOT NULL DEFAULT 0,
                        added_at INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE blob_download (
                        digest TEXT PRIMARY KEY NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        last_error TEXT,
                        next_try INTEGER NOT NULL DEFAULT 0
                    ) WITHOUT ROWID;
                    """
            )
        }
        return migrator
    }

    /// A release's additions, for a replica an older build made: the new entities' tables with their live-count
    /// triggers (a replica this build created has them from v1), the new columns of `extending`, and what the
    /// older build kept without understanding it (records in `other_record`, fields in `_extra`) moved into them.
    static func addRelease(_ db: Database, entities: [EntityKind], extending: [EntityKind]) throws {
        for entity in entities {
            guard let table = EntityTable.of(entity), try !db.tableExists(table.name) else { continue }
            let name = table.name
            try db.execute(sql: table.createSQL)
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO record_count (entity, live) VALUES ('\(name)', 0);
                    CREATE TRIGGER \(name)_count_insert AFTER INSERT ON \(name) BEGIN
                        UPDATE record_count SET live = live + 1 - new._deleted WHERE entity = '\(name)';
                    END;
                    CREATE TRIGGER \(name)_count_delete AFTER DELETE ON \(name) BEGIN
                        UPDATE record_count SET live = live - 1 + old._deleted WHERE entity = '\(name)';
                    END;
                    CREATE TRIGGER \(name)_count_update AFTER UPDATE OF _deleted ON \(name)
                    WHEN old._deleted IS NOT new._deleted BEGIN
                        UPDATE record_count SET live = live + old._deleted - new._deleted WHERE entity = '\(name)';
                    END;
                    """
            )
        }
        for entity in extending {
            guard let table = EntityTable.of(entity) else { continue }
            let present = Set(try db.columns(in: table.name).map(\.name))
            for column in table.columns where !present.contains(column.name) {
                try db.execute(
                    sql: "ALTER TABLE \(table.name) ADD COLUMN \(column.name) \(column.isInteger ? "INTEGER" : "TEXT")"
                )
            }
        }
        for entity in entities {
            let kept = try Row.fetchAll(
                db,
                sql: "SELECT _state FROM other_record WHERE entity = ?",
                arguments: [entity.rawValue]
            )
            for row in kept {
                try RecordStorage.save(db, try RecordState(binary: [UInt8](row[0] as Data)), previous: nil)
            }
            try db.execute(sql: "DELETE FROM other_record WHERE entity = ?", arguments: [entity.rawValue])
        }
        for entity in extending {
            let rows = try Row.fetchAll(db, sql: "SELECT _state FROM \(entity.rawValue) WHERE _extra IS NOT NULL")
            for row in rows {
                try RecordStorage.save(db, try RecordState(binary: [UInt8](row[0] as Data)), previous: nil)
            }
        }
    }

    /// Release 0.16's additions. A replica created by this build has them from v1 already (its tables follow the
    /// schema); one made by an older build gets the table and the columns, and the records it kept without
    /// understanding them (appointments in `other_record`, the new fields in `_extra`) move into them.
    static func addRelease016(_ db: Database) throws {
        guard let appointments = EntityTable.of(.appointment) else { return }
        if try !db.tableExists(appointments.name) {
            try db.execute(sql: appointments.createSQL)
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO record_count (entity, live) VALUES ('appointment', 0);
                    CREATE TRIGGER appointment_count_insert AFTER INSERT ON appointment BEGIN
                        UPDATE record_count SET live = live + 1 - new._deleted WHERE entity = 'appointment';
                    END;
                    CREATE TRIGGER appointment_count_delete AFTER DELETE ON appointment BEGIN
                        UPDATE record_count SET live = live - 1 + old._deleted WHERE entity = 'appointment';
                    END;
                    CREATE TRIGGER appointment_count_update AFTER UPDATE OF _deleted ON appointment
                    WHEN old._deleted IS NOT new._deleted BEGIN
                        UPDATE record_count SET live = live + old._deleted - new._deleted WHERE entity = 'appointment';
                    END;
                    """
            )
        }
        for entity in [EntityKind.task, .deal] {
            guard let table = EntityTable.of(entity) else { continue }
            let present = Set(try db.columns(in: table.name).map(\.name))
            for column in table.columns where !present.contains(column.name) {
                try db.execute(
                    sql: "ALTER TABLE \(table.name) ADD COLUMN \(column.name) \(column.isInteger ? "INTEGER" : "TEXT")"
                )
            }
        }
        try db.execute(
            sql: """
                CREATE INDEX IF NOT EXISTS appointment_starts ON appointment (starts_at) WHERE _deleted = 0;
                CREATE INDEX IF NOT EXISTS appointment_assignee ON appointment (assignee, starts_at) WHERE _deleted = 0;
                CREATE INDEX IF NOT EXISTS appointment_account ON appointment (account_id, starts_at) WHERE _deleted = 0;
                CREATE INDEX IF NOT EXISTS appointment_deal ON appointment (deal_id) WHERE _deleted = 0;
                CREATE INDEX IF NOT EXISTS task_remind ON task (remind_at) WHERE _deleted = 0 AND remind_at IS NOT NULL;
                CREATE INDEX IF NOT EXISTS task_deal ON task (deal_id) WHERE _deleted = 0;
                CREATE INDEX IF NOT EXISTS deal_owner ON deal (owner, expected_close IS NULL, expected_close)
                    WHERE _deleted = 0;
                """
        )
        // What the older build kept for this one: appointments move to their table, the new fields to columns.
        let kept = try Row.fetchAll(db, sql: "SELECT _state FROM other_record WHERE entity = 'appointment'")
        for row in kept {
            let state = try RecordState(binary: [UInt8](row[0] as Data))
            try RecordStorage.save(db, state, previous: nil)
        }
        try db.execute(sql: "DELETE FROM other_record WHERE entity = 'appointment'")
        for entity in [EntityKind.task, .deal] {
            let rows = try Row.fetchAll(db, sql: "SELECT _state FROM \(entity.rawValue) WHERE _extra IS NOT NULL")
            for row in rows {
                try RecordStorage.save(db, try RecordState(binary: [UInt8](row[0] as Data)), previous: nil)
            }
        }
    }
}
