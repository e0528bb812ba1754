using Isems.LineFormat;
using Npgsql;
using NpgsqlTypes;

namespace Isems.Storage;

/// <summary>
/// The PostgreSQL write path: one round trip per batch. A batch of two statements (one implicit transaction) inserts every
/// line through <c>unnest</c> of array parameters with <c>ON CONFLICT DO NOTHING RETURNING</c>, then reads each group's
/// newest line per node as it now is. Duplicates inside the batch are dropped before sending: the first occurrence in
/// batch order is the one stored, later ones count as duplicates.
/// </summary>
internal sealed class PostgresWriter
{
    private static readonly string PlainInsertSql = $"""
        INSERT INTO {Schema.Table} ({Schema.Columns})
        SELECT * FROM unnest(@node_id, @isems_revision, @timestamp, @firmware_version, @time_to_shutdown, @power_save_level,
            @open_circuit_voltage, @mpp_voltage, @battery_voltage, @battery_charge_estimate, @battery_health_estimate,
            @battery_temperature, @low_voltage_disconnect_voltage, @temperature_corrected_voltage, @rate_battery_capacity,
            @rated_solar_module_capacity, @latitude, @longitude, @status)
        ON CONFLICT (node_id, timestamp) DO NOTHING
        RETURNING node_id, timestamp
        """;

    /// <summary>
    /// The insert, and the hourly and daily rollups of the rows it inserted added to the stored ones, in one statement
    /// (and so one transaction): a data-modifying CTE hands the inserted rows to the rollup upsert.
    /// </summary>
    private static readonly string RollupInsertSql = $"""
        WITH inserted AS (
            {PlainInsertSql.Replace("RETURNING node_id, timestamp", "RETURNING node_id, timestamp, status, " + string.Join(", ", Rollups.Columns))}
        ), rolled AS (
            INSERT INTO {Rollups.Table} (node_id, period, start, {Rollups.AggregateColumns})
            SELECT node_id, p.period, timestamp / p.period * p.period, {Rollups.Aggregates(DatabaseKind.PostgreSql)}
            FROM inserted CROSS JOIN (VALUES (3600), (86400)) AS p (period)
            GROUP BY node_id, p.period, timestamp / p.period * p.period
            ORDER BY 1, 2, 3
            {Rollups.UpsertSql(DatabaseKind.PostgreSql, n => "@" + n)[Rollups.UpsertSql(DatabaseKind.PostgreSql, n => "@" + n).IndexOf("ON CONFLICT", StringComparison.Ordinal)..]}
        )
        SELECT node_id, timestamp FROM inserted
        """;

    private static readonly string NewestSql = $"""
        SELECT {Schema.SelectColumns} FROM {Schema.Table}
        WHERE (node_id, timestamp) IN (SELECT * FROM unnest(@want_node, @want_timestamp))
        """;

    private readonly string _connectionString;
    private readonly string _insertSql;

    public PostgresWriter(string connectionString, bool maintainRollups = true)
    {
        _connectionString = connectionString;
        _insertSql = maintainRollups ? RollupInsertSql : PlainInsertSql;
    }

