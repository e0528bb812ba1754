using System.Data.Common;
using Isems.LineFormat;

namespace Isems.Storage;

/// <summary>
/// One schema change. Versions count from 1 without gaps; a step that has shipped is never edited in meaning.
/// <paramref name="Build"/>, when there is one, runs after <paramref name="Sql"/> in the same transaction: data a
/// statement would build too slowly (step 5's rollups on SQLite).
/// </summary>
internal sealed record MigrationStep(int Version, string Description, string Sql, Action<DbConnection>? Build = null);

/// <summary>
/// The <c>measurements</c> table and its migrations. The original collector's table is <c>measurement</c> (singular);
/// someone may point DATABASE_URL at that old file, so nothing here ever names it.
/// </summary>
internal static class Schema
{
    public const string Table = "measurements";
    public const string VersionTable = "schema_version";
    public const string UniqueIndex = "ux_measurements_node_id_timestamp";
    public const string TimestampIndex = "ix_measurements_timestamp";

    private static readonly MigrationStep TimestampIndexStep = new(2, "index on timestamp, for deleting old rows in batches",
        $"CREATE INDEX {TimestampIndex} ON {Table} (timestamp)");

    // Step 2's index made every insert of a fleet's interleaved lines 2.5 times dearer; retention walks the nodes instead.
    private static readonly MigrationStep DropTimestampIndexStep = new(3, "drop the index on timestamp (inserts paid for it)",
        $"DROP INDEX IF EXISTS {TimestampIndex}");

    public const string BookmarkTable = "log_bookmarks";

    /// <summary>Hourly and daily rollups per node, and each node's raw-row horizon, built from the rows already stored.</summary>
    private static MigrationStep RollupStep(DatabaseKind kind) => kind == DatabaseKind.Sqlite
        ? new(5, Description5, Rollups.CreateSql(kind), c => RollupBuilder.BuildSqlite((Microsoft.Data.Sqlite.SqliteConnection)c))
        : new(5, Description5, Rollups.CreateSql(kind) + Rollups.BuildSql(kind));

    private const string Description5 = "hourly and daily rollups per node, and the horizon of deleted raw rows";

    public const string AlertTable = "alerts";

    /// <summary>
    /// Each alert's transitions (§8), so a restart neither forgets a firing alert nor tells it again. Resolved rows
    /// older than a week are not read back; they are few (one row per alert that ever fired).
    /// </summary>
    private static MigrationStep AlertStep(string text) => new(6, "alerts: firing and resolved, by node, name and start", $$"""
        CREATE TABLE {{AlertTable}} (
            node_id {{text}} NOT NULL,
            alertname {{text}} NOT NULL,
            severity {{text}} NOT NULL,
            starts_at BIGINT NOT NULL,
            ends_at BIGINT NULL,
            summary {{text}} NOT NULL,
            PRIMARY KEY (node_id, alertname, starts_at)
        );
        CREATE INDEX ix_alerts_ends_at ON {{AlertTable}} (ends_at)
        """);

    public const string SaveAlertSql = $"""
        INSERT INTO {AlertTable} (node_id, alertname, severity, starts_at, ends_at, summary)
        VALUES (@node_id, @alertname, @severity, @starts_at, @ends_at, @summary)
        ON CONFLICT (node_id, alertname, starts_at) DO UPDATE SET ends_at = excluded.ends_at
        """;

    public const string AlertsSql =
        $"SELECT node_id, alertname, severity, starts_at, ends_at, summary FROM {AlertTable} WHERE ends_at IS NULL OR ends_at >= @since";

    /// <summary>One node's alerts still firing.</summary>
    public const string NodeFiringAlertsSql =
        $"SELECT node_id, alertname, severity, starts_at, ends_at, summary FROM {AlertTable} WHERE node_id = @node AND ends_at IS NULL";

    /// <summary>Where each polled node's log has been read up to, saved with the lines it led to.</summary>
    private static MigrationStep BookmarkStep(string text, string binary) => new(4, "log bookmarks, so a restart resumes each log where it was", $"""
        CREATE TABLE {BookmarkTable} (
            node_key {text} NOT NULL PRIMARY KEY,
            log_url {text} NOT NULL,
            node_id {text} NULL,
            byte_offset BIGINT NOT NULL,
            prefix_hash {binary} NULL,
            tail_hash {binary} NULL,
            tail_length INTEGER NOT NULL,
            saved_at BIGINT NOT NULL
        )
        """);

    public const string SaveBookmarkSql = $"""
        INSERT INTO {BookmarkTable} (node_key, log_url, node_id, byte_offset, prefix_hash, tail_hash, tail_length, saved_at)
        VALUES (@node_key, @log_url, @node_id, @byte_offset, @prefix_hash, @tail_hash, @tail_length, @saved_at)
        ON CONFLICT (node_key) DO UPDATE SET log_url = excluded.log_url, node_id = excluded.node_id, byte_offset = excluded.byte_offset,
            prefix_hash = excluded.prefix_hash, tail_hash = excluded.tail_hash, tail_length = excluded.tail_length,
            saved_at = excluded.saved_at
        """;

