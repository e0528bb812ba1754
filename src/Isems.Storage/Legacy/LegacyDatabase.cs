using Microsoft.Data.Sqlite;

namespace Isems.Storage.Legacy;

/// <summary>A file that is missing, not SQLite, or not in the original collector's schema; the message says which.</summary>
public sealed class LegacyDatabaseException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One row of the original's <c>measurement</c> table as SQLite holds it (values untyped: long, double, text, null).</summary>
public sealed record LegacyRow(long Id, object?[] Values)
{
    public object? this[LegacyColumn column] => Values[(int)column];
}

/// <summary>The original's columns in the order <see cref="LegacyDatabase"/> selects them.</summary>
public enum LegacyColumn
{
    NodeId,
    IsemsRevision,
    Timestamp,
    OpenMpptFirmwareVersion,
    TimeToShutdown,
    IsPowerSaveMode,
    OpenCircuitVoltage,
    MppVoltage,
    BatteryVoltage,
    BatteryChargeEstimate,
    BatteryHealthEstimate,
    BatteryTemperature,
    LowVoltageDisconnectVoltage,
    TemperatureCorrectedVoltage,
    RateBatteryCapacity,
    RatedSolarModuleCapacity,
    Latitude,
    Longitude,
    Status,
}

/// <summary>
/// A database of the original Python/Flask collector, opened read-only: SQLite, table <c>measurement</c> as its
/// SQLAlchemy model and Alembic migrations made it (camelCase columns, <c>id</c> primary key, <c>timestamp</c> a
/// DateTime stored as Berlin wall-clock text, <c>isPowerSaveMode</c> a Boolean stored 0/1, <c>status</c> a nullable
/// integer added by a later migration, so older files may lack it). Rows are read in id order, one short query per page,
/// so no read transaction stays open while the import writes (the source may be the very file the collector uses).
/// </summary>
public sealed class LegacyDatabase : IDisposable
{
    public const string Table = "measurement";

    /// <summary>The columns in <see cref="LegacyColumn"/> order; status may be missing.</summary>
    public static readonly IReadOnlyList<string> ColumnNames =
    [
        "nodeId", "isemsRevision", "timestamp", "openMPPTFirmwareVersion", "timeToShutdown", "isPowerSaveMode",
        "openCircuitVoltage", "mppVoltage", "batteryVoltage", "batteryChargeEstimate", "batteryHealthEstimate",
        "batteryTemperature", "lowVoltageDisconnectVoltage", "temperatureCorrectedVoltage", "rateBatteryCapacity",
        "ratedSolarModuleCapacity", "latitude", "longitude", "status",
    ];

    private readonly SqliteConnection _connection;
    private readonly string _pageSql;

    private LegacyDatabase(string path, SqliteConnection connection, bool hasStatus)
    {
        Path = path;
        _connection = connection;
        HasStatusColumn = hasStatus;
        var columns = ColumnNames.Select(c => c == "status" && !hasStatus ? "NULL" : $"\"{c}\"");
        _pageSql = $"SELECT id, {string.Join(", ", columns)} FROM {Table} WHERE id > $after ORDER BY id LIMIT $limit";
    }

    public string Path { get; }

    /// <summary>False for a file made before the original added <c>status</c> (June 2018) and never migrated.</summary>
    public bool HasStatusColumn { get; }

    /// <summary>Opens the file read-only and checks that it holds the original's table; throws <see cref="LegacyDatabaseException"/>.</summary>
    public static LegacyDatabase Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new LegacyDatabaseException($"{full} is a folder; give the original collector's database file.");
        if (!File.Exists(full))
            throw new LegacyDatabaseException($"{full} does not exist; give the original collector's SQLite database file.");

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false, // nothing keeps the file open after the import
        }.ConnectionString);
        try
        {
            connection.Open();
            using (var timeout = connection.CreateCommand())
            {
                timeout.CommandText = $"PRAGMA busy_timeout={SqliteSession.BusyTimeoutMilliseconds}";
                timeout.ExecuteNonQuery();
            }
            var present = Columns(connection, full);
            var missing = ColumnNames.Prepend("id").Where(c => c != "status" && !present.Contains(c)).ToList();
            if (missing.Count > 0)
                throw new LegacyDatabaseException(
                    $"{full} has a table '{Table}', but not in the original collector's schema: it lacks the column(s) " +
                    $"{string.Join(", ", missing)}.");
            return new LegacyDatabase(full, connection, present.Contains("status"));
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new LegacyDatabaseException($"{full} cannot be read as a SQLite database: {e.Message}", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The rows in id order, <paramref name="pageSize"/> at a time; each page is read by a query of its own.</summary>
    public IEnumerable<IReadOnlyList<LegacyRow>> ReadPages(int pageSize, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        using var command = _connection.CreateCommand();
        command.CommandText = _pageSql;
        var after = command.Parameters.Add(new SqliteParameter("$after", long.MinValue));
        command.Parameters.Add(new SqliteParameter("$limit", pageSize));
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var page = new List<LegacyRow>(pageSize);
            using (var reader = command.ExecuteReader())
                while (reader.Read())
                {
                    var values = new object?[ColumnNames.Count];
                    for (var i = 0; i < values.Length; i++)
                        values[i] = reader.IsDBNull(i + 1) ? null : reader.GetValue(i + 1);
                    page.Add(new LegacyRow(reader.GetInt64(0), values));
                }
            if (page.Count == 0) yield break;
            yield return page;
            if (page.Count < pageSize) yield break;
            after.Value = page[^1].Id;
        }
    }

    private static HashSet<string> Columns(SqliteConnection connection, string path)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT name FROM pragma_table_info('{Table}')";
        var columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase); // SQLite's column names ignore case
        using (var reader = command.ExecuteReader())
            while (reader.Read())
                columns.Add(reader.GetString(0));
        if (columns.Count > 0) return columns;

        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name";
        var tables = new List<string>();
        using (var reader = command.ExecuteReader())
            while (reader.Read())
                tables.Add(reader.GetString(0));
        var hint = tables.Contains("measurements")
            ? " It holds 'measurements': it is a database of this collector, not of the original."
            : "";
        throw new LegacyDatabaseException(
            $"{path} is not a database of the original collector: it has no table '{Table}' " +
            $"(tables: {(tables.Count == 0 ? "none" : string.Join(", ", tables))}).{hint}");
    }

    public void Dispose() => _connection.Dispose();
}
