using Isems.Actors.Nodes;

namespace Isems.Api.Json;

/// <summary>
/// The body of <c>/measurements/latest</c>, built once per change of the fleet's latest measurements rather than once
/// per request. A body is known by the fleet's version and by how many of its nodes the inactivity cutoff leaves out:
/// for one version the cutoff only moves forward, so that count names the set exactly.
/// </summary>
public sealed class LatestJsonCache
{
    private sealed record Entry(long Version, bool All, int LeftOut, Representation Body);

    private readonly Lock _gate = new();
    private Entry? _all, _active;

    public Representation Body(FleetLatest fleet, bool includeInactive, long cutoffUnixSeconds)
    {
        var leftOut = 0;
        if (!includeInactive)
            foreach (var m in fleet.Measurements)
                if (m.Measurement.Timestamp <= cutoffUnixSeconds) leftOut++;

        lock (_gate)
        {
            var cached = includeInactive ? _all : _active;
            if (cached is not null && cached.Version == fleet.Version && cached.LeftOut == leftOut) return cached.Body;
        }

        var rows = includeInactive ? fleet.Measurements : fleet.Measurements.Where(m => m.Measurement.Timestamp > cutoffUnixSeconds);
        var entry = new Entry(fleet.Version, includeInactive, leftOut, new Representation(MeasurementJsonWriter.ToUtf8(rows)));
        lock (_gate)
        {
            if (includeInactive) _all = entry;
            else _active = entry;
        }
        return entry.Body;
    }
}