    public const string BookmarksSql =
        $"SELECT node_key, log_url, node_id, byte_offset, prefix_hash, tail_hash, tail_length FROM {BookmarkTable}";

    /// <summary>The 19 fields in line order (SPEC §1); <see cref="ReadStored"/> and the writers depend on this order.</summary>
    public const string Columns =
        "node_id, isems_revision, timestamp, firmware_version, time_to_shutdown, power_save_level, open_circuit_voltage, " +
        "mpp_voltage, battery_voltage, battery_charge_estimate, battery_health_estimate, battery_temperature, " +
        "low_voltage_disconnect_voltage, temperature_corrected_voltage, rate_battery_capacity, " +
        "rated_solar_module_capacity, latitude, longitude, status";

    public const string SelectColumns = "id, " + Columns;

    // To add a step: append it to both lists with the next version number (the dialects may differ in SQL, never in
    // meaning). Migrate applies every missing step in one transaction, in order.
    public static readonly IReadOnlyList<MigrationStep> SqliteSteps =
    [
        new(1, "measurements table, unique (node_id, timestamp)", $"""
            CREATE TABLE {Table} (
                id INTEGER PRIMARY KEY,
                node_id TEXT NOT NULL,
                isems_revision TEXT NOT NULL,
                timestamp BIGINT NOT NULL,
                firmware_version TEXT NOT NULL,
                time_to_shutdown DOUBLE NOT NULL,
                power_save_level INTEGER NOT NULL,
                open_circuit_voltage DOUBLE NOT NULL,
                mpp_voltage DOUBLE NOT NULL,
                battery_voltage DOUBLE NOT NULL,
                battery_charge_estimate DOUBLE NOT NULL,
                battery_health_estimate DOUBLE NOT NULL,
                battery_temperature DOUBLE NOT NULL,
                low_voltage_disconnect_voltage DOUBLE NOT NULL,
                temperature_corrected_voltage DOUBLE NOT NULL,
                rate_battery_capacity DOUBLE NOT NULL,
                rated_solar_module_capacity DOUBLE NOT NULL,
                latitude DOUBLE NOT NULL,
                longitude DOUBLE NOT NULL,
                status INTEGER NULL
            );
            CREATE UNIQUE INDEX {UniqueIndex} ON {Table} (node_id, timestamp);
            """),
        TimestampIndexStep,
        DropTimestampIndexStep,
        BookmarkStep("TEXT", "BLOB"),
        RollupStep(DatabaseKind.Sqlite),
        AlertStep("TEXT"),
    ];

    public static readonly IReadOnlyList<MigrationStep> PostgreSqlSteps =
    [
        // COLLATE "C": node ids compare and sort by bytes (ordinal), whatever the database's locale, and the index
        // serves the ordered walk over node ids in LatestPerNode.
        new(1, "measurements table, unique (node_id, timestamp)", $"""
            CREATE TABLE {Table} (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                node_id text COLLATE "C" NOT NULL,
                isems_revision text NOT NULL,
                timestamp bigint NOT NULL,
                firmware_version text NOT NULL,
                time_to_shutdown double precision NOT NULL,
                power_save_level integer NOT NULL,
                open_circuit_voltage double precision NOT NULL,
                mpp_voltage double precision NOT NULL,
                battery_voltage double precision NOT NULL,
                battery_charge_estimate double precision NOT NULL,
                battery_health_estimate double precision NOT NULL,
                battery_temperature double precision NOT NULL,
                low_voltage_disconnect_voltage double precision NOT NULL,
                temperature_corrected_voltage double precision NOT NULL,
                rate_battery_capacity double precision NOT NULL,
                rated_solar_module_capacity double precision NOT NULL,
                latitude double precision NOT NULL,
                longitude double precision NOT NULL,
                status integer NULL
            );
            CREATE UNIQUE INDEX {UniqueIndex} ON {Table} (node_id, timestamp);
            """),
        TimestampIndexStep,
        DropTimestampIndexStep,
        BookmarkStep("text COLLATE \"C\"", "bytea"),
        RollupStep(DatabaseKind.PostgreSql),
        AlertStep("text COLLATE \"C\""),
    ];

    public static IReadOnlyList<MigrationStep> Steps(DatabaseKind kind) =>
        kind == DatabaseKind.Sqlite ? SqliteSteps : PostgreSqlSteps;

