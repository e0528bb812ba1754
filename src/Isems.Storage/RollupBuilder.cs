using System.Text;
using Microsoft.Data.Sqlite;

namespace Isems.Storage;

/// <summary>
/// Migration step 5 on SQLite: builds the hourly and daily rollups of the rows already stored in one pass over the
/// rows in the unique index's (node, timestamp) order, so each node's hours and days arrive one after another and
/// only the current hour and day are held. The two <c>GROUP BY</c> statements it replaces sorted every row twice and
/// built the status OR from 28 <c>MAX(status &amp; bit)</c> terms (13 minutes for 10 M rows on 2 cores; the README's
/// migrate benchmark). The sums add up as SQLite's <c>SUM</c> does since 3.43 (Kahan-Babuska-Neumaier), so the
/// rollups are those the SQL built, bit for bit.
/// </summary>
internal static class RollupBuilder
{
    public static void BuildSqlite(SqliteConnection connection)
    {
        var keys = Rollups.Columns.Length;
        using var read = new SqliteStatement(connection,
            $"SELECT node_id, timestamp, status, {string.Join(", ", Rollups.Columns)} FROM {Schema.Table} " +
            $"INDEXED BY {Schema.UniqueIndex} ORDER BY node_id, timestamp");
        using var insert = new SqliteStatement(connection,
            $"INSERT INTO {Rollups.Table} (node_id, period, start, {Rollups.AggregateColumns}) " +
            $"VALUES ({string.Join(", ", Enumerable.Repeat("?", 5 + 3 * keys))})");
        var hour = new Running(keys, Rollups.Hour);
        var day = new Running(keys, Rollups.Day);
        var values = new double[keys];
        var node = new byte[64];
        var nodeLength = -1;
        var nodeId = "";
        while (read.Step())
        {
            var text = read.Text(0);
            if (nodeLength < 0 || !text.SequenceEqual(node.AsSpan(0, nodeLength)))
            {
                hour.Flush(insert, nodeId);
                day.Flush(insert, nodeId);
                if (node.Length < text.Length) node = new byte[text.Length * 2];
                text.CopyTo(node);
                nodeLength = text.Length;
                nodeId = Encoding.UTF8.GetString(text);
            }
            var timestamp = read.Int64(1);
            var status = read.Int32(2); // 0 for NULL, as the OR counted it
            for (var k = 0; k < keys; k++) values[k] = read.Double(3 + k);
            hour.Add(insert, nodeId, timestamp, status, values);
            day.Add(insert, nodeId, timestamp, status, values);
        }
        read.Reset();
        hour.Flush(insert, nodeId);
        day.Flush(insert, nodeId);
    }

    /// <summary>The aggregate of one node's current hour or day, written when the next one starts.</summary>
    private sealed class Running(int keys, int period)
    {
        private long _start;
        private long _count;
        private int _status;
        private readonly double[] _sum = new double[keys], _error = new double[keys];
        private readonly double[] _min = new double[keys], _max = new double[keys];

        public void Add(SqliteStatement insert, string node, long timestamp, int status, double[] values)
        {
            var start = Rollups.AlignDown(timestamp, period);
            if (_count > 0 && start != _start) Flush(insert, node);
            if (_count == 0)
            {
                _start = start;
                _status = 0;
                Array.Clear(_sum);
                Array.Clear(_error);
                values.CopyTo(_min, 0);
                values.CopyTo(_max, 0);
            }
            _status |= status;
            for (var k = 0; k < values.Length; k++)
            {
                var r = values[k];
                // SQLite's SUM over doubles (sqlite3.c, kahanBabuskaNeumaierStep): the running sum and its lost low bits.
                var s = _sum[k];
                var t = s + r;
                _error[k] += Math.Abs(s) > Math.Abs(r) ? (s - t) + r : (r - t) + s;
                _sum[k] = t;
                if (r < _min[k]) _min[k] = r;
                if (r > _max[k]) _max[k] = r;
            }
            _count++;
        }

        public void Flush(SqliteStatement insert, string node)
        {
            if (_count == 0) return;
            insert.Bind(1, node);
            insert.Bind(2, period);
            insert.Bind(3, _start);
            insert.Bind(4, _count);
            insert.Bind(5, _status);
            for (var k = 0; k < _sum.Length; k++)
            {
                var error = _error[k];
                insert.Bind(6 + 3 * k, double.IsFinite(error) ? _sum[k] + error : _sum[k]);
                insert.Bind(7 + 3 * k, _min[k]);
                insert.Bind(8 + 3 * k, _max[k]);
            }
            insert.Step();
            insert.Reset();
            _count = 0;
        }
    }
}
