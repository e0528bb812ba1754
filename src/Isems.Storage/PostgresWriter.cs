using Isems.LineFormat;
using Npgsql;
using NpgsqlTypes;

namespace Isems.Storage;

/// <summary>How the PostgreSQL writer sends a batch (benchmarks compare the two; the collector uses the defaults).</summary>
/// <param name="Connections">
/// Writer connections, each its own transaction over its own share of a batch's nodes. The server runs one backend
/// (one core) per connection, and one connection's inserts were the limit of a first poll cycle on PostgreSQL.
/// </param>
/// <param name="Copy">
/// true: binary <c>COPY</c> into a per-connection staging table, then one insert from it. false: the earlier path,
/// one statement over <c>unnest</c> of array parameters with <c>ON CONFLICT DO NOTHING</c> (kept to measure against).
/// </param>
/// <param name="Direct">
/// true: a connection whose rows are all newer than its nodes' newest stored rows copies them straight into
/// <c>measurements</c> (no staging table, no probe per row); false: always through the staging table (kept to measure
/// against).
/// </param>
/// <param name="ShareFromRows">
/// A batch of fewer rows goes over one connection: a second transaction (its round trips and commit) is worth it only
/// for thousands of rows, and one connection keeps a small batch's rows together in the table's pages.
/// </param>
internal sealed record PostgresWriteOptions(int Connections = 2, bool Copy = true, int ShareFromRows = 5_000, bool Direct = true)
{
    public static readonly PostgresWriteOptions Default = new();

    /// <summary>The path before the staging table: one connection, <c>unnest</c> with <c>ON CONFLICT DO NOTHING</c>.</summary>
    public static readonly PostgresWriteOptions Unnest = new(1, false);
}

