using Microsoft.Data.Sqlite;

namespace Isems.Testing;

/// <summary>
/// A SQLite file in the original Python/Flask collector's schema, as its Alembic migrations made it with SQLAlchemy on
/// SQLite (ISEMS/isems-data-collector, migrations ae0a32b43c39, 256a79be1bd8, ef784e202371): table <c>measurement</c>,
/// camelCase columns, <c>timestamp</c> DATETIME holding Berlin wall-clock text, <c>isPowerSaveMode</c> BOOLEAN with
/// SQLAlchemy's CHECK, <c>status</c> added later by ALTER TABLE, unique (nodeId, timestamp). Rows get ids in insertion
/// order, as the original's did.
/// </summary>
public sealed class OriginalCollectorDatabase : IDisposable
{
    private readonly SqliteConnection _connection;

    public OriginalCollectorDatabase(string path, bool withStatusColumn = true)
    {
        Path = path;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        _connection.Open();
        Execute("""
            CREATE TABLE measurement (
                id INTEGER NOT NULL,
                "nodeId" VARCHAR,
                "isemsRevision" VARCHAR,
                timestamp DATETIME,
                "openMPPTFirmwareVersion" VARCHAR,
                "timeToShutdown" FLOAT,
                "isPowerSaveMode" BOOLEAN,
                "openCircuitVoltage" FLOAT,
                "mppVoltage" FLOAT,
                "batteryVoltage" FLOAT,
                "batteryChargeEstimate" FLOAT,
                "batteryHealthEstimate" FLOAT,
                "batteryTemperature" FLOAT,
                "lowVoltageDisconnectVoltage" FLOAT,
                "temperatureCorrectedVoltage" FLOAT,
                "rateBatteryCapacity" FLOAT,
                "ratedSolarModuleCapacity" FLOAT,
                latitude FLOAT,
                longitude FLOAT,
                PRIMARY KEY (id),
                CONSTRAINT node_timestamp UNIQUE ("nodeId", timestamp),
                CHECK ("isPowerSaveMode" IN (0, 1))
            )
            """);
        if (withStatusColumn) Execute("ALTER TABLE measurement ADD COLUMN status INTEGER");
        Execute("CREATE INDEX latest_by_node_id ON measurement (\"nodeId\", timestamp DESC)");
    }

    public string Path { get; }

    /// <summary>
    /// A row as the original's importer wrote it: the numbers were bound as the line's text (SQLite's REAL affinity made
    /// numbers of them), <paramref name="battery"/> may be any text, the timestamp is the wall clock as given.
    /// </summary>
    public long Insert(string? nodeId, string? timestamp, object? battery = null, long? status = 0x902, object? powerSave = null)
    {
        using var command = _connection.CreateCommand();
        var hasStatus = HasStatusColumn();
        command.CommandText = $"""
            INSERT INTO measurement ("nodeId", "isemsRevision", timestamp, "openMPPTFirmwareVersion", "timeToShutdown",
                "isPowerSaveMode", "openCircuitVoltage", "mppVoltage", "batteryVoltage", "batteryChargeEstimate",
                "batteryHealthEstimate", "batteryTemperature", "lowVoltageDisconnectVoltage", "temperatureCorrectedVoltage",
                "rateBatteryCapacity", "ratedSolarModuleCapacity", latitude, longitude{(hasStatus ? ", status" : "")})
            VALUES ($node, '1', $ts, 'ATmega8_A_1', '711', $psm, '18.614', '18.614', $battery, '100', '100', '28', '11.67',
                '14.086', '7', '20', 52.507309, 13.458635{(hasStatus ? ", $status" : "")});
            SELECT last_insert_rowid();
            """;
        command.Parameters.AddWithValue("$node", (object?)nodeId ?? DBNull.Value);
        command.Parameters.AddWithValue("$ts", (object?)timestamp ?? DBNull.Value);
        command.Parameters.AddWithValue("$battery", battery ?? "12.176");
        command.Parameters.AddWithValue("$psm", powerSave ?? false);
        if (hasStatus) command.Parameters.AddWithValue("$status", (object?)status ?? DBNull.Value);
        return (long)command.ExecuteScalar()!;
    }

    public void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private bool HasStatusColumn()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM pragma_table_info('measurement') WHERE name = 'status'";
        return (long)command.ExecuteScalar()! == 1;
    }

    public void Dispose() => _connection.Dispose();
}