    /// <summary>
    /// The newest row of every node without reading the table: a loose index scan walks the distinct node ids through
    /// the unique index (one seek per node), and each node's newest row is one more seek. Order is left to the caller.
    /// </summary>
    public static string LatestPerNodeSql(DatabaseKind kind) => kind == DatabaseKind.Sqlite
        // CROSS JOIN: SQLite keeps that join order, so the node list drives the seeks (it would otherwise rather scan
        // the table and index the node list).
        ? $"""
          WITH RECURSIVE nodes (node_id) AS (
              SELECT MIN(node_id) FROM {Table}
              UNION ALL
              SELECT (SELECT n.node_id FROM {Table} n WHERE n.node_id > nodes.node_id ORDER BY n.node_id LIMIT 1)
              FROM nodes WHERE nodes.node_id IS NOT NULL
          )
          SELECT m.* FROM nodes
          CROSS JOIN {Table} m
          WHERE m.node_id = nodes.node_id
              AND m.timestamp = (SELECT t.timestamp FROM {Table} t WHERE t.node_id = nodes.node_id ORDER BY t.timestamp DESC LIMIT 1)
          """
        : $"""
          WITH RECURSIVE nodes (node_id) AS (
              SELECT (SELECT node_id FROM {Table} ORDER BY node_id LIMIT 1)
              UNION ALL
              SELECT (SELECT n.node_id FROM {Table} n WHERE n.node_id > nodes.node_id ORDER BY n.node_id LIMIT 1)
              FROM nodes WHERE nodes.node_id IS NOT NULL
          )
          SELECT m.* FROM nodes
          CROSS JOIN LATERAL (
              SELECT * FROM {Table} t WHERE t.node_id = nodes.node_id ORDER BY t.timestamp DESC LIMIT 1
          ) m
          """;

    /// <summary>A node's newest @limit rows, newest first: one seek in the unique index, read backwards.</summary>
    public const string HistorySql =
        $"SELECT {SelectColumns} FROM {Table} WHERE node_id = @node ORDER BY timestamp DESC LIMIT @limit";

    // Retention (the same SQL in both dialects). Each DELETE picks its rows by id in a subquery, because neither SQLite
    // (without a compile-time option) nor PostgreSQL accepts LIMIT on DELETE itself; oldest first, so an interrupted run
    // leaves no holes behind the rows it kept.

    /// <summary>The first node id at or after @from (ordinal), one seek in the unique index; none at the end.</summary>
    public const string NodeAtOrAfterSql =
        $"SELECT node_id FROM {Table} WHERE node_id >= @from ORDER BY node_id LIMIT 1";

    public const string NodeAfterSql =
        $"SELECT node_id FROM {Table} WHERE node_id > @after ORDER BY node_id LIMIT 1";

    /// <summary>The node's newest row beyond the @keep it keeps (none when it has no more): it and all older rows go.</summary>
    public const string FirstToTrimSql =
        $"SELECT timestamp FROM {Table} WHERE node_id = @node ORDER BY timestamp DESC LIMIT 1 OFFSET @keep";

    /// <summary>How many of the node's rows go, counted no further than @limit.</summary>
    public const string CountToTrimSql =
        $"SELECT COUNT(*) FROM (SELECT 1 FROM {Table} WHERE node_id = @node AND timestamp <= @through LIMIT @limit) AS doomed";

    public const string TrimNodeSql =
        $"DELETE FROM {Table} WHERE id IN (SELECT id FROM {Table} WHERE node_id = @node AND timestamp <= @through ORDER BY timestamp LIMIT @limit)";

    /// <summary>Reads a row selected as <see cref="SelectColumns"/>, starting at <paramref name="first"/>.</summary>
    public static StoredMeasurement ReadStored(DbDataReader r, int first = 0) => new(r.GetInt64(first), new Measurement(
        r.GetString(first + 1), r.GetString(first + 2), r.GetInt64(first + 3), r.GetString(first + 4), r.GetDouble(first + 5),
        r.GetInt32(first + 6), r.GetDouble(first + 7), r.GetDouble(first + 8), r.GetDouble(first + 9), r.GetDouble(first + 10),
        r.GetDouble(first + 11), r.GetDouble(first + 12), r.GetDouble(first + 13), r.GetDouble(first + 14),
        r.GetDouble(first + 15), r.GetDouble(first + 16), r.GetDouble(first + 17), r.GetDouble(first + 18),
        r.IsDBNull(first + 19) ? null : r.GetInt32(first + 19)));

    /// <summary>Applies the missing steps in one transaction; the caller has opened it and holds the migration lock.</summary>
    public static void Migrate(DbConnection connection, DbTransaction transaction, DatabaseKind kind)
    {
        var steps = Steps(kind);
        Execute(connection, transaction,
            $"CREATE TABLE IF NOT EXISTS {VersionTable} (version integer NOT NULL PRIMARY KEY, description text NOT NULL, applied_at bigint NOT NULL)");
        using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = $"SELECT COALESCE(MAX(version), 0) FROM {VersionTable}";
            var current = Convert.ToInt32(read.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            if (current > steps.Count)
                throw new InvalidOperationException(
                    $"The database schema is at version {current}, newer than this program knows ({steps.Count}): " +
                    "a newer collector has migrated it. Run that version, or restore a backup.");
            foreach (var step in steps)
            {
                if (step.Version <= current) continue;
                Execute(connection, transaction, step.Sql);
                step.Build?.Invoke(connection);
                using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = $"INSERT INTO {VersionTable} (version, description, applied_at) VALUES (@version, @description, @at)";
                AddParameter(insert, "version", step.Version);
                AddParameter(insert, "description", step.Description);
                AddParameter(insert, "at", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                insert.ExecuteNonQuery();
            }
        }
    }

    private static void Execute(DbConnection connection, DbTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        command.Parameters.Add(p);
    }
}
