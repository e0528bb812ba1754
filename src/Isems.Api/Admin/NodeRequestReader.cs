using System.Text.Json;
using Isems.Actors.Alerts;
using Isems.Actors.Polling;
using Isems.Actors.Registry;
using Isems.LineFormat;

namespace Isems.Api.Admin;

/// <summary>The fields of a node request, each checked: what an operator may set on a node.</summary>
public sealed record NodeFields(
    string? Id,
    Uri? Url,
    Change<int?>? IntervalSeconds,
    Change<int?>? TimeoutSeconds,
    bool? Enabled,
    Change<string?>? Note,
    string[]? MutedAlerts = null)
{
    public NodeChanges ToChanges() => new(Url, IntervalSeconds, TimeoutSeconds, Enabled, Note, MutedAlerts);
}

/// <summary>
/// Reads the JSON body of an add or a change field by field, so that every mistake gets a message in the operator's
/// terms (which field, what it must be) and all of them are reported at once, and nothing is applied unless all is right.
/// </summary>
public static class NodeRequestReader
{
    public const int MinIntervalSeconds = 10, MaxIntervalSeconds = 86_400;
    public const int MinTimeoutSeconds = 1, MaxTimeoutSeconds = 300;
    public const int MaxNoteLength = 500;

    private static readonly string[] Known = ["id", "url", "intervalSeconds", "timeoutSeconds", "enabled", "note", "mutedAlerts"];

    /// <summary>
    /// The checked fields, or the errors by field. <paramref name="routeId"/> is the node being changed (null for an add,
    /// where <c>id</c> and <c>url</c> are required).
    /// </summary>
    public static (NodeFields? Fields, Dictionary<string, string[]> Errors) Read(JsonElement body, string? routeId)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        void Fail(string field, string message) => errors[field] = [message];

        if (body.ValueKind != JsonValueKind.Object)
        {
            Fail("$", """The body must be a JSON object, for example {"id":"Router-1","url":"10.36.158.33"}.""");
            return (null, errors);
        }

        var seen = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in body.EnumerateObject())
        {
            if (!Known.Contains(property.Name))
                Fail(property.Name, $"Unknown field '{property.Name}'. The fields of a node are: {string.Join(", ", Known)}.");
            else if (!seen.TryAdd(property.Name, property.Value))
                Fail(property.Name, $"'{property.Name}' is given twice.");
        }

        string? id = null;
        if (seen.TryGetValue("id", out var idValue))
        {
            if (Text(idValue) is not { } given || !LineParser.IsValidNodeId(given))
                Fail("id", "'id' must be the node's id as its lines carry it: text of 1 to 64 characters, without '/' or control characters.");
            else if (routeId is not null && given != routeId)
                Fail("id", $"'id' cannot be changed: it is the node's identity. Remove '{routeId}' and add the node under its new id.");
            else id = given;
        }
        else if (routeId is null) Fail("id", "'id' is required: the node's id as its lines carry it, for example \"Router-1\".");

        Uri? url = null;
        if (seen.TryGetValue("url", out var urlValue))
        {
            if (Text(urlValue) is not { } given || !NodeAddress.TryParse(given, out url))
                Fail("url", "'url' must be the node's log as an http or https URL, or a bare IP or host name " +
                            $"(then http://<host>{NodeAddress.DefaultLogPath} is polled).");
        }
        else if (routeId is null) Fail("url", "'url' is required: where the node serves its log, for example \"10.36.158.33\".");

        var interval = ReadWholeNumber(seen, "intervalSeconds", MinIntervalSeconds, MaxIntervalSeconds,
            "a whole number of seconds from 10 to 86400 (one day), or null for the collector's POLL_INTERVAL_SECONDS", Fail);
        var timeout = ReadWholeNumber(seen, "timeoutSeconds", MinTimeoutSeconds, MaxTimeoutSeconds,
            "a whole number of seconds from 1 to 300, or null for the collector's POLL_TIMEOUT_SECONDS", Fail);
        if (interval?.Value is { } i && timeout?.Value is { } t && t >= i)
            Fail("timeoutSeconds", $"'timeoutSeconds' ({t}) must be shorter than 'intervalSeconds' ({i}).");

        bool? enabled = null;
        if (seen.TryGetValue("enabled", out var enabledValue))
        {
            if (enabledValue.ValueKind is JsonValueKind.True or JsonValueKind.False) enabled = enabledValue.GetBoolean();
            else Fail("enabled", "'enabled' must be true or false.");
        }

        Change<string?>? note = null;
        if (seen.TryGetValue("note", out var noteValue))
        {
            if (noteValue.ValueKind == JsonValueKind.Null) note = new Change<string?>(null);
            else if (Text(noteValue) is not { } given || given.Length > MaxNoteLength)
                Fail("note", $"'note' must be text of at most {MaxNoteLength} characters, or null.");
            else note = new Change<string?>(given);
        }

        string[]? muted = null;
        if (seen.TryGetValue("mutedAlerts", out var mutedValue))
        {
            var names = AlertRule.All.Select(r => r.Name).ToArray();
            var valid = $"the alert names are: {string.Join(", ", names)}";
            if (mutedValue.ValueKind == JsonValueKind.Null) muted = [];
            else if (mutedValue.ValueKind != JsonValueKind.Array || mutedValue.EnumerateArray().Any(v => Text(v) is null))
                Fail("mutedAlerts", $"'mutedAlerts' must be a list of alert names, for example [\"BatteryLow\"], or [] to mute none; {valid}.");
            else
            {
                var given = mutedValue.EnumerateArray().Select(v => Text(v)!).ToList();
                var unknown = given.Where(n => !names.Contains(n, StringComparer.Ordinal)).Distinct().ToList();
                if (unknown.Count > 0)
                    Fail("mutedAlerts", $"'mutedAlerts' names no alert called {string.Join(", ", unknown.Select(n => $"'{n}'"))}; {valid}.");
                else muted = names.Where(given.Contains).ToArray(); // once each, in the rules' order
            }
        }

        return errors.Count > 0 ? (null, errors) : (new NodeFields(id, url, interval, timeout, enabled, note, muted), errors);
    }

    /// <summary>
    /// A JSON string's text, or null when the value is not a string or is not text at all: JSON may escape half of a
    /// UTF-16 surrogate pair ("\ud800"), which no .NET string can be read from.
    /// </summary>
    private static string? Text(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String) return null;
        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static Change<int?>? ReadWholeNumber(
        Dictionary<string, JsonElement> seen, string field, int min, int max, string rule, Action<string, string> fail)
    {
        if (!seen.TryGetValue(field, out var value)) return null;
        if (value.ValueKind == JsonValueKind.Null) return new Change<int?>(null);
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= min && number <= max)
            return new Change<int?>(number);
        fail(field, $"'{field}' must be {rule}; it is {value.GetRawText()}.");
        return null;
    }
}
