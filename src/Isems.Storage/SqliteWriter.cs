using Isems.LineFormat;
using Microsoft.Data.Sqlite;

namespace Isems.Storage;

/// <summary>Settings every SQLite connection gets, the store's own and linq2db's.</summary>
internal static class SqliteSession
{
    public const int BusyTimeoutMilliseconds = 5000;

    public static void Configure(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        // busy_timeout first, so that switching to WAL waits for a writer of another process instead of failing.
        command.CommandText =
            $"PRAGMA busy_timeout={BusyTimeoutMilliseconds}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
        command.ExecuteNonQuery();
    }

    public static SqliteConnection Open(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            Configure(connection);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}

/// <summary>
/// The SQLite write path: one long-lived connection, one prepared <c>INSERT OR IGNORE</c> rebound for every row of a
/// batch inside one transaction. Parameters keep their previous value when a field repeats (most fields of a node's
/// consecutive lines do), which spares boxing it again. Not thread-safe: the store serializes writers.
/// </summary>
internal sealed class SqliteWriter : IDisposable
{
    private readonly string _connectionString;
    private readonly NewestPerNode _newest = new();
    private SqliteConnection? _connection;
    private SqliteCommand? _insert;
    private SqliteCommand? _lookup;
    private SqliteParameter[] _p = [];
    private SqliteParameter _lookupNode = null!;
    private SqliteParameter _lookupTimestamp = null!;

    public SqliteWriter(string connectionString) => _connectionString = connectionString;

    public IReadOnlyList<WriteOutcome> Write(IReadOnlyList<IReadOnlyList<Measurement>> groups, CancellationToken ct)
    {
        try
        {
            return WriteOnce(groups, ct);
        }
        catch
        {
            // Whatever failed (disk full, file locked too long, a broken handle), start over with a fresh connection.
            Close();
            throw;
        }
    }

    private IReadOnlyList<WriteOutcome> WriteOnce(IReadOnlyList<IReadOnlyList<Measurement>> groups, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var connection = EnsureOpen();
        var insert = _insert!;
        var lookup = _lookup!;
        var p = _p;
        var outcomes = new WriteOutcome[groups.Count];

        using var transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock up front
        insert.Transaction = transaction;
        lookup.Transaction = transaction;
        var handle = connection.Handle!;

        for (var g = 0; g < groups.Count; g++)
        {
            ct.ThrowIfCancellationRequested();
            var lines = groups[g];
            if (lines.Count == 0)
            {
                outcomes[g] = new WriteOutcome(0, 0, []);
                continue;
            }
            _newest.Find(lines);
            var marks = _newest.Marks;
            var newest = new StoredMeasurement[_newest.Count];
            var nextMark = 0;
            var stored = 0;

            for (var i = 0; i < lines.Count; i++)
            {
                var m = lines[i];
                SetText(p[0], m.NodeId);
                SetText(p[1], m.IsemsRevision);
                SetInt64(p[2], m.Timestamp);
                SetText(p[3], m.OpenMpptFirmwareVersion);
                SetDouble(p[4], m.TimeToShutdown);
                SetInt32(p[5], m.PowerSaveLevel);
                SetDouble(p[6], m.OpenCircuitVoltage);
                SetDouble(p[7], m.MppVoltage);
                SetDouble(p[8], m.BatteryVoltage);
                SetDouble(p[9], m.BatteryChargeEstimate);
                SetDouble(p[10], m.BatteryHealthEstimate);
                SetDouble(p[11], m.BatteryTemperature);
                SetDouble(p[12], m.LowVoltageDisconnectVoltage);
                SetDouble(p[13], m.TemperatureCorrectedVoltage);
                SetDouble(p[14], m.RateBatteryCapacity);
                SetDouble(p[15], m.RatedSolarModuleCapacity);
                SetDouble(p[16], m.Latitude);
                SetDouble(p[17], m.Longitude);
                if (m.Status is { } status) SetInt32(p[18], status);
                else p[18].Value = DBNull.Value;

                var inserted = insert.ExecuteNonQuery() == 1;
                if (inserted) stored++;
                if (nextMark < marks.Count && marks[nextMark].Row == i)
                {
                    if (inserted)
                        newest[marks[nextMark].Slot] = new StoredMeasurement(SQLitePCL.raw.sqlite3_last_insert_rowid(handle), m);
                    nextMark++;
                }
            }

            // A newest line that was a duplicate: the row as it is in the database (also when an earlier group of this
            // batch stored it), with its id.
            for (var slot = 0; slot < newest.Length; slot++)
            {
                if (newest[slot] is not null) continue;
                var line = lines[_newest.RowOf(slot)];
                _lookupNode.Value = line.NodeId;
                _lookupTimestamp.Value = line.Timestamp;
                using var reader = lookup.ExecuteReader();
                if (!reader.Read())
                    throw new InvalidOperationException(
                        $"The row of node '{line.NodeId}' at {line.Timestamp} was neither inserted nor found.");
                newest[slot] = Schema.ReadStored(reader);
            }
            outcomes[g] = new WriteOutcome(stored, lines.Count - stored, newest);
        }

        transaction.Commit();
        insert.Transaction = null;
        lookup.Transaction = null;
        return outcomes;
    }

    private SqliteConnection EnsureOpen()
    {
        if (_connection is not null) return _connection;
        var connection = SqliteSession.Open(_connectionString);
        try
        {
            var insert = connection.CreateCommand();
            insert.CommandText =
                $"INSERT OR IGNORE INTO {Schema.Table} ({Schema.Columns}) VALUES " +
                "($p0, $p1, $p2, $p3, $p4, $p5, $p6, $p7, $p8, $p9, $p10, $p11, $p12, $p13, $p14, $p15, $p16, $p17, $p18)";
            var p = new SqliteParameter[19];
            for (var i = 0; i < p.Length; i++)
                p[i] = insert.Parameters.Add(new SqliteParameter { ParameterName = "$p" + i, Value = DBNull.Value });
            insert.Prepare();

            var lookup = connection.CreateCommand();
            lookup.CommandText = $"SELECT {Schema.SelectColumns} FROM {Schema.Table} WHERE node_id = $node AND timestamp = $ts";
            _lookupNode = lookup.Parameters.Add(new SqliteParameter { ParameterName = "$node", Value = "" });
            _lookupTimestamp = lookup.Parameters.Add(new SqliteParameter { ParameterName = "$ts", Value = 0L });
            lookup.Prepare();

            _p = p;
            _insert = insert;
            _lookup = lookup;
            _connection = connection;
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void SetText(SqliteParameter p, string value)
    {
        if (!ReferenceEquals(p.Value, value)) p.Value = value;
    }

    private static void SetInt64(SqliteParameter p, long value)
    {
        if (p.Value is not long old || old != value) p.Value = value;
    }

    private static void SetInt32(SqliteParameter p, int value)
    {
        if (p.Value is not int old || old != value) p.Value = value;
    }

    private static void SetDouble(SqliteParameter p, double value)
    {
        if (p.Value is not double old || BitConverter.DoubleToInt64Bits(old) != BitConverter.DoubleToInt64Bits(value))
            p.Value = value;
    }

    private void Close()
    {
        _insert?.Dispose();
        _lookup?.Dispose();
        _connection?.Dispose();
        _insert = null;
        _lookup = null;
        _connection = null;
    }

    public void Dispose() => Close();
}
