using System.Data.Common;

namespace Isems.Storage;

/// <summary>One alert of one node as stored: firing (no end) or resolved. Instants in Unix milliseconds.</summary>
public sealed record StoredAlert(
    string NodeId, string AlertName, string Severity, long StartsAtMs, long? EndsAtMs, string Summary);

public sealed partial class MeasurementStore
{
    /// <summary>
    /// Saves alert transitions in one transaction: a firing alert is inserted, its resolution sets its end. Keyed by
    /// (node, alert name, startsAt), so saving the same transition twice is harmless (a retry after a lost answer).
    /// </summary>
    public async Task SaveAlertsAsync(IReadOnlyList<StoredAlert> alerts, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (alerts.Count == 0) return;
        await RunAsync(async db =>
        {
            var connection = db.OpenDbConnection();
            await using var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Schema.SaveAlertSql;
            var p = new[] { "node_id", "alertname", "severity", "starts_at", "ends_at", "summary" }.Select(name =>
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = "@" + name;
                command.Parameters.Add(parameter);
                return parameter;
            }).ToArray();
            foreach (var a in alerts)
            {
                p[0].Value = a.NodeId;
                p[1].Value = a.AlertName;
                p[2].Value = a.Severity;
                p[3].Value = a.StartsAtMs;
                p[4].Value = a.EndsAtMs is { } end ? end : DBNull.Value;
                p[5].Value = a.Summary;
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return 0;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>The alerts still firing, and those resolved at or after <paramref name="resolvedSinceMs"/>.</summary>
    public async Task<IReadOnlyList<StoredAlert>> AlertsAsync(long resolvedSinceMs, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(async db =>
        {
            await using var command = db.OpenDbConnection().CreateCommand();
            command.CommandText = Schema.AlertsSql;
            var since = command.CreateParameter();
            since.ParameterName = "@since";
            since.Value = resolvedSinceMs;
            command.Parameters.Add(since);
            return await ReadAlertsAsync(command, ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>One node's alerts still firing (for its actor, started after start-up).</summary>
    public async Task<IReadOnlyList<StoredAlert>> FiringAlertsAsync(string nodeId, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await RunAsync(async db =>
        {
            await using var command = db.OpenDbConnection().CreateCommand();
            command.CommandText = Schema.NodeFiringAlertsSql;
            var node = command.CreateParameter();
            node.ParameterName = "@node";
            node.Value = nodeId;
            command.Parameters.Add(node);
            return await ReadAlertsAsync(command, ct).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<StoredAlert>> ReadAlertsAsync(DbCommand command, CancellationToken ct)
    {
        var alerts = new List<StoredAlert>();
        await using DbDataReader reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
            alerts.Add(new StoredAlert(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3),
                reader.IsDBNull(4) ? null : reader.GetInt64(4), reader.GetString(5)));
        return alerts;
    }
}