    public async Task<IReadOnlyList<WriteOutcome>> WriteAsync(
        IReadOnlyList<IReadOnlyList<Measurement>> groups, IReadOnlyList<LogBookmark> bookmarks, CancellationToken ct)
    {
        var total = 0;
        foreach (var group in groups) total += group.Count;
        var outcomes = new WriteOutcome[groups.Count];
        if (total == 0 && bookmarks.Count == 0)
        {
            Array.Fill(outcomes, new WriteOutcome(0, 0, []));
            return outcomes;
        }

        // Batch order, with the first occurrence of every (node, timestamp) marked.
        var flat = new Measurement[total];
        var first = new bool[total];
        var seen = new HashSet<(string, long)>(total);
        var unique = 0;
        var k = 0;
        foreach (var group in groups)
            for (var i = 0; i < group.Count; i++, k++)
            {
                flat[k] = group[i];
                if (seen.Add((group[i].NodeId, group[i].Timestamp)))
                {
                    first[k] = true;
                    unique++;
                }
            }

        // Sent in key order: concurrent writers (several collector processes) then take the index locks in the same
        // order and cannot deadlock each other.
        var order = new int[unique];
        for (int i = 0, u = 0; i < total; i++)
            if (first[i]) order[u++] = i;
        Array.Sort(order, (a, b) =>
        {
            var c = string.CompareOrdinal(flat[a].NodeId, flat[b].NodeId);
            return c != 0 ? c : flat[a].Timestamp.CompareTo(flat[b].Timestamp);
        });

        // Each group's newest line per node, to be read back with its id.
        var newest = new NewestPerNode();
        var newestRows = new int[groups.Count][];
        var wanted = new HashSet<(string, long)>();
        var wantNode = new List<string>();
        var wantTimestamp = new List<long>();
        for (var g = 0; g < groups.Count; g++)
        {
            newest.Find(groups[g]);
            var rows = new int[newest.Count];
            for (var slot = 0; slot < rows.Length; slot++)
            {
                rows[slot] = newest.RowOf(slot);
                var line = groups[g][rows[slot]];
                if (wanted.Add((line.NodeId, line.Timestamp)))
                {
                    wantNode.Add(line.NodeId);
                    wantTimestamp.Add(line.Timestamp);
                }
            }
            newestRows[g] = rows;
        }

        var inserted = new HashSet<(string, long)>(unique);
        var now = new Dictionary<(string, long), StoredMeasurement>(wantNode.Count);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ExecuteAsync(order, flat, wantNode.ToArray(), wantTimestamp.ToArray(), bookmarks, inserted, now, ct);
                break;
            }
            catch (Exception e) when (attempt == 1 && PostgresConnections.IsBroken(e))
            {
                // A pooled connection the server dropped (it restarted): once more on a fresh one. The insert is
                // idempotent, so even a first attempt that did commit only makes its lines count as duplicates.
                PostgresConnections.ClearPool(_connectionString);
                inserted.Clear();
                now.Clear();
            }
        }

        k = 0;
        for (var g = 0; g < groups.Count; g++)
        {
            var lines = groups[g];
            var stored = 0;
            for (var i = 0; i < lines.Count; i++, k++)
                if (first[k] && inserted.Contains((lines[i].NodeId, lines[i].Timestamp)))
                    stored++;
            var rows = newestRows[g];
            var result = new StoredMeasurement[rows.Length];
            for (var slot = 0; slot < rows.Length; slot++)
            {
                var line = lines[rows[slot]];
                if (!now.TryGetValue((line.NodeId, line.Timestamp), out var row))
                    throw new InvalidOperationException(
                        $"The row of node '{line.NodeId}' at {line.Timestamp} was neither inserted nor found (deleted meanwhile?).");
                result[slot] = row;
            }
            outcomes[g] = new WriteOutcome(stored, lines.Count - stored, result);
        }
        return outcomes;
    }

    private async Task ExecuteAsync(int[] order, Measurement[] flat, string[] wantNode, long[] wantTimestamp, IReadOnlyList<LogBookmark> bookmarks,
        HashSet<(string, long)> inserted, Dictionary<(string, long), StoredMeasurement> now, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(ct);
        await using var batch = new NpgsqlBatch(connection);
        var insert = new NpgsqlBatchCommand(_insertSql);
        AddArray(insert, "node_id", NpgsqlDbType.Text, order, flat, m => m.NodeId);
        AddArray(insert, "isems_revision", NpgsqlDbType.Text, order, flat, m => m.IsemsRevision);
        AddArray(insert, "timestamp", NpgsqlDbType.Bigint, order, flat, m => m.Timestamp);
        AddArray(insert, "firmware_version", NpgsqlDbType.Text, order, flat, m => m.OpenMpptFirmwareVersion);
        AddArray(insert, "time_to_shutdown", NpgsqlDbType.Double, order, flat, m => m.TimeToShutdown);
        AddArray(insert, "power_save_level", NpgsqlDbType.Integer, order, flat, m => m.PowerSaveLevel);
        AddArray(insert, "open_circuit_voltage", NpgsqlDbType.Double, order, flat, m => m.OpenCircuitVoltage);
        AddArray(insert, "mpp_voltage", NpgsqlDbType.Double, order, flat, m => m.MppVoltage);
        AddArray(insert, "battery_voltage", NpgsqlDbType.Double, order, flat, m => m.BatteryVoltage);
        AddArray(insert, "battery_charge_estimate", NpgsqlDbType.Double, order, flat, m => m.BatteryChargeEstimate);
        AddArray(insert, "battery_health_estimate", NpgsqlDbType.Double, order, flat, m => m.BatteryHealthEstimate);
        AddArray(insert, "battery_temperature", NpgsqlDbType.Double, order, flat, m => m.BatteryTemperature);
        AddArray(insert, "low_voltage_disconnect_voltage", NpgsqlDbType.Double, order, flat, m => m.LowVoltageDisconnectVoltage);
        AddArray(insert, "temperature_corrected_voltage", NpgsqlDbType.Double, order, flat, m => m.TemperatureCorrectedVoltage);
        AddArray(insert, "rate_battery_capacity", NpgsqlDbType.Double, order, flat, m => m.RateBatteryCapacity);
        AddArray(insert, "rated_solar_module_capacity", NpgsqlDbType.Double, order, flat, m => m.RatedSolarModuleCapacity);
        AddArray(insert, "latitude", NpgsqlDbType.Double, order, flat, m => m.Latitude);
        AddArray(insert, "longitude", NpgsqlDbType.Double, order, flat, m => m.Longitude);
        AddArray(insert, "status", NpgsqlDbType.Integer, order, flat, m => m.Status);
        batch.BatchCommands.Add(insert);

        var read = new NpgsqlBatchCommand(NewestSql);
        read.Parameters.Add(new NpgsqlParameter<string[]>("want_node", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = wantNode });
        read.Parameters.Add(new NpgsqlParameter<long[]>("want_timestamp", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = wantTimestamp });
        batch.BatchCommands.Add(read);

        // The bookmarks in the same implicit transaction as the lines they lead past.
        var savedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (var bookmark in bookmarks)
        {
            var save = new NpgsqlBatchCommand(Schema.SaveBookmarkSql);
            save.Parameters.AddWithValue("node_key", bookmark.NodeKey);
            save.Parameters.AddWithValue("log_url", bookmark.LogUrl);
            save.Parameters.Add(new NpgsqlParameter("node_id", NpgsqlDbType.Text) { Value = (object?)bookmark.NodeId ?? DBNull.Value });
            save.Parameters.AddWithValue("byte_offset", bookmark.Offset);
            save.Parameters.Add(new NpgsqlParameter("prefix_hash", NpgsqlDbType.Bytea) { Value = (object?)bookmark.PrefixHash ?? DBNull.Value });
            save.Parameters.Add(new NpgsqlParameter("tail_hash", NpgsqlDbType.Bytea) { Value = (object?)bookmark.TailHash ?? DBNull.Value });
            save.Parameters.AddWithValue("tail_length", bookmark.TailLength);
            save.Parameters.AddWithValue("saved_at", savedAt);
            batch.BatchCommands.Add(save);
        }

        await using var reader = await batch.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            inserted.Add((reader.GetString(0), reader.GetInt64(1)));
        await reader.NextResultAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var row = Schema.ReadStored(reader);
            now[(row.Measurement.NodeId, row.Measurement.Timestamp)] = row;
        }
    }

    private static void AddArray<T>(NpgsqlBatchCommand command, string name, NpgsqlDbType type, int[] order, Measurement[] flat, Func<Measurement, T> field)
    {
        var values = new T[order.Length];
        for (var i = 0; i < order.Length; i++) values[i] = field(flat[order[i]]);
        command.Parameters.Add(new NpgsqlParameter<T[]>(name, NpgsqlDbType.Array | type) { TypedValue = values });
    }
}

/// <summary>Recognising, and recovering from, pooled connections that a restarted server has dropped.</summary>
internal static class PostgresConnections
{
    /// <summary>A connection-level failure (not an error in the statement): worth one more try on a fresh connection.</summary>
    public static bool IsBroken(Exception e) => e switch
    {
        PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("57P", StringComparison.Ordinal), // admin shutdown, crash, cannot connect now
        NpgsqlException => true,
        _ => false,
    };

    /// <summary>Closes the idle pooled connections of this connection string.</summary>
    public static void ClearPool(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        NpgsqlConnection.ClearPool(connection);
    }
}