/// <summary>
/// The PostgreSQL write path. Duplicates inside the batch are dropped before sending: the first occurrence in batch
/// order is the one stored, later ones count as duplicates. The rows are sent in key order, so concurrent writers (other
/// collector processes, or this writer's other connections) take the index and rollup locks in the same order and
/// cannot deadlock each other.
/// <para>
/// The default path: a batch's nodes are shared among the writer connections (every line of a node, and its bookmark,
/// on one of them), and each connection, in one transaction of its own:
/// <list type="bullet">
/// <item>looks up its nodes' newest stored timestamps (one index seek per node). When every row is newer than its
/// node's newest stored row (a first cycle, a log read on from its bookmark), none can be stored yet: the rows are
/// copied straight into <c>measurements</c> (binary <c>COPY</c>), with no staging table and no probe per row;</item>
/// <item>otherwise copies them into its <c>TEMP</c> staging table (<c>ON COMMIT DELETE ROWS</c>) and inserts those not
/// yet stored, getting their keys back;</item>
/// <item>adds the hourly and daily aggregates of exactly the rows it inserted, computed here, to the rollups (one
/// upsert in key order: a few rows per node and hour, where grouping every inserted row on the server cost it more
/// than the insert);</item>
/// <item>reads each node's newest row back and saves the bookmarks.</item>
/// </list>
/// The batch is answered once every connection has committed.
/// </para>
/// <para>
/// The staged insert skips stored rows with <c>NOT EXISTS</c> rather than <c>ON CONFLICT DO NOTHING</c>: the latter's
/// speculative insertion cost the server more than the insert itself (35 s of CPU against 14 s for 3.66 M rows). When
/// another writer inserts one of the same rows at the same moment, the unique index refuses the direct COPY or the
/// plain insert (after waiting for that writer's commit); then the transaction is run again through the staging table
/// with <c>ON CONFLICT DO NOTHING</c>, which waits for the other writer and skips its rows. Either way a row is stored,
/// counted and added to the rollups once.
/// </para>
/// </summary>
internal sealed class PostgresWriter : IDisposable
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

    private const string StagingTable = "isems_staging";

    /// <summary>The staging table's columns: the measurement's 19 fields in line order, as <c>COPY</c> writes them.</summary>
    private static readonly (string Name, NpgsqlDbType Type, string Sql)[] StagingColumns =
    [
        ("node_id", NpgsqlDbType.Text, "text COLLATE \"C\" NOT NULL"),
        ("isems_revision", NpgsqlDbType.Text, "text NOT NULL"),
        ("timestamp", NpgsqlDbType.Bigint, "bigint NOT NULL"),
        ("firmware_version", NpgsqlDbType.Text, "text NOT NULL"),
        ("time_to_shutdown", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("power_save_level", NpgsqlDbType.Integer, "integer NOT NULL"),
        ("open_circuit_voltage", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("mpp_voltage", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("battery_voltage", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("battery_charge_estimate", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("battery_health_estimate", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("battery_temperature", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("low_voltage_disconnect_voltage", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("temperature_corrected_voltage", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("rate_battery_capacity", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("rated_solar_module_capacity", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("latitude", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("longitude", NpgsqlDbType.Double, "double precision NOT NULL"),
        ("status", NpgsqlDbType.Integer, "integer NULL"),
    ];

    /// <summary>
    /// One per connection (a TEMP table lives in its session), emptied by every commit, so several writers in several
    /// processes share nothing but <c>measurements</c> and the rollups.
    /// </summary>
    private static readonly string CreateStagingSql =
        $"CREATE TEMP TABLE IF NOT EXISTS {StagingTable} ({string.Join(", ", StagingColumns.Select(c => $"{c.Name} {c.Sql}"))}) ON COMMIT DELETE ROWS";

    /// <summary>
    /// The writer connection's session: its staging table, and index probes for the insert's <c>NOT EXISTS</c>. The
    /// planner's estimate of <c>measurements</c> lags far behind while a first cycle fills it (autoanalyze runs now and
    /// then), and with it a merge or hash anti join read the whole table for every batch: 196 s instead of 40 s for the
    /// first cycle of 1,000 full logs. One probe per staged row is right whatever the table's size; no other statement
    /// of this connection joins.
    /// </summary>
    private static readonly string SessionSql =
        $"{CreateStagingSql}; SET enable_hashjoin = off; SET enable_mergejoin = off";

    private static readonly string CopySql = $"COPY {StagingTable} ({Schema.Columns}) FROM STDIN (FORMAT BINARY)";

    /// <summary>Rows of the staging table not stored yet, in key order; plain: a row another writer stored meanwhile fails it.</summary>
    private static readonly string StagedInsertSql = $"""
        INSERT INTO {Schema.Table} ({Schema.Columns})
        SELECT * FROM {StagingTable} s
        WHERE NOT EXISTS (SELECT 1 FROM {Schema.Table} m WHERE m.node_id = s.node_id AND m.timestamp = s.timestamp)
        ORDER BY s.node_id, s.timestamp
        RETURNING node_id, timestamp
        """;

    /// <summary>The same, waiting for and skipping rows that other writers insert at the same moment.</summary>
    private static readonly string StagedInsertOrIgnoreSql =
        StagedInsertSql.Replace("RETURNING", "ON CONFLICT (node_id, timestamp) DO NOTHING\nRETURNING", StringComparison.Ordinal);

    /// <summary>
    /// Straight into the table: for a connection's rows that are all newer than their nodes' newest stored rows, so none
    /// can be stored yet unless another writer is storing it right now, and then the unique index refuses the COPY.
    /// </summary>
    private static readonly string DirectCopySql = $"COPY {Schema.Table} ({Schema.Columns}) FROM STDIN (FORMAT BINARY)";

    /// <summary>Each node's newest stored timestamp (NULL: none), one seek down the unique index per node.</summary>
    private static readonly string NewestStoredSql = $"""
        SELECT n.node_id, (SELECT MAX(m.timestamp) FROM {Schema.Table} m WHERE m.node_id = n.node_id)
        FROM unnest(@nodes) AS n (node_id)
        """;

    /// <summary>
    /// Adds a batch's hourly and daily aggregates, computed here from the rows it inserted, to the stored rollups: a few
    /// rows per node and hour rather than the server grouping every inserted row (sent in key order, for the locks).
    /// </summary>
    private static readonly string RollupDeltaSql = BuildRollupDeltaSql();

    private static string BuildRollupDeltaSql()
    {
        var names = Rollups.ParameterNames().ToArray();
        var upsert = Rollups.UpsertSql(DatabaseKind.PostgreSql, n => "@" + n);
        return $"INSERT INTO {Rollups.Table} ({string.Join(", ", names)}) SELECT * FROM unnest({string.Join(", ", names.Select(n => "@" + n))}) " +
               upsert[upsert.IndexOf("ON CONFLICT", StringComparison.Ordinal)..];
    }

    private static readonly string NewestSql = $"""
        SELECT {Schema.SelectColumns} FROM {Schema.Table}
        WHERE (node_id, timestamp) IN (SELECT * FROM unnest(@want_node, @want_timestamp))
        """;

    private const string UniqueViolation = "23505";

    private readonly string _connectionString;
    private readonly string _insertSql;
    private readonly bool _maintainRollups;
    private readonly PostgresWriteOptions _options;
    private readonly Lane[] _lanes;

    public PostgresWriter(string connectionString, bool maintainRollups = true, PostgresWriteOptions? options = null)
    {
        _connectionString = connectionString;
        _options = options ?? PostgresWriteOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Connections, 1);
        _insertSql = maintainRollups ? WithRollups(PlainInsertSql) : PlainInsertSql;
        _maintainRollups = maintainRollups;
        _lanes = Enumerable.Range(0, _options.Connections).Select(_ => new Lane()).ToArray();
    }

    /// <summary>
    /// The earlier path's insert, and the hourly and daily rollups of the rows it inserted (and only those) added to the
    /// stored ones, in one statement (and so one transaction): a data-modifying CTE hands the inserted rows to the rollup
    /// upsert, which runs in key order after the insert.
    /// </summary>
    private static string WithRollups(string insertSql)
    {
        var upsert = Rollups.UpsertSql(DatabaseKind.PostgreSql, n => "@" + n);
        return $"""
            WITH inserted AS (
                {insertSql.Replace("RETURNING node_id, timestamp", "RETURNING node_id, timestamp, status, " + string.Join(", ", Rollups.Columns), StringComparison.Ordinal)}
            ), rolled AS (
                INSERT INTO {Rollups.Table} (node_id, period, start, {Rollups.AggregateColumns})
                SELECT node_id, p.period, timestamp / p.period * p.period, {Rollups.Aggregates(DatabaseKind.PostgreSql)}
                FROM inserted CROSS JOIN (VALUES (3600), (86400)) AS p (period)
                GROUP BY node_id, p.period, timestamp / p.period * p.period
                ORDER BY 1, 2, 3
                {upsert[upsert.IndexOf("ON CONFLICT", StringComparison.Ordinal)..]}
            )
            SELECT node_id, timestamp FROM inserted
            """;
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

        // Sent in key order: concurrent writers then take the index locks in the same order and cannot deadlock each other.
        var order = new int[unique];
        for (int i = 0, u = 0; i < total; i++)
            if (first[i]) order[u++] = i;
        SortByKey(order, flat);

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

        var inserted = new bool[total]; // by row of flat
        var now = new Dictionary<(string, long), StoredMeasurement>(wantNode.Count);
        if (_options.Copy)
            await WriteStagedAsync(groups, order, flat, wantNode, wantTimestamp, bookmarks, inserted, now, ct);
        else
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var keys = new HashSet<(string, long)>(unique);
                    await ExecuteUnnestAsync(order, flat, wantNode.ToArray(), wantTimestamp.ToArray(), bookmarks, keys, now, ct);
                    foreach (var row in order) inserted[row] = keys.Contains((flat[row].NodeId, flat[row].Timestamp));
                    break;
                }
                catch (Exception e) when (attempt == 1 && PostgresConnections.IsBroken(e))
                {
                    // A pooled connection the server dropped (it restarted): once more on a fresh one. The insert is
                    // idempotent, so even a first attempt that did commit only makes its lines count as duplicates.
                    PostgresConnections.ClearPool(_connectionString);
                    now.Clear();
                }
            }

        k = 0;
        for (var g = 0; g < groups.Count; g++)
        {
            var lines = groups[g];
            var stored = 0;
            for (var i = 0; i < lines.Count; i++, k++)
                if (first[k] && inserted[k])
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

    /// <summary>
    /// Sorts rows by (node, timestamp), the nodes ordinal. The nodes are ranked once, and the rows sorted by (rank,
    /// timestamp): a batch holds a few nodes' whole logs, and comparing node ids for every pair of rows cost more.
    /// </summary>
    private static void SortByKey(int[] order, Measurement[] flat)
    {
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var row in order) rank.TryAdd(flat[row].NodeId, 0);
        var names = rank.Keys.ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++) rank[names[i]] = i;
        var keys = new (int Rank, long Timestamp)[order.Length];
        var sorted = true;
        for (var i = 0; i < order.Length; i++)
        {
            keys[i] = (rank[flat[order[i]].NodeId], flat[order[i]].Timestamp);
            if (i > 0 && keys[i].CompareTo(keys[i - 1]) < 0) sorted = false;
        }
        if (!sorted) Array.Sort(keys, order);
    }

    /// <summary>
    /// Shares the batch's nodes among the connections, runs their transactions at once, and collects what each inserted
    /// and read back. A bookmark must commit with its log's lines: it goes with the node its lines carry, which is safe
    /// when every group holds one node's lines (a poll's log); a batch where that is not so goes whole to one connection.
    /// </summary>
    private async Task WriteStagedAsync(IReadOnlyList<IReadOnlyList<Measurement>> groups, int[] order, Measurement[] flat,
        List<string> wantNode, List<long> wantTimestamp, IReadOnlyList<LogBookmark> bookmarks,
        bool[] inserted, Dictionary<(string, long), StoredMeasurement> now, CancellationToken ct)
    {
        var laneOfNode = AssignLanes(groups, order, flat, bookmarks);
        var work = new LaneWork[_lanes.Length];
        for (var lane = 0; lane < work.Length; lane++) work[lane] = new LaneWork();
        foreach (var row in order) work[laneOfNode(flat[row].NodeId)].Rows.Add(row);
        for (var i = 0; i < wantNode.Count; i++)
        {
            var w = work[laneOfNode(wantNode[i])];
            w.WantNode.Add(wantNode[i]);
            w.WantTimestamp.Add(wantTimestamp[i]);
        }
        foreach (var bookmark in bookmarks) work[laneOfNode(bookmark.NodeId)].Bookmarks.Add(bookmark);

        var busy = Enumerable.Range(0, _lanes.Length).Where(lane => !work[lane].IsEmpty).ToArray();
        if (busy.Length == 1)
            await RunLaneAsync(_lanes[busy[0]], work[busy[0]], flat, ct);
        else
            await Task.WhenAll(busy.Select(lane => Task.Run(() => RunLaneAsync(_lanes[lane], work[lane], flat, ct), ct)));
        foreach (var w in work)
        {
            for (var position = 0; position < w.Rows.Count; position++)
                if (w.Inserted[position]) inserted[w.Rows[position]] = true;
            foreach (var (key, row) in w.Now) now[key] = row;
        }
    }

    /// <summary>
    /// Which connection writes each node: the nodes, largest first, each to the connection with the fewest rows so far
    /// (a first cycle's batch holds a few whole logs). One connection for all when bookmarks cannot be matched to nodes.
    /// </summary>
    private Func<string?, int> AssignLanes(IReadOnlyList<IReadOnlyList<Measurement>> groups, int[] order, Measurement[] flat,
        IReadOnlyList<LogBookmark> bookmarks)
    {
        if (_lanes.Length == 1 || order.Length < _options.ShareFromRows) return static _ => 0;
        var oneNodeEach = true;
        foreach (var group in groups)
            for (var i = 1; i < group.Count && oneNodeEach; i++)
                if (!string.Equals(group[i].NodeId, group[0].NodeId, StringComparison.Ordinal)) oneNodeEach = false;
        foreach (var bookmark in bookmarks)
            if (bookmark.NodeId is null) oneNodeEach = false;
        if (!oneNodeEach) return static _ => 0;

        var rowsOfNode = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var row in order) rowsOfNode[flat[row].NodeId] = rowsOfNode.GetValueOrDefault(flat[row].NodeId) + 1;
        foreach (var group in groups)
            if (group.Count > 0) rowsOfNode.TryAdd(group[0].NodeId, 0);
        foreach (var bookmark in bookmarks) rowsOfNode.TryAdd(bookmark.NodeId!, 0);
        var load = new long[_lanes.Length];
        var laneOf = new Dictionary<string, int>(rowsOfNode.Count, StringComparer.Ordinal);
        foreach (var (node, rows) in rowsOfNode.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var lane = 0;
            for (var l = 1; l < load.Length; l++)
                if (load[l] < load[lane]) lane = l;
            laneOf[node] = lane;
            load[lane] += rows + 1; // + 1: nodes without new rows (a bookmark, a read) are spread too
        }
        return node => node is not null && laneOf.TryGetValue(node, out var lane) ? lane : 0;
    }

    /// <summary>One connection's share of a batch, and what came of it.</summary>
    private sealed class LaneWork
    {
        public readonly List<int> Rows = [];
        public readonly List<string> WantNode = [];
        public readonly List<long> WantTimestamp = [];
        public readonly List<LogBookmark> Bookmarks = [];
        /// <summary>By position in <see cref="Rows"/>: whether this connection's transaction inserted the row.</summary>
        public bool[] Inserted = [];
        public int InsertedCount;
        public readonly Dictionary<(string, long), StoredMeasurement> Now = [];

        public bool IsEmpty => Rows.Count == 0 && WantNode.Count == 0 && Bookmarks.Count == 0;
    }

    /// <summary>A writer connection of its own, kept open: its staging table lives as long as its session.</summary>
    private sealed class Lane
    {
        public NpgsqlConnection? Connection;

        public void Drop()
        {
            Connection?.Dispose();
            Connection = null;
        }
    }

    private async Task RunLaneAsync(Lane lane, LaneWork work, Measurement[] flat, CancellationToken ct)
    {
        // After a refused insert (another writer stored some of these rows meanwhile), through the staging table,
        // skipping what is there; the direct COPY is only for a first attempt.
        var ignoreConflicts = false;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ExecuteStagedAsync(lane, work, flat, ignoreConflicts, ct);
                return;
            }
            catch (PostgresException e) when (e.SqlState == UniqueViolation && !ignoreConflicts)
            {
                // Another writer stored one of these rows since this insert looked: again, waiting for and skipping its rows.
                ignoreConflicts = true;
            }
            catch (Exception e) when (attempt == 1 && PostgresConnections.IsBroken(e))
            {
                // The server dropped the connection (it restarted): once more on a fresh one. The insert is idempotent,
                // so even a first attempt that did commit only makes its lines count as duplicates.
                lane.Drop();
                PostgresConnections.ClearPool(_connectionString);
            }
            catch
            {
                lane.Drop(); // in an unknown state: the next batch opens a fresh one
                throw;
            }
            finally
            {
                if (lane.Connection is { State: not System.Data.ConnectionState.Open }) lane.Drop();
            }
            work.Now.Clear();
        }
    }

    private async Task ExecuteStagedAsync(Lane lane, LaneWork work, Measurement[] flat, bool ignoreConflicts, CancellationToken ct)
    {
        if (lane.Connection is null)
        {
            var connection = new NpgsqlConnection(_connectionString);
            try
            {
                await connection.OpenAsync(ct);
                await using var create = new NpgsqlCommand(SessionSql, connection);
                await create.ExecuteNonQueryAsync(ct);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
            lane.Connection = connection;
        }
        var conn = lane.Connection;
        await using var transaction = await conn.BeginTransactionAsync(ct);
        work.Inserted = new bool[work.Rows.Count];
        work.InsertedCount = 0;
        var direct = work.Rows.Count > 0 && _options.Direct && !ignoreConflicts && await AllNewerThanStoredAsync(conn, transaction, work, flat, ct);
        if (work.Rows.Count > 0)
        {
            await using var importer = await conn.BeginBinaryImportAsync(direct ? DirectCopySql : CopySql, ct);
            // The synchronous writes fill Npgsql's buffer and send it when full (to the server's socket, which takes it
            // at once); the async ones cost a state machine per field, 70 million of them in a first poll cycle.
            foreach (var row in work.Rows)
            {
                var m = flat[row];
                importer.StartRow();
                importer.Write(m.NodeId, NpgsqlDbType.Text);
                importer.Write(m.IsemsRevision, NpgsqlDbType.Text);
                importer.Write(m.Timestamp, NpgsqlDbType.Bigint);
                importer.Write(m.OpenMpptFirmwareVersion, NpgsqlDbType.Text);
                importer.Write(m.TimeToShutdown, NpgsqlDbType.Double);
                importer.Write(m.PowerSaveLevel, NpgsqlDbType.Integer);
                importer.Write(m.OpenCircuitVoltage, NpgsqlDbType.Double);
                importer.Write(m.MppVoltage, NpgsqlDbType.Double);
                importer.Write(m.BatteryVoltage, NpgsqlDbType.Double);
                importer.Write(m.BatteryChargeEstimate, NpgsqlDbType.Double);
                importer.Write(m.BatteryHealthEstimate, NpgsqlDbType.Double);
                importer.Write(m.BatteryTemperature, NpgsqlDbType.Double);
                importer.Write(m.LowVoltageDisconnectVoltage, NpgsqlDbType.Double);
                importer.Write(m.TemperatureCorrectedVoltage, NpgsqlDbType.Double);
                importer.Write(m.RateBatteryCapacity, NpgsqlDbType.Double);
                importer.Write(m.RatedSolarModuleCapacity, NpgsqlDbType.Double);
                importer.Write(m.Latitude, NpgsqlDbType.Double);
                importer.Write(m.Longitude, NpgsqlDbType.Double);
                if (m.Status is { } status) importer.Write(status, NpgsqlDbType.Integer);
                else importer.WriteNull();
            }
            await importer.CompleteAsync(ct);
        }

        if (work.Rows.Count > 0 && !direct)
        {
            // The staged rows not stored yet go in; the keys come back, for the counts and the rollups.
            await using var insert = new NpgsqlCommand(ignoreConflicts ? StagedInsertOrIgnoreSql : StagedInsertSql, conn, transaction);
            var position = new Dictionary<(string, long), int>(work.Rows.Count);
            for (var p = 0; p < work.Rows.Count; p++) position[(flat[work.Rows[p]].NodeId, flat[work.Rows[p]].Timestamp)] = p;
            await using var inserted = await insert.ExecuteReaderAsync(ct);
            while (await inserted.ReadAsync(ct))
            {
                work.Inserted[position[(inserted.GetString(0), inserted.GetInt64(1))]] = true;
                work.InsertedCount++;
            }
        }
        else
        {
            Array.Fill(work.Inserted, true); // COPY stores every row or fails whole
            work.InsertedCount = work.Rows.Count;
        }

        await using var batch = new NpgsqlBatch(conn, transaction);
        if (_maintainRollups && work.InsertedCount > 0) batch.BatchCommands.Add(RollupDelta(work, flat));
        var read = new NpgsqlBatchCommand(NewestSql);
        read.Parameters.Add(new NpgsqlParameter<string[]>("want_node", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = work.WantNode.ToArray() });
        read.Parameters.Add(new NpgsqlParameter<long[]>("want_timestamp", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = work.WantTimestamp.ToArray() });
        batch.BatchCommands.Add(read);
        AddBookmarks(batch, work.Bookmarks);

        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            // The rollup upsert returns no rows: Npgsql's reader passes over it to the first statement that does.
            while (await reader.ReadAsync(ct))
            {
                var row = Schema.ReadStored(reader);
                work.Now[(row.Measurement.NodeId, row.Measurement.Timestamp)] = row;
            }
            while (await reader.NextResultAsync(ct))
            {
            }
        }
        await transaction.CommitAsync(ct);
    }

    /// <summary>
    /// Whether every row of this connection's share is newer than its node's newest stored row: then none of them can
    /// be stored already, and the rows need no probe each. A row another writer inserts after this look makes the COPY
    /// fail on the unique index, and the share is written again through the staging table.
    /// </summary>
    private static async Task<bool> AllNewerThanStoredAsync(NpgsqlConnection conn, NpgsqlTransaction transaction, LaneWork work,
        Measurement[] flat, CancellationToken ct)
    {
        // The rows are in key order: a node's first row is its oldest.
        var oldest = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var row in work.Rows) oldest.TryAdd(flat[row].NodeId, flat[row].Timestamp);
        await using var probe = new NpgsqlCommand(NewestStoredSql, conn, transaction);
        probe.Parameters.Add(new NpgsqlParameter<string[]>("nodes", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = oldest.Keys.ToArray() });
        await using var reader = await probe.ExecuteReaderAsync(ct);
        var allNewer = true;
        while (await reader.ReadAsync(ct))
            if (!reader.IsDBNull(1) && oldest[reader.GetString(0)] <= reader.GetInt64(1))
                allNewer = false;
        return allNewer;
    }

    /// <summary>
    /// The hourly and daily aggregates of the rows this connection inserted (the writers' one <see cref="RollupAccumulator"/>),
    /// as one upsert in key order.
    /// </summary>
    private static NpgsqlBatchCommand RollupDelta(LaneWork work, Measurement[] flat)
    {
        var accumulator = new RollupAccumulator();
        for (var p = 0; p < work.Rows.Count; p++)
            if (work.Inserted[p]) accumulator.Add(flat[work.Rows[p]]);
        var deltas = accumulator.Drain().ToList(); // in key order
        var keys = Rollups.KeyCount;
        var nodes = new string[deltas.Count];
        var period = new int[deltas.Count];
        var start = new long[deltas.Count];
        var count = new long[deltas.Count];
        var status = new int[deltas.Count];
        var aggregates = new double[3 * keys][];
        for (var a = 0; a < aggregates.Length; a++) aggregates[a] = new double[deltas.Count];
        for (var i = 0; i < deltas.Count; i++)
        {
            var (key, aggregate) = deltas[i];
            (nodes[i], period[i], start[i], count[i], status[i]) = (key.Node, key.Period, key.Start, aggregate.Count, aggregate.Status);
            for (var k = 0; k < keys; k++)
            {
                aggregates[3 * k][i] = aggregate.Sum[k];
                aggregates[3 * k + 1][i] = aggregate.Min[k];
                aggregates[3 * k + 2][i] = aggregate.Max[k];
            }
        }
        var command = new NpgsqlBatchCommand(RollupDeltaSql);
        var names = Rollups.ParameterNames().ToArray();
        command.Parameters.Add(new NpgsqlParameter<string[]>(names[0], NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = nodes });
        command.Parameters.Add(new NpgsqlParameter<int[]>(names[1], NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = period });
        command.Parameters.Add(new NpgsqlParameter<long[]>(names[2], NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = start });
        command.Parameters.Add(new NpgsqlParameter<long[]>(names[3], NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = count });
        command.Parameters.Add(new NpgsqlParameter<int[]>(names[4], NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = status });
        for (var a = 0; a < aggregates.Length; a++)
            command.Parameters.Add(new NpgsqlParameter<double[]>(names[5 + a], NpgsqlDbType.Array | NpgsqlDbType.Double) { TypedValue = aggregates[a] });
        return command;
    }

    /// <summary>The bookmarks in the same transaction as the lines they lead past.</summary>
    private static void AddBookmarks(NpgsqlBatch batch, IEnumerable<LogBookmark> bookmarks)
    {
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
    }

    private async Task ExecuteUnnestAsync(int[] order, Measurement[] flat, string[] wantNode, long[] wantTimestamp, IReadOnlyList<LogBookmark> bookmarks,
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
        AddBookmarks(batch, bookmarks);

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

    /// <summary>Closes the writer connections.</summary>
    public void Dispose()
    {
        foreach (var lane in _lanes) lane.Drop();
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
